"""``fedisora attest human|automated|revoke|list|show``: the instance's account attestations.

Issued by the instance actor, signed with its Ed25519 key, written to the
moderation audit log (as done "from the console") and announced to the
account's followers.  :func:`register` returns the ``attest`` subcommand group
so other modules can add commands to it (``attest verify``).
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone
from typing import Any

from ..accounts.service import find_account
from ..attestations import service
from ..attestations.vocabulary import HUMAN_METHODS, OperatedBy
from ..db.models import Actor, Attestation
from ..state import AppState
from .common import add_config_option, config_from, run
from .errors import CLIError

__all__ = ["register"]


def _date(text: str) -> datetime:
    """argparse type: an ISO 8601 date or date-time (UTC unless it says otherwise)."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date: {text!r} (e.g. 2027-06-30)") from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _attestation_id(text: str) -> int:
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        raise argparse.ArgumentTypeError(f"an attestation id is a number, got {text!r}")
    return int(text)


async def _subject(session: Any, username: str) -> Actor:
    account = await find_account(session, username.lstrip("@").split("@", 1)[0])
    if account is None:
        raise CLIError(f"no local account named {username!r}")
    return account.actor


def _status(row: Attestation) -> str:
    if row.revoked_at is not None:
        return "revoked " + row.revoked_at.strftime("%Y-%m-%d")
    return "valid" if service.is_valid_now(row) else "expired"


def _detail(row: Attestation) -> str:
    subject = row.credential.get("credentialSubject", {})
    return str(row.method or subject.get("operatorName") or subject.get("operator") or "-")


async def _issue(args: argparse.Namespace, operated_by: OperatedBy) -> tuple[Attestation, Actor]:
    state = AppState.open(config_from(args))
    try:
        async with state.sessions() as session:
            subject = await _subject(session, args.username)
            try:
                row = await service.issue_account_attestation(
                    session,
                    state.config,
                    subject,
                    operated_by=operated_by,
                    method=getattr(args, "method", None),
                    operator=getattr(args, "operator", None),
                    valid_until=args.valid_until,
                )
            except service.AttestationError as exc:
                raise CLIError(str(exc)) from None
            await session.commit()
            return row, subject
    finally:
        await state.close()


def _print_issued(row: Attestation, subject: Actor) -> None:
    what = "a human" if row.claim == OperatedBy.HUMAN.value else "automated"
    how = f" ({_detail(row)})" if _detail(row) != "-" else ""
    until = row.valid_until.strftime("%Y-%m-%d") if row.valid_until else "revoked"
    print(f"attested @{subject.username}@{subject.domain} as {what}{how}, valid until {until}")
    print(f"id: {row.id}")
    print(f"credential: {row.credential.get('id')}")


def cmd_human(args: argparse.Namespace) -> int:
    row, subject = run(_issue(args, OperatedBy.HUMAN))
    _print_issued(row, subject)
    return 0


def cmd_automated(args: argparse.Namespace) -> int:
    row, subject = run(_issue(args, OperatedBy.AUTOMATION))
    _print_issued(row, subject)
    return 0


async def _revoke(args: argparse.Namespace) -> tuple[Attestation, bool]:
    state = AppState.open(config_from(args))
    try:
        async with state.sessions() as session:
            try:
                row, changed = await service.revoke(session, state.config, args.id, reason=args.reason)
            except service.AttestationNotFound:
                raise CLIError(f"no attestation with id {args.id} (see `fedisora attest list`)") from None
            await session.commit()
            return row, changed
    finally:
        await state.close()


def cmd_revoke(args: argparse.Namespace) -> int:
    row, changed = run(_revoke(args))
    assert row.revoked_at is not None
    when = row.revoked_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    if changed:
        print(f"revoked attestation {row.id} ({row.kind}, {row.claim}) at {when}")
    else:
        print(f"attestation {row.id} was already revoked at {when}")
    return 0


async def _list(args: argparse.Namespace) -> list[tuple[Attestation, str]]:
    state = AppState.open(config_from(args))
    try:
        async with state.sessions() as session:
            subject = await _subject(session, args.username) if args.username else None
            rows = await service.list_attestations(
                session, subject=subject, include_revoked=args.all, limit=args.limit
            )
            names: dict[int, str] = {}
            out = []
            for row in rows:
                name = "-"
                if row.subject_actor_id is not None:
                    if row.subject_actor_id not in names:
                        actor = await session.get(Actor, row.subject_actor_id)
                        names[row.subject_actor_id] = f"@{actor.username}" if actor else "?"
                    name = names[row.subject_actor_id]
                elif row.subject_media_id is not None:
                    name = f"media:{row.subject_media_id}"
                out.append((row, name))
            return out
    finally:
        await state.close()


def cmd_list(args: argparse.Namespace) -> int:
    rows = run(_list(args))
    if not rows:
        print("no attestations" + (" (add --all to include revoked ones)" if not args.all else ""))
        return 0
    table = [
        {
            "id": str(row.id),
            "kind": row.kind,
            "subject": name,
            "claim": row.claim or "-",
            "detail": _detail(row),
            "until": row.valid_until.strftime("%Y-%m-%d") if row.valid_until else "-",
            "status": _status(row),
        }
        for row, name in rows
    ]
    columns = ["id", "kind", "subject", "claim", "detail", "until", "status"]
    widths = {c: max(len(c), *(len(r[c]) for r in table)) for c in columns}
    print("  ".join(c.upper().ljust(widths[c]) for c in columns).rstrip())
    for line in table:
        print("  ".join(line[c].ljust(widths[c]) for c in columns).rstrip())
    return 0


async def _show(args: argparse.Namespace) -> Attestation:
    state = AppState.open(config_from(args))
    try:
        async with state.sessions() as session:
            row = await service.get_attestation(session, args.id)
            if row is None:
                raise CLIError(f"no attestation with id {args.id} (see `fedisora attest list`)")
            return row
    finally:
        await state.close()


def cmd_show(args: argparse.Namespace) -> int:
    row = run(_show(args))
    print(json.dumps(row.credential, indent=2, ensure_ascii=False))
    return 0


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """Add ``attest`` and its commands; returns its subcommand group for more commands."""
    attest = subparsers.add_parser(
        "attest",
        help="issue and revoke account attestations",
        description="Issue, revoke and list the signed attestations this instance makes about "
        "its accounts (W3C Verifiable Credentials; see docs/ATTESTATIONS.md).",
    )
    sub = attest.add_subparsers(dest="attest_command", required=True, metavar="COMMAND")

    human = sub.add_parser(
        "human",
        help="attest that a person operates an account",
        description="Attest that a human operates USER.  Replaces the account's earlier attestation.",
    )
    add_config_option(human)
    human.add_argument("username", metavar="USER")
    human.add_argument(
        "--method",
        default="admin-vouched",
        metavar="M",
        help=f"how you checked it: {', '.join(HUMAN_METHODS)} or another short word (default admin-vouched)",
    )
    human.add_argument("--valid-until", type=_date, default=None, metavar="DATE", help="default: [attestations] account_validity_days from now")
    human.set_defaults(func=cmd_human)

    automated = sub.add_parser(
        "automated",
        help="attest that an account is automated (a bot or AI agent)",
        description="Attest that USER is automated, operated by a person or organisation.  "
        "Replaces the account's earlier attestation.",
    )
    add_config_option(automated)
    automated.add_argument("username", metavar="USER")
    automated.add_argument(
        "--operator", required=True, metavar="WHO",
        help="who runs it: @user@host, a local username, an actor URL or an organisation's name",
    )  # fmt: skip
    automated.add_argument("--valid-until", type=_date, default=None, metavar="DATE", help="default: [attestations] account_validity_days from now")
    automated.set_defaults(func=cmd_automated)

    revoke = sub.add_parser(
        "revoke",
        help="revoke an attestation",
        description="Revoke attestation ID: its bit is set in the status list verifiers read.",
    )
    add_config_option(revoke)
    revoke.add_argument("id", type=_attestation_id, metavar="ID")
    revoke.add_argument("--reason", default=None, help="recorded in the audit log")
    revoke.set_defaults(func=cmd_revoke)

    lst = sub.add_parser(
        "list", help="list attestations", description="List valid attestations, newest first (of USER when given)."
    )
    add_config_option(lst)
    lst.add_argument("username", nargs="?", default=None, metavar="USER")
    lst.add_argument("--all", action="store_true", help="include revoked attestations")
    lst.add_argument("--limit", type=int, default=200, help="at most this many (default 200)")
    lst.set_defaults(func=cmd_list)

    show = sub.add_parser("show", help="print one credential as JSON", description="Print attestation ID's signed credential.")
    add_config_option(show)
    show.add_argument("id", type=_attestation_id, metavar="ID")
    show.set_defaults(func=cmd_show)
    return sub
