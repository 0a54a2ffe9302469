"""Lookups the activity handlers share."""

from __future__ import annotations

from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub.extract import id_of

from ...db.models import Activity, Actor, Status


class Ignored(Exception):
    """The activity is valid but means nothing to us (recorded, not retried)."""


async def local_actor_by_uri(session: AsyncSession, uri: str | None) -> Actor | None:
    if not uri:
        return None
    return (await session.exec(select(Actor).where(Actor.uri == uri, Actor.local))).first()


async def actor_by_uri(session: AsyncSession, uri: str | None) -> Actor | None:
    if not uri:
        return None
    return (await session.exec(select(Actor).where(Actor.uri == uri))).first()


async def status_by_uri(session: AsyncSession, uri: str | None) -> Status | None:
    if not uri:
        return None
    return (await session.exec(select(Status).where(Status.uri == uri))).first()


async def embedded_or_stored(session: AsyncSession, value: Any) -> dict[str, Any] | None:
    """The object of an Undo/Accept: embedded, or an activity we stored (sent or received)."""
    if isinstance(value, dict):
        return value
    uri = id_of(value)
    if uri is None:
        return None
    stored = (await session.exec(select(Activity).where(Activity.uri == uri))).first()
    return stored.raw if stored is not None else {"id": uri}
