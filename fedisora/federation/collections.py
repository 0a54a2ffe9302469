"""Pages of an actor's outbox, followers and following, newest first, keyed by id."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..db.models import Actor, Follow, FollowState, Status, Visibility

PUBLIC_VISIBILITIES = (Visibility.PUBLIC.value, Visibility.UNLISTED.value)


def _visible_posts(actor: Actor) -> sa.ColumnElement[bool]:
    return sa.and_(
        Status.actor_id == actor.id,
        Status.visibility.in_(PUBLIC_VISIBILITIES),  # type: ignore[attr-defined]
        Status.deleted_at.is_(None),  # type: ignore[union-attr]
    )


async def count_outbox(session: AsyncSession, actor: Actor) -> int:
    return (await session.exec(select(sa.func.count()).select_from(Status).where(_visible_posts(actor)))).one()


async def outbox_page(
    session: AsyncSession, actor: Actor, *, max_id: int | None, limit: int
) -> list[Status]:
    query = select(Status).where(_visible_posts(actor))
    if max_id is not None:
        query = query.where(Status.id < max_id)
    return list((await session.exec(query.order_by(Status.id.desc()).limit(limit))).all())  # type: ignore[attr-defined]


def _follow_side(actor: Actor, followers: bool) -> tuple[sa.ColumnElement[bool], object]:
    if followers:
        return Follow.target_id == actor.id, Follow.follower_id
    return Follow.follower_id == actor.id, Follow.target_id


async def count_follows(session: AsyncSession, actor: Actor, *, followers: bool) -> int:
    where, _ = _follow_side(actor, followers)
    query = select(sa.func.count()).select_from(Follow).where(where, Follow.state == FollowState.ACCEPTED.value)
    return (await session.exec(query)).one()


async def follows_page(
    session: AsyncSession, actor: Actor, *, followers: bool, max_id: int | None, limit: int
) -> list[tuple[int, str]]:
    """``(follow id, actor uri)`` pairs: followers of ``actor`` or the actors it follows."""
    where, other = _follow_side(actor, followers)
    query = (
        select(Follow.id, Actor.uri)
        .join(Actor, Actor.id == other)
        .where(where, Follow.state == FollowState.ACCEPTED.value)
    )
    if max_id is not None:
        query = query.where(Follow.id < max_id)
    rows = await session.exec(query.order_by(Follow.id.desc()).limit(limit))  # type: ignore[attr-defined]
    return [(row[0], row[1]) for row in rows.all()]
