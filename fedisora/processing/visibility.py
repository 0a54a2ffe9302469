"""Who may see which post: the one rule every read path (API, pages) applies.

- ``public`` and ``unlisted`` posts: everybody (including anonymous viewers);
- ``private`` (followers-only): the author and the author's *accepted* followers;
- ``direct``: the author and the actors the post mentions;
- deleted posts, and posts by suspended or deleted actors: nobody;
- blocks either way hide the posts of one from the other;
- a boost is visible only when the boosted post is visible too (by the same rules).

Mutes are not part of visibility (a muted account's post can still be opened
directly); timelines add :func:`not_muted` on top of :func:`visible_to`.

Use :func:`visible_to` as a ``WHERE`` condition on :class:`Status` in queries,
and :func:`can_see` for one already-loaded row::

    stmt = select(Status).where(visible_to(viewer), not_muted(viewer))
    if not await can_see(session, viewer, status): raise APIError(404, ...)
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import ColumnElement
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlalchemy.orm import aliased

from ..db.models import Actor, Block, Follow, FollowState, Mention, Mute, Status, Visibility, utcnow

__all__ = ["can_see", "visible_to", "not_muted", "not_blocked", "PUBLIC_VISIBILITIES"]

PUBLIC_VISIBILITIES = (Visibility.PUBLIC.value, Visibility.UNLISTED.value)


def _author_ok(actor_id: ColumnElement[int]) -> ColumnElement[bool]:
    """The author exists and is neither suspended nor deleted."""
    a = aliased(Actor)
    return sa.exists().where(
        a.id == actor_id,  # type: ignore[arg-type]
        a.suspended_at.is_(None),  # type: ignore[union-attr]
        a.deleted_at.is_(None),  # type: ignore[union-attr]
    )


def _blocked_between(viewer_id: int, actor_id: ColumnElement[int]) -> ColumnElement[bool]:
    b = aliased(Block)
    return sa.exists().where(
        sa.or_(
            sa.and_(b.actor_id == viewer_id, b.target_id == actor_id),  # type: ignore[arg-type]
            sa.and_(b.actor_id == actor_id, b.target_id == viewer_id),  # type: ignore[arg-type]
        )
    )


def _own_visible(viewer: Actor | None, s: type[Status]) -> ColumnElement[bool]:
    """Visibility of the row ``s`` itself (not looking at what it boosts)."""
    conditions: list[ColumnElement[bool]] = [
        s.deleted_at.is_(None),  # type: ignore[union-attr]
        _author_ok(s.actor_id),  # type: ignore[arg-type]
    ]
    if viewer is None:
        conditions.append(s.visibility.in_(PUBLIC_VISIBILITIES))  # type: ignore[attr-defined]
        return sa.and_(*conditions)
    f = aliased(Follow)
    follows = sa.exists().where(
        f.follower_id == viewer.id,  # type: ignore[arg-type]
        f.target_id == s.actor_id,  # type: ignore[arg-type]
        f.state == FollowState.ACCEPTED.value,  # type: ignore[arg-type]
    )
    m = aliased(Mention)
    mentioned = sa.exists().where(
        m.status_id == s.id,  # type: ignore[arg-type]
        m.actor_id == viewer.id,  # type: ignore[arg-type]
    )
    conditions.append(
        sa.or_(
            s.actor_id == viewer.id,  # type: ignore[arg-type]
            s.visibility.in_(PUBLIC_VISIBILITIES),  # type: ignore[attr-defined]
            sa.and_(s.visibility == Visibility.PRIVATE.value, sa.or_(follows, mentioned)),  # type: ignore[arg-type]
            sa.and_(s.visibility == Visibility.DIRECT.value, mentioned),  # type: ignore[arg-type]
        )
    )
    conditions.append(sa.not_(_blocked_between(viewer.id, s.actor_id)))  # type: ignore[arg-type]
    return sa.and_(*conditions)


def visible_to(viewer: Actor | None, of: type[Status] = Status) -> ColumnElement[bool]:
    """SQL condition on :class:`Status` (or the alias ``of``): rows ``viewer``
    (``None``: anonymous) may see.  For a boost, the boosted post must be visible too.
    """
    original = aliased(Status)
    reblog_ok = sa.or_(
        of.reblog_of_id.is_(None),  # type: ignore[union-attr]
        sa.exists().where(
            original.id == of.reblog_of_id,  # type: ignore[arg-type]
            _own_visible(viewer, original),  # type: ignore[arg-type]
        ),
    )
    return sa.and_(_own_visible(viewer, of), reblog_ok)


def not_blocked(viewer: Actor | None, of: type[Status] = Status) -> ColumnElement[bool]:
    """No block either way between ``viewer`` and the row's author (part of :func:`visible_to`)."""
    if viewer is None:
        return sa.true()
    return sa.not_(_blocked_between(viewer.id, of.actor_id))  # type: ignore[arg-type]


def not_muted(viewer: Actor | None, of: type[Status] = Status) -> ColumnElement[bool]:
    """SQL condition on :class:`Status`: neither the author nor (for a boost) the boosted
    post's author is muted by ``viewer``.  For timelines, in addition to :func:`visible_to`."""
    if viewer is None:
        return sa.true()
    now = utcnow()
    m1 = aliased(Mute)
    author_muted = sa.exists().where(
        m1.actor_id == viewer.id,  # type: ignore[arg-type]
        m1.target_id == of.actor_id,  # type: ignore[arg-type]
        sa.or_(m1.expires_at.is_(None), m1.expires_at > now),  # type: ignore[union-attr,operator]
    )
    original = aliased(Status)
    m2 = aliased(Mute)
    boosted_muted = sa.exists().where(
        original.id == of.reblog_of_id,  # type: ignore[arg-type]
        m2.actor_id == viewer.id,  # type: ignore[arg-type]
        m2.target_id == original.actor_id,  # type: ignore[arg-type]
        sa.or_(m2.expires_at.is_(None), m2.expires_at > now),  # type: ignore[union-attr,operator]
    )
    return sa.and_(sa.not_(author_muted), sa.not_(boosted_muted))


async def can_see(session: AsyncSession, viewer: Actor | None, status: Status) -> bool:
    """Whether ``viewer`` (``None``: anonymous) may see ``status`` (same rules as
    :func:`visible_to`, evaluated in the database)."""
    if status.deleted_at is not None:
        return False
    found = await session.exec(select(Status.id).where(Status.id == status.id, visible_to(viewer)))
    return found.first() is not None
