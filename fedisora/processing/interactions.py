"""Likes, boosts and blocks by local actors, and finding a post by its URL."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub import vocab
from activitypub.addressing import PUBLIC

from ..db.models import Actor, Block, Like, NotificationType, Status, Visibility
from ..federation.documents import new_activity_uri
from ..federation.handlers.common import Ignored
from ..federation.handlers.interactions import fetch_post
from ..federation.outbox import publish
from ..federation.remote import RemoteError
from ..notify import notify, withdraw
from ..state import AppState
from .errors import ActionError
from .follows import find_follow


async def find_post(session: AsyncSession, state: AppState, uri: str) -> Status:
    """A post by its id or URL: ours, one we have, or fetched from its server."""
    query = select(Status).where(sa.or_(Status.uri == uri, Status.url == uri), Status.reblog_of_id.is_(None))  # type: ignore[union-attr]
    status = (await session.exec(query)).first()
    if status is None:
        try:
            status = await fetch_post(session, state, uri)
        except (RemoteError, Ignored) as exc:
            raise ActionError(f"cannot find the post {uri}: {exc}", 404) from None
    if status.deleted_at is not None:
        raise ActionError("that post was deleted", 404)
    return status


def _shareable(status: Status) -> None:
    if status.visibility not in (Visibility.PUBLIC.value, Visibility.UNLISTED.value):
        raise ActionError("only public and unlisted posts can be boosted", 403)


async def _author(session: AsyncSession, status: Status) -> Actor:
    author = await session.get(Actor, status.actor_id)
    assert author is not None
    return author


async def like(session: AsyncSession, state: AppState, actor: Actor, status: Status) -> Like:
    existing = (await session.exec(select(Like).where(Like.actor_id == actor.id, Like.status_id == status.id))).first()
    if existing is not None:
        return existing
    record = Like(uri=new_activity_uri(state.config), actor_id=actor.id, status_id=status.id)
    session.add(record)
    await session.flush()
    assert record.uri is not None
    author = await _author(session, status)
    await publish(session, vocab.like(id=record.uri, actor=actor.uri, object=status.uri), actor=actor, recipients=[author])
    await notify(session, recipient=author, type=NotificationType.FAVOURITE, from_actor=actor, status=status)
    return record


async def unlike(session: AsyncSession, state: AppState, actor: Actor, status: Status) -> bool:
    record = (await session.exec(select(Like).where(Like.actor_id == actor.id, Like.status_id == status.id))).first()
    if record is None:
        return False
    inner = vocab.like(id=record.uri or new_activity_uri(state.config), actor=actor.uri, object=status.uri)
    await session.delete(record)
    await session.flush()
    undo = vocab.undo(id=new_activity_uri(state.config), actor=actor.uri, object=inner)
    await publish(session, undo, actor=actor, recipients=[await _author(session, status)])
    await withdraw(session, recipient=status.actor_id, type=NotificationType.FAVOURITE, from_actor=actor, status=status)
    return True


def _boost_document(boost: Status, actor: Actor, status: Status) -> dict:  # type: ignore[type-arg]
    followers = actor.followers_uri or f"{actor.uri}/followers"
    return vocab.announce(
        id=boost.uri, actor=actor.uri, object=status.uri, to=[PUBLIC], cc=[followers], published=boost.published_at
    )


async def _find_boost(session: AsyncSession, actor: Actor, status: Status) -> Status | None:
    query = select(Status).where(Status.actor_id == actor.id, Status.reblog_of_id == status.id)
    return (await session.exec(query)).first()


async def boost(session: AsyncSession, state: AppState, actor: Actor, status: Status) -> Status:
    _shareable(status)
    existing = await _find_boost(session, actor, status)
    if existing is not None:
        return existing
    record = Status(uri=new_activity_uri(state.config), actor_id=actor.id, local=True,
                    visibility=Visibility.PUBLIC.value, reblog_of_id=status.id)
    session.add(record)
    await session.flush()
    author = await _author(session, status)
    await publish(session, _boost_document(record, actor, status), actor=actor, recipients=[author], to_followers=True)
    await notify(session, recipient=author, type=NotificationType.REBLOG, from_actor=actor, status=status)
    return record


async def unboost(session: AsyncSession, state: AppState, actor: Actor, status: Status) -> bool:
    record = await _find_boost(session, actor, status)
    if record is None:
        return False
    inner = _boost_document(record, actor, status)
    await session.delete(record)
    await session.flush()
    undo = vocab.undo(id=new_activity_uri(state.config), actor=actor.uri, object=inner, to=inner["to"], cc=inner["cc"])
    await publish(session, undo, actor=actor, recipients=[await _author(session, status)], to_followers=True)
    await withdraw(session, recipient=status.actor_id, type=NotificationType.REBLOG, from_actor=actor, status=status)
    return True


async def block(session: AsyncSession, state: AppState, actor: Actor, target: Actor) -> Block:
    if actor.id == target.id:
        raise ActionError("you cannot block yourself")
    existing = (await session.exec(select(Block).where(Block.actor_id == actor.id, Block.target_id == target.id))).first()
    if existing is not None:
        return existing
    record = Block(uri=new_activity_uri(state.config), actor_id=actor.id, target_id=target.id)
    session.add(record)
    for follower, followed in ((actor, target), (target, actor)):
        follow = await find_follow(session, follower, followed)
        if follow is not None:
            await session.delete(follow)
    await session.flush()
    assert record.uri is not None
    await publish(session, vocab.block(id=record.uri, actor=actor.uri, object=target.uri), actor=actor, recipients=[target])
    return record


async def unblock(session: AsyncSession, state: AppState, actor: Actor, target: Actor) -> bool:
    record = (await session.exec(select(Block).where(Block.actor_id == actor.id, Block.target_id == target.id))).first()
    if record is None:
        return False
    inner = vocab.block(id=record.uri or new_activity_uri(state.config), actor=actor.uri, object=target.uri)
    await session.delete(record)
    await session.flush()
    await publish(session, vocab.undo(id=new_activity_uri(state.config), actor=actor.uri, object=inner), actor=actor, recipients=[target])
    return True


__all__ = ["block", "boost", "find_post", "like", "unblock", "unboost", "unlike"]
