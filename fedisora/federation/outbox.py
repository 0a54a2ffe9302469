"""Publishing an activity: store it once, then queue one delivery per inbox.

Deliveries to remote servers are collapsed onto shared inboxes; activities
addressed to local actors are handed straight to inbox processing (the same
code path a remote activity takes), never sent over HTTP to ourselves.

Every activity is signed here, once, with an FEP-8b32 object integrity proof
(and the actor's own embedded object with its own): the stored JSON is what
every delivery sends and what ``/activities/ID`` serves.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub.delivery import collapse_inboxes
from activitypub.extract import domain_of

from ..db.models import Activity, ActivityState, Actor, Follow, FollowState, Job, JobState
from ..jobs import queue
from .proofs import ProofError, sign_document

log = logging.getLogger(__name__)

DELIVER = "deliver"
PROCESS_INBOX = "inbox"
# Deliveries retry on the federation retry policy's schedule, not the queue's default count.
DELIVERY_MAX_ATTEMPTS = 64


async def follower_actors(session: AsyncSession, actor: Actor) -> list[Actor]:
    query = (
        select(Actor)
        .join(Follow, Follow.follower_id == Actor.id)
        .where(Follow.target_id == actor.id, Follow.state == FollowState.ACCEPTED.value)
    )
    return list((await session.exec(query)).all())


def host_of(url: str) -> str:
    """The domain deliveries to ``url`` are grouped and limited by (``host[:port]``)."""
    return domain_of(url) or url


async def publish(
    session: AsyncSession,
    activity: dict[str, Any],
    *,
    actor: Actor,
    recipients: Iterable[Actor] = (),
    to_followers: bool = False,
) -> Activity:
    """Store ``activity`` (sent by local ``actor``) and queue its delivery.

    ``recipients`` are actors addressed directly (mentions, the target of a
    Follow); ``to_followers`` adds every accepted follower.  The caller commits:
    the activity and its deliveries become visible together or not at all.
    """
    targets: dict[int, Actor] = {a.id: a for a in recipients}
    if to_followers:
        targets.update({a.id: a for a in await follower_actors(session, actor)})
    targets.pop(actor.id, None)

    try:
        activity = await sign_document(session, actor, activity)
    except ProofError as exc:  # not I-JSON (an integer beyond 2**53): sent without a proof
        log.warning("activity %s is published without a proof: %s", activity.get("id"), exc)
    record = Activity(
        uri=activity["id"],
        activity_type=str(activity.get("type")),
        actor_uri=actor.uri,
        object_uri=_object_id(activity.get("object")),
        local=True,
        raw=activity,
        state=ActivityState.SENT.value,
    )
    session.add(record)
    await session.flush()

    remote = [a for a in targets.values() if not a.local and a.deleted_at is None and a.inbox_uri]
    for inbox in collapse_inboxes((a.inbox_uri, a.shared_inbox_uri) for a in remote):  # type: ignore[misc]
        await queue.enqueue(
            session,
            DELIVER,
            {"activity_id": record.id, "inbox": inbox, "host": host_of(inbox)},
            max_attempts=DELIVERY_MAX_ATTEMPTS,
            dedupe_key=f"{DELIVER}:{record.id}:{inbox}",
        )
    if any(a.local for a in targets.values()):
        await queue.enqueue(
            session, PROCESS_INBOX, {"activity_id": record.id}, dedupe_key=f"{PROCESS_INBOX}:{record.id}"
        )
    return record


def _object_id(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return value["id"]
    return None


async def pending_deliveries(session: AsyncSession) -> int:
    """Deliveries not yet done (for status pages and tests)."""
    query = select(sa.func.count()).select_from(Job).where(
        Job.kind == DELIVER, Job.state.in_([JobState.PENDING.value, JobState.RUNNING.value])  # type: ignore[attr-defined]
    )
    return (await session.exec(query)).one()
