"""Processing stored activities: the ``inbox`` job.

Remote activities arrive through the inbox (already verified); activities of
local actors addressed to local actors come straight from the outbox.  Both
take this path, and every handler is idempotent, so processing an activity
twice has one effect.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.exc import DataError
from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub.extract import id_of, types_of
from activitypub.safejson import JSONRejected, check_value

from ...db.models import Activity, ActivityState, Actor, utcnow
from ...jobs.runner import JobContext, PermanentError, RetryLater
from ...state import AppState
from ..remote import RemoteError, get_actor
from . import actors, follows, interactions, posts
from .common import Ignored

log = logging.getLogger(__name__)

Handler = Callable[[AsyncSession, AppState, Actor, dict[str, Any]], Awaitable[None]]

HANDLERS: dict[str, Handler] = {
    "Follow": follows.on_follow,
    "Accept": follows.on_accept,
    "Reject": follows.on_reject,
    "Undo": interactions.on_undo,
    "Create": posts.on_create,
    "Update": posts.on_update,
    "Delete": posts.on_delete,
    "Like": interactions.on_like,
    "Announce": interactions.on_announce,
    "Block": interactions.on_block,
    "Move": actors.on_move,
}
REMOTE_RETRY_SECONDS = 300.0
REMOTE_RETRIES = 5


async def process_inbox(ctx: JobContext, state: AppState) -> None:
    async with state.sessions() as session:
        record = await session.get(Activity, int(ctx.payload["activity_id"]))  # type: ignore[call-overload]
        if record is None:
            raise PermanentError(f"activity {ctx.payload['activity_id']} is gone")
        if record.state == ActivityState.PROCESSED.value and not record.local:
            return
        activity = record.raw
        # Read now: after a rollback the row is expired and loading it again would need IO here.
        record_id, record_uri = record.id, record.uri
        kind = next((t for t in sorted(types_of(activity)) if t in HANDLERS), None)
        try:
            check_value(activity)  # stored before the inbox refused such data: it can never be processed
            if kind is None:
                raise Ignored(f"unsupported activity type {sorted(types_of(activity))}")
            actor = await get_actor(session, state, str(id_of(activity.get("actor"))))
            await HANDLERS[kind](session, state, actor, activity)
        except Ignored as exc:
            await session.rollback()
            log.info("activity %s ignored: %s", record_uri, exc)
            await _finish(state, record_id, ActivityState.PROCESSED, f"ignored: {exc}")
            return
        except (JSONRejected, DataError) as exc:  # bad data: the same on every retry
            await session.rollback()
            await _finish(state, record_id, ActivityState.FAILED, f"bad data: {exc}")
            raise PermanentError(f"bad data: {exc}") from exc
        except RemoteError as exc:
            await session.rollback()
            if not exc.permanent and ctx.job.attempts < REMOTE_RETRIES:
                raise RetryLater(REMOTE_RETRY_SECONDS * ctx.job.attempts, str(exc)) from exc
            await _finish(state, record_id, ActivityState.FAILED, str(exc))
            raise PermanentError(str(exc)) from exc
        if not record.local:
            record.state = ActivityState.PROCESSED.value
            record.processed_at = utcnow()
            record.error = None
        await session.commit()


async def _finish(state: AppState, activity_id: int, outcome: ActivityState, error: str) -> None:
    async with state.sessions() as session:
        record = await session.get(Activity, activity_id)
        if record is not None and not record.local:
            record.state = outcome.value
            record.processed_at = utcnow()
            record.error = error[:2000]
            await session.commit()
