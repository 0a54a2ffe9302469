"""``fedisora deliveries failed|retry``: deliveries to other servers that failed, with what
the peer answered, and sending one again.

A peer's 4xx answer is final (as on Mastodon), so a post a peer refuses is simply not
there: ``deliveries failed`` shows each such delivery with the peer's HTTP status and
(an excerpt of) its answer, the inbox, the activity, when and after how many tries;
``--retrying`` shows the ones still being retried.  ``deliveries retry ID`` queues a
given-up delivery again (a running ``serve`` or ``worker`` sends it).
"""

from __future__ import annotations

import argparse
import json

from sqlmodel import col

from ..db.models import Job
from ..federation import failures
from ..state import AppState
from .common import add_config_option, config_from, count_of, run
from .errors import CLIError


def _job_id(text: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise argparse.ArgumentTypeError(f"a delivery id is a number, got {text!r}")
    return int(text)


async def _failed(args: argparse.Namespace) -> list[failures.FailedDelivery]:
    state = AppState.open(config_from(args))
    try:
        async with state.sessions() as session:
            stmt = (
                failures.listing("retrying" if args.retrying else "failed", host=args.host)
                .order_by(col(Job.id).desc())
                .limit(args.limit)
            )
            return await failures.describe(session, list((await session.exec(stmt)).all()))  # type: ignore[call-overload]
    finally:
        await state.close()


def _when(view: failures.FailedDelivery) -> str:
    return view.failed_at.strftime("%Y-%m-%d %H:%M:%S UTC") if view.failed_at else "-"


def cmd_failed(args: argparse.Namespace) -> int:
    views = run(_failed(args))
    if args.json:
        print(json.dumps([v.to_json() for v in views], indent=2, ensure_ascii=False))
        return 0
    if not views:
        print("no deliveries are being retried" if args.retrying else "no failed deliveries")
        return 0
    for view in views:
        answer = f"HTTP {view.http_status}" if view.http_status is not None else "no answer"
        tries = f"{view.attempts} {'try' if view.attempts == 1 else 'tries'}"
        print(f"{view.id}  {_when(view)}  {answer} after {tries}")
        print(f"  inbox:    {view.inbox}")
        print(f"  activity: {view.activity_type or '?'} {view.activity_id or '(gone)'}")
        print(f"  reason:   {view.reason}")
        if view.response:
            print(f"  answer:   {view.response}")
        if view.next_attempt_at is not None:
            print(f"  next try: {view.next_attempt_at.strftime('%Y-%m-%d %H:%M:%S UTC')}")
    return 0


async def _retry(args: argparse.Namespace) -> Job:
    state = AppState.open(config_from(args))
    try:
        async with state.sessions() as session:
            try:
                job = await failures.retry(session, args.id)
            except failures.DeliveryNotFound:
                raise CLIError(f"no failed delivery with id {args.id} (see `fedisora deliveries failed`)") from None
            await session.commit()
            return job
    finally:
        await state.close()


def cmd_retry(args: argparse.Namespace) -> int:
    job = run(_retry(args))
    print(f"queued delivery {job.id} to {job.payload.get('inbox')} (instead of {args.id})")
    print("a running `fedisora serve` or `fedisora worker` sends it")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = subparsers.add_parser(
        "deliveries",
        help="failed deliveries to other servers",
        description="Deliveries to other servers that failed, with what each peer answered.",
    )
    sub = group.add_subparsers(dest="deliveries_command", required=True, metavar="COMMAND")

    failed = sub.add_parser(
        "failed",
        help="list failed deliveries and the peers' answers",
        description="List deliveries given up (a peer's 4xx answer is final; others after their "
        "retries), newest first, with the peer's HTTP status and answer.",
    )
    add_config_option(failed)
    failed.add_argument("--limit", type=count_of("limit", 1, 10_000), default=50, metavar="N", help="at most N (default 50)")
    failed.add_argument("--host", default=None, help="only deliveries to this host")
    failed.add_argument("--retrying", action="store_true", help="list the ones still being retried instead")
    failed.add_argument("--json", action="store_true", help="print them as JSON (as the admin API answers)")
    failed.set_defaults(func=cmd_failed)

    again = sub.add_parser(
        "retry",
        help="queue a failed delivery again",
        description="Queue failed delivery ID again, with fresh attempts.",
    )
    add_config_option(again)
    again.add_argument("id", type=_job_id, metavar="ID")
    again.set_defaults(func=cmd_retry)
