"""Local actions from the command line: posting, following, likes, boosts and blocks.

Until the client API lands, these commands let an admin act as a local account:
``fedisora post create alice "hello"``, ``fedisora follow alice @bob@example.com`` …
Each command runs in one database transaction and commits once; the federation
work it causes (deliveries to other servers, local inbox processing) is only
*queued* as background jobs, which a running ``fedisora serve`` or
``fedisora worker`` process carries out.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import sqlalchemy as sa
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..accounts.service import find_account
from ..db.models import Actor, Follow, FollowState, Job, JobState, Status, Visibility
from ..federation.outbox import DELIVER, PROCESS_INBOX
from ..federation.remote import RemoteError, resolve_handle
from ..processing import follows, interactions, posts
from ..processing.errors import ActionError
from ..state import AppState
from .common import add_config_option, config_from, run
from .errors import CLIError

T = TypeVar("T")
BARE_NAME = re.compile(r"@?[A-Za-z0-9_][A-Za-z0-9_.-]*")  # a local username without @host
Action = Callable[[AsyncSession, AppState, Actor], Awaitable[T]]

QUEUED_NOTE = (
    "These commands only queue the federation work (deliveries to other servers and "
    "local inbox processing) as background jobs: a running `fedisora serve` or "
    "`fedisora worker` on this instance carries it out."
)


# ---- running one action -----------------------------------------------------------------------


async def _queued_jobs(session: AsyncSession) -> int:
    """Federation jobs waiting to run (for the "N job(s) queued" line)."""
    query = (
        select(sa.func.count())
        .select_from(Job)
        .where(Job.kind.in_([DELIVER, PROCESS_INBOX]), Job.state == JobState.PENDING.value)  # type: ignore[attr-defined]
    )
    return int((await session.exec(query)).one())


async def _act(args: argparse.Namespace, action: Action[T]) -> tuple[T, int]:
    """Run ``action`` as the local account ``args.username`` in one transaction.

    Returns its result and how many federation jobs it queued.  Actions return
    plain values (strings), never ORM rows, which expire with the session.
    """
    state = AppState.open(config_from(args))
    try:
        async with state.sessions() as session:
            account = await find_account(session, args.username)
            if account is None:
                raise CLIError(f"no local account named {args.username!r}")
            before = await _queued_jobs(session)
            result = await action(session, state, account.actor)
            queued = await _queued_jobs(session) - before
            await session.commit()
            return result, max(queued, 0)
    except ActionError as exc:
        raise CLIError(exc.message) from None
    except RemoteError as exc:
        raise CLIError(str(exc)) from None
    finally:
        await state.close()


def _perform(args: argparse.Namespace, action: Action[str], *, quiet_queue: bool = False) -> int:
    message, queued = run(_act(args, action))
    print(message)
    if queued and not quiet_queue:
        print(_queued_line(queued))
    return 0


def _queued_line(count: int) -> str:
    return (
        f"queued {count} federation job(s); a running `fedisora serve` or `fedisora worker` "
        "carries them out"
    )


def _address(actor: Actor) -> str:
    return f"@{actor.username}@{actor.domain}"


async def _resolve(session: AsyncSession, state: AppState, handle: str) -> Actor:
    """``@user@host`` (local or remote, via WebFinger), or a bare ``user`` for a local account."""
    text = handle.strip()
    if BARE_NAME.fullmatch(text):
        text = f"@{text.lstrip('@')}@{state.config.instance.domain}"
    return await resolve_handle(session, state, text)


async def _post(session: AsyncSession, state: AppState, uri: str) -> Status:
    return await interactions.find_post(session, state, uri)


# ---- post create | edit | delete --------------------------------------------------------------


def _read_text(text: str) -> str:
    if text != "-":
        return text
    data = sys.stdin.read()
    return data[:-1] if data.endswith("\n") else data


def cmd_post_create(args: argparse.Namespace) -> int:
    text = _read_text(args.text)

    async def action(session: AsyncSession, state: AppState, me: Actor) -> tuple[str, str]:
        parent = await _post(session, state, args.reply_to) if args.reply_to else None
        status = await posts.create_post(
            session,
            state,
            me,
            text,
            visibility=args.visibility,
            in_reply_to=parent,
            spoiler_text=args.cw or "",
            sensitive=args.sensitive,
            language=args.language,
        )
        details = [f"{status.visibility} post by {_address(me)}"]
        if parent is not None:
            details.append(f"in reply to {parent.uri}")
        if status.summary:
            details.append(f"content warning: {status.summary!r}")
        elif status.sensitive:
            details.append("sensitive")
        if status.language:
            details.append(f"language: {status.language}")
        summary = "; ".join(details) + f"\nurl: {status.url or status.uri}"
        return status.uri, summary

    (uri, summary), queued = run(_act(args, action))
    print(uri)  # alone on the first line, for scripts
    print(summary)
    print(_queued_line(queued) if queued else "nothing to deliver (no followers or mentions yet)")
    return 0


def cmd_post_edit(args: argparse.Namespace) -> int:
    text = _read_text(args.text)

    async def action(session: AsyncSession, state: AppState, me: Actor) -> str:
        status = await _post(session, state, args.uri)
        await posts.edit_post(session, state, me, status, text, spoiler_text=args.cw)
        return f"edited {status.uri}"

    return _perform(args, action)


def cmd_post_delete(args: argparse.Namespace) -> int:
    async def action(session: AsyncSession, state: AppState, me: Actor) -> str:
        status = await _post(session, state, args.uri)
        await posts.delete_post(session, state, me, status)
        return f"deleted {status.uri} (it now answers 410 Gone with a Tombstone)"

    return _perform(args, action)


# ---- follow | unfollow | follow-requests ------------------------------------------------------


def cmd_follow(args: argparse.Namespace) -> int:
    async def action(session: AsyncSession, state: AppState, me: Actor) -> str:
        target = await _resolve(session, state, args.handle)
        record = await follows.follow(session, state, me, target)
        who = _address(target)
        if record.state == FollowState.ACCEPTED.value:
            return f"{_address(me)} follows {who}: accepted"
        if target.manually_approves_followers:
            return f"{_address(me)} follows {who}: pending (awaiting approval: {who} approves followers manually)"
        return f"{_address(me)} follows {who}: pending (accepted automatically once the Follow is delivered)"

    return _perform(args, action)


def cmd_unfollow(args: argparse.Namespace) -> int:
    async def action(session: AsyncSession, state: AppState, me: Actor) -> str:
        target = await _resolve(session, state, args.handle)
        if await follows.unfollow(session, state, me, target):
            return f"{_address(me)} no longer follows {_address(target)}"
        return f"{_address(me)} was not following {_address(target)}: nothing to do"

    return _perform(args, action)


def cmd_requests_list(args: argparse.Namespace) -> int:
    async def action(session: AsyncSession, state: AppState, me: Actor) -> str:
        pending = await follows.pending_requests(session, me)
        if not pending:
            return f"no pending follow requests for {_address(me)}"
        lines = [f"{len(pending)} pending follow request(s) for {_address(me)}:"]
        lines += [f"{_address(a)}  {a.uri}  (since {f.created_at:%Y-%m-%d %H:%M})" for f, a in pending]
        return "\n".join(lines)

    return _perform(args, action)


async def _request_from(session: AsyncSession, state: AppState, me: Actor, handle: str) -> tuple[Actor, Follow]:
    follower = await _resolve(session, state, handle)
    record = await follows.find_follow(session, follower, me)
    if record is None:
        raise CLIError(f"{_address(follower)} has not asked to follow {_address(me)}")
    return follower, record


def cmd_requests_approve(args: argparse.Namespace) -> int:
    async def action(session: AsyncSession, state: AppState, me: Actor) -> str:
        follower, record = await _request_from(session, state, me, args.handle)
        was = record.state
        await follows.accept(session, state, record)
        if was == FollowState.ACCEPTED.value:
            return f"{_address(follower)} already follows {_address(me)} (Accept sent again)"
        return f"approved: {_address(follower)} now follows {_address(me)}"

    return _perform(args, action)


def cmd_requests_reject(args: argparse.Namespace) -> int:
    async def action(session: AsyncSession, state: AppState, me: Actor) -> str:
        follower, record = await _request_from(session, state, me, args.handle)
        was = record.state
        await follows.reject(session, state, record)
        if was == FollowState.ACCEPTED.value:
            return f"removed follower {_address(follower)} from {_address(me)}"
        return f"rejected the follow request of {_address(follower)}"

    return _perform(args, action)


# ---- like | unlike | boost | unboost | block | unblock ----------------------------------------


def cmd_like(args: argparse.Namespace) -> int:
    async def action(session: AsyncSession, state: AppState, me: Actor) -> str:
        status = await _post(session, state, args.uri)
        await interactions.like(session, state, me, status)
        return f"{_address(me)} likes {status.uri}"

    return _perform(args, action)


def cmd_unlike(args: argparse.Namespace) -> int:
    async def action(session: AsyncSession, state: AppState, me: Actor) -> str:
        status = await _post(session, state, args.uri)
        if await interactions.unlike(session, state, me, status):
            return f"{_address(me)} no longer likes {status.uri}"
        return f"{_address(me)} did not like {status.uri}: nothing to do"

    return _perform(args, action)


def cmd_boost(args: argparse.Namespace) -> int:
    async def action(session: AsyncSession, state: AppState, me: Actor) -> str:
        status = await _post(session, state, args.uri)
        boost = await interactions.boost(session, state, me, status)
        return f"{_address(me)} boosted {status.uri} (boost {boost.uri})"

    return _perform(args, action)


def cmd_unboost(args: argparse.Namespace) -> int:
    async def action(session: AsyncSession, state: AppState, me: Actor) -> str:
        status = await _post(session, state, args.uri)
        if await interactions.unboost(session, state, me, status):
            return f"{_address(me)} no longer boosts {status.uri}"
        return f"{_address(me)} had not boosted {status.uri}: nothing to do"

    return _perform(args, action)


def cmd_block(args: argparse.Namespace) -> int:
    async def action(session: AsyncSession, state: AppState, me: Actor) -> str:
        target = await _resolve(session, state, args.handle)
        await interactions.block(session, state, me, target)
        return f"{_address(me)} blocks {_address(target)} (follows between them were removed)"

    return _perform(args, action)


def cmd_unblock(args: argparse.Namespace) -> int:
    async def action(session: AsyncSession, state: AppState, me: Actor) -> str:
        target = await _resolve(session, state, args.handle)
        if await interactions.unblock(session, state, me, target):
            return f"{_address(me)} no longer blocks {_address(target)}"
        return f"{_address(me)} was not blocking {_address(target)}: nothing to do"

    return _perform(args, action)


# ---- the parsers ------------------------------------------------------------------------------

Subparsers = argparse._SubParsersAction  # type: ignore[type-arg]
USERNAME_HELP = "the local account acting"
HANDLE_HELP = "@user@host (local or remote; a bare name means a local account)"


def _command(
    sub: Subparsers,
    name: str,
    func: Callable[[argparse.Namespace], int],
    help: str,
    description: str,
    *,
    target: tuple[str, str] | None = None,
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        name, help=help, description=f"{description}  {QUEUED_NOTE}"
    )
    add_config_option(parser)
    parser.add_argument("username", metavar="USERNAME", help=USERNAME_HELP)
    if target is not None:
        parser.add_argument(target[0], metavar=target[0].upper(), help=target[1])
    parser.set_defaults(func=func)
    return parser


def _handle(sub: Subparsers, name: str, func: Callable[[argparse.Namespace], int], help: str, description: str) -> None:
    _command(sub, name, func, help, description, target=("handle", HANDLE_HELP))


def _uri(sub: Subparsers, name: str, func: Callable[[argparse.Namespace], int], help: str, description: str) -> None:
    _command(sub, name, func, help, description, target=("uri", "the post's id or URL (local or remote)"))


def register(subparsers: Subparsers) -> None:
    # post create | edit | delete
    post = subparsers.add_parser(
        "post", help="write, edit or delete a post as a local account", description=f"Posts.  {QUEUED_NOTE}"
    )
    psub = post.add_subparsers(dest="post_command", required=True, metavar="COMMAND")
    create = _command(
        psub, "create", cmd_post_create, "write a post",
        "Write a post as USERNAME.  Prints the post's URI alone on the first line, then a summary.",
    )
    create.add_argument("text", metavar="TEXT", help="the post's text (plain text; @mentions and #tags work); - reads stdin")
    create.add_argument(
        "--visibility", default=Visibility.PUBLIC.value, choices=[v.value for v in Visibility],
        help="who may see it (default: public)",
    )
    create.add_argument("--reply-to", default=None, metavar="URI", help="the post this one answers")
    create.add_argument("--cw", default=None, metavar="TEXT", help="content warning (marks the post sensitive)")
    create.add_argument("--sensitive", action="store_true", help="mark the post sensitive")
    create.add_argument("--language", default=None, metavar="CODE", help="language code, e.g. en")

    edit = _command(
        psub, "edit", cmd_post_edit, "edit one of USERNAME's posts",
        "Replace the text of one of USERNAME's posts and send the Update.",
        target=("uri", "the post's id or URL"),
    )
    edit.add_argument("text", metavar="TEXT", help="the new text; - reads stdin")
    edit.add_argument("--cw", default=None, metavar="TEXT", help="new content warning (default: keep the current one; '' removes it)")

    _command(
        psub, "delete", cmd_post_delete, "delete one of USERNAME's posts",
        "Delete one of USERNAME's posts: it becomes a Tombstone and the Delete is sent.",
        target=("uri", "the post's id or URL"),
    )

    # follow | unfollow | follow-requests list | approve | reject
    _handle(
        subparsers, "follow", cmd_follow, "follow an account as a local account",
        "USERNAME asks to follow HANDLE; prints whether the follow is pending or accepted.",
    )
    _handle(subparsers, "unfollow", cmd_unfollow, "stop following an account", "USERNAME stops following HANDLE.")
    requests = subparsers.add_parser(
        "follow-requests", help="list, approve or reject follow requests",
        description=f"Follow requests to a local account.  {QUEUED_NOTE}",
    )
    rsub = requests.add_subparsers(dest="requests_command", required=True, metavar="COMMAND")
    _command(rsub, "list", cmd_requests_list, "list pending follow requests",
             "List the follow requests waiting for USERNAME's approval.")
    _handle(rsub, "approve", cmd_requests_approve, "approve a follow request",
            "Approve HANDLE's request to follow USERNAME (sends an Accept).")
    _handle(rsub, "reject", cmd_requests_reject, "reject a follow request (or remove a follower)",
            "Reject HANDLE's request to follow USERNAME, or remove HANDLE as a follower (sends a Reject).")

    # like | unlike | boost | unboost | block | unblock
    _uri(subparsers, "like", cmd_like, "like a post", "USERNAME likes the post URI.")
    _uri(subparsers, "unlike", cmd_unlike, "undo a like", "USERNAME takes back a like of the post URI.")
    _uri(subparsers, "boost", cmd_boost, "boost (share) a post", "USERNAME boosts the public or unlisted post URI.")
    _uri(subparsers, "unboost", cmd_unboost, "undo a boost", "USERNAME takes back a boost of the post URI.")
    _handle(subparsers, "block", cmd_block, "block an account",
            "USERNAME blocks HANDLE; follows between the two are removed.")
    _handle(subparsers, "unblock", cmd_unblock, "undo a block", "USERNAME unblocks HANDLE.")
