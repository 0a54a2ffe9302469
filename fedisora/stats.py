"""Counts about this instance, for NodeInfo, the landing page and (later) the instance API."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub.nodeinfo import Usage

from .db.models import Status, User, utcnow


async def usage(session: AsyncSession) -> Usage:
    """Local users (the instance actor has no login, so it is not counted) and local posts.

    A user is active in a period when they logged in or posted in it.
    """
    now = utcnow()

    async def active_since(days: int) -> int:
        since = now - timedelta(days=days)
        posted = select(Status.actor_id).where(Status.local, Status.published_at >= since)
        query = select(sa.func.count()).select_from(User).where(
            sa.or_(User.last_login_at >= since, User.actor_id.in_(posted))  # type: ignore[union-attr]
        )
        return (await session.exec(query)).one()

    total = (await session.exec(select(sa.func.count()).select_from(User))).one()
    posts = (
        await session.exec(
            select(sa.func.count())
            .select_from(Status)
            .where(Status.local, Status.deleted_at.is_(None), Status.reblog_of_id.is_(None))  # type: ignore[union-attr]
        )
    ).one()
    return Usage(
        total_users=total,
        active_month=await active_since(30),
        active_halfyear=await active_since(180),
        local_posts=posts,
    )
