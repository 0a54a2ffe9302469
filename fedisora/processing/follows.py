"""Following: follow, unfollow, and answering follow requests."""

from __future__ import annotations

from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub import vocab

from ..db.models import Actor, Block, Follow, FollowState, NotificationType
from ..federation.documents import new_activity_uri
from ..federation.outbox import publish
from ..notify import withdraw
from ..state import AppState
from .errors import ActionError


async def find_follow(session: AsyncSession, follower: Actor, target: Actor) -> Follow | None:
    query = select(Follow).where(Follow.follower_id == follower.id, Follow.target_id == target.id)
    return (await session.exec(query)).first()


async def is_blocked(session: AsyncSession, a: Actor, b: Actor) -> bool:
    """Whether either actor blocks the other."""
    query = select(Block).where(
        ((Block.actor_id == a.id) & (Block.target_id == b.id))
        | ((Block.actor_id == b.id) & (Block.target_id == a.id))
    )
    return (await session.exec(query)).first() is not None


def follow_document(follow: Follow, follower: Actor, target: Actor) -> dict[str, Any]:
    assert follow.uri is not None
    return vocab.follow(id=follow.uri, actor=follower.uri, object=target.uri)


async def follow(session: AsyncSession, state: AppState, follower: Actor, target: Actor) -> Follow:
    """Local ``follower`` asks to follow ``target`` (pending until accepted)."""
    if follower.id == target.id:
        raise ActionError("you cannot follow yourself")
    if await is_blocked(session, follower, target):
        raise ActionError("you cannot follow an account you blocked or that blocked you", 403)
    existing = await find_follow(session, follower, target)
    if existing is not None and existing.state != FollowState.REJECTED.value:
        return existing
    if existing is not None:
        await session.delete(existing)
        await session.flush()
    record = Follow(uri=new_activity_uri(state.config), follower_id=follower.id, target_id=target.id)
    session.add(record)
    await session.flush()
    await publish(session, follow_document(record, follower, target), actor=follower, recipients=[target])
    return record


async def unfollow(session: AsyncSession, state: AppState, follower: Actor, target: Actor) -> bool:
    existing = await find_follow(session, follower, target)
    if existing is None:
        return False
    undo = vocab.undo(
        id=new_activity_uri(state.config), actor=follower.uri, object=follow_document(existing, follower, target)
    )
    await session.delete(existing)
    await session.flush()
    for kind in (NotificationType.FOLLOW, NotificationType.FOLLOW_REQUEST):
        await withdraw(session, recipient=target, type=kind, from_actor=follower)
    await publish(session, undo, actor=follower, recipients=[target])
    return True


async def accept(session: AsyncSession, state: AppState, record: Follow) -> None:
    """Local target accepts a follow request (also re-sends Accept for a repeated Follow)."""
    follower = await session.get(Actor, record.follower_id)
    target = await session.get(Actor, record.target_id)
    assert follower is not None and target is not None and target.local
    record.state = FollowState.ACCEPTED.value
    await session.flush()
    await withdraw(session, recipient=target, type=NotificationType.FOLLOW_REQUEST, from_actor=follower)
    document = vocab.accept(
        id=new_activity_uri(state.config), actor=target.uri, object=follow_document(_with_uri(record, state), follower, target)
    )
    await publish(session, document, actor=target, recipients=[follower])


async def reject(session: AsyncSession, state: AppState, record: Follow) -> None:
    """Local target rejects a follow request (or removes a follower)."""
    follower = await session.get(Actor, record.follower_id)
    target = await session.get(Actor, record.target_id)
    assert follower is not None and target is not None and target.local
    document = vocab.reject(
        id=new_activity_uri(state.config), actor=target.uri, object=follow_document(_with_uri(record, state), follower, target)
    )
    await session.delete(record)
    await session.flush()
    for kind in (NotificationType.FOLLOW, NotificationType.FOLLOW_REQUEST):
        await withdraw(session, recipient=target, type=kind, from_actor=follower)
    await publish(session, document, actor=target, recipients=[follower])


def _with_uri(record: Follow, state: AppState) -> Follow:
    if record.uri is None:  # follows made before we kept activity ids
        record.uri = new_activity_uri(state.config)
    return record


async def pending_requests(session: AsyncSession, target: Actor) -> list[tuple[Follow, Actor]]:
    query = (
        select(Follow, Actor)
        .join(Actor, Actor.id == Follow.follower_id)
        .where(Follow.target_id == target.id, Follow.state == FollowState.PENDING.value)
        .order_by(Follow.id)
    )
    return [(f, a) for f, a in (await session.exec(query)).all()]
