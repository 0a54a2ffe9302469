"""Follow, Accept(Follow), Reject(Follow)."""

from __future__ import annotations

from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub.extract import has_type, id_of

from ...db.models import Actor, Follow, FollowState, NotificationType
from ...notify import notify
from ...processing import follows
from ...state import AppState
from .common import Ignored, embedded_or_stored, local_actor_by_uri


async def on_follow(session: AsyncSession, state: AppState, actor: Actor, activity: dict[str, Any]) -> None:
    target = await local_actor_by_uri(session, id_of(activity.get("object")))
    if target is None:
        raise Ignored("Follow of an actor that is not ours")
    record = await follows.find_follow(session, actor, target)
    if record is None and actor.local:
        # A local follow's row is made by the follow service; gone now means it was
        # withdrawn or rejected before this job ran.  Never bring it back.
        raise Ignored("local follow no longer exists")
    if record is None:
        record = Follow(uri=id_of(activity.get("id")), follower_id=actor.id, target_id=target.id)
        session.add(record)
        await session.flush()
    elif not actor.local:
        record.uri = id_of(activity.get("id"))  # a repeated Follow: answer the newest id
    if await follows.is_blocked(session, actor, target):
        await follows.reject(session, state, record)
    elif record.state == FollowState.ACCEPTED.value or not target.manually_approves_followers:
        await follows.accept(session, state, record)
        await notify(session, recipient=target, type=NotificationType.FOLLOW, from_actor=actor)
    else:  # pending until the target approves it
        await notify(session, recipient=target, type=NotificationType.FOLLOW_REQUEST, from_actor=actor)


async def _our_follow(session: AsyncSession, actor: Actor, activity: dict[str, Any]) -> Follow | None:
    """The Follow that ``actor`` (its target) answers with this Accept/Reject."""
    inner = await embedded_or_stored(session, activity.get("object"))
    if inner is None:
        return None
    record = None
    inner_id = id_of(inner.get("id"))
    if inner_id:
        record = (await session.exec(select(Follow).where(Follow.uri == inner_id))).first()
    if record is None and has_type(inner, "Follow"):
        follower = await local_actor_by_uri(session, id_of(inner.get("actor")))
        if follower is not None:
            record = await follows.find_follow(session, follower, actor)
    if record is None or record.target_id != actor.id:
        return None  # only the followed actor may answer a follow
    return record


async def on_accept(session: AsyncSession, state: AppState, actor: Actor, activity: dict[str, Any]) -> None:
    record = await _our_follow(session, actor, activity)
    if record is None:
        raise Ignored("Accept of no follow of ours")
    record.state = FollowState.ACCEPTED.value


async def on_reject(session: AsyncSession, state: AppState, actor: Actor, activity: dict[str, Any]) -> None:
    record = await _our_follow(session, actor, activity)
    if record is None:
        raise Ignored("Reject of no follow of ours")
    await session.delete(record)
