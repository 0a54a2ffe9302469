"""Mastodon ``Notification`` and ``Marker`` entities.

We have no notifications table yet: the caller derives notifications from
follows, likes, boosts and mentions and passes the parts in.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from instance_config import Config

from ..db.models import Actor, Status
from .accounts import AccountCache, account
from .common import entity_id, iso
from .statuses import status as status_entity

__all__ = ["NOTIFICATION_TYPES", "STATUS_TYPES", "notification", "marker"]

NOTIFICATION_TYPES = frozenset(
    {"mention", "status", "reblog", "follow", "follow_request", "favourite", "poll", "update"}
)
# The types that carry the post they are about (Mastodon 4.3).
STATUS_TYPES = frozenset({"mention", "status", "reblog", "favourite", "poll", "update"})


async def notification(
    session: AsyncSession,
    config: Config,
    *,
    id: int | str,
    type: str,
    created_at: datetime,
    account_actor: Actor,
    status: Status | None,
    viewer: Actor,
    cache: AccountCache | None = None,
) -> dict[str, Any]:
    """A ``Notification`` for ``viewer``: ``account_actor`` did ``type`` (about ``status``).

    ``group_key`` is Mastodon's key for a notification that is not grouped.
    """
    if type not in NOTIFICATION_TYPES:
        raise ValueError(f"not a notification type we make: {type!r}")
    cache = {} if cache is None else cache
    entity: dict[str, Any] = {
        "id": str(id),
        "type": type,
        "created_at": iso(created_at),
        "group_key": f"ungrouped-{id}",
        "account": await account(session, config, account_actor, cache=cache),
    }
    if type in STATUS_TYPES:
        if status is None:
            raise ValueError(f"a {type} notification needs its status")
        entity["status"] = await status_entity(session, config, status, viewer=viewer, cache=cache)
    return entity


def marker(last_read_id: int | str, version: int, updated_at: datetime) -> dict[str, Any]:
    """A ``Marker`` (the ``home`` or ``notifications`` value of ``GET /api/v1/markers``)."""
    return {
        "last_read_id": entity_id(last_read_id) if isinstance(last_read_id, int) else last_read_id,
        "version": version,
        "updated_at": iso(updated_at),
    }
