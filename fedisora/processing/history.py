"""What a post keeps besides its current text: its hashtags (``status_tags``, for tag
timelines) and its earlier versions (``status_edits``, for ``/history``).

Both local posting (:mod:`fedisora.processing.posts`) and remote posts
(:mod:`fedisora.federation.handlers.posts`) call these, so local and federated
posts are recorded alike.  Edit history follows Mastodon: a post never edited
has no rows (its history is just itself); the first edit records the original
version and then the new one, each later edit one more row.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub.extract import as_list, types_of

from ..db.models import Status, StatusEdit, StatusTag, utcnow
from ..html import find_hashtags

__all__ = ["hashtags_of_object", "hashtags_of_text", "record_tags", "record_edit", "snapshot", "MAX_TAGS"]

MAX_TAGS = 50
MAX_TAG_LENGTH = 100


def hashtags_of_text(text: str) -> list[str]:
    """Hashtags of a local post's source text (lower-cased, without ``#``)."""
    return [t for t in find_hashtags(text) if len(t) <= MAX_TAG_LENGTH][:MAX_TAGS]


def hashtags_of_object(obj: dict[str, Any] | None) -> list[str]:
    """Names of the ``Hashtag`` entries of an ActivityPub object's ``tag``."""
    names: list[str] = []
    for item in as_list((obj or {}).get("tag")):
        if isinstance(item, dict) and "Hashtag" in types_of(item):
            name = item.get("name")
            if isinstance(name, str):
                name = name.strip().lstrip("#").lower()
                if name and len(name) <= MAX_TAG_LENGTH:
                    names.append(name)
    return list(dict.fromkeys(names))[:MAX_TAGS]


async def record_tags(session: AsyncSession, status: Status, names: Iterable[str]) -> None:
    """Make the post's ``status_tags`` exactly ``names`` (adding and removing rows)."""
    wanted = list(dict.fromkeys(n.lower() for n in names if n))
    existing = set(
        (await session.exec(select(StatusTag.name).where(StatusTag.status_id == status.id))).all()
    )
    stale = existing - set(wanted)
    if stale:
        await session.exec(
            sa.delete(StatusTag).where(  # type: ignore[arg-type]
                StatusTag.status_id == status.id,  # type: ignore[arg-type]
                StatusTag.name.in_(stale),  # type: ignore[attr-defined]
            )
        )
    for name in wanted:
        if name not in existing:
            session.add(StatusTag(status_id=status.id, name=name))
    await session.flush()


def _version(status: Status, created_at: datetime) -> StatusEdit:
    return StatusEdit(
        status_id=status.id,
        content=status.content,
        summary=status.summary,
        sensitive=status.sensitive,
        created_at=created_at,
    )


async def record_edit(
    session: AsyncSession,
    status: Status,
    previous: dict[str, Any] | None,
) -> None:
    """Record an edit of ``status`` (already changed in place).

    ``previous`` is the version before the edit as ``{"content", "summary",
    "sensitive", "created_at"}`` (see :func:`snapshot`); on a post's first edit it
    becomes the first history row.
    """
    has_rows = (
        await session.exec(select(StatusEdit.id).where(StatusEdit.status_id == status.id).limit(1))
    ).first() is not None
    if not has_rows and previous is not None:
        session.add(
            StatusEdit(
                status_id=status.id,
                content=previous["content"],
                summary=previous["summary"],
                sensitive=previous["sensitive"],
                created_at=previous["created_at"],
            )
        )
        await session.flush()  # ids (snowflakes) keep the versions in order
    session.add(_version(status, status.edited_at or utcnow()))
    await session.flush()


def snapshot(status: Status) -> dict[str, Any]:
    """The parts of ``status`` a history row keeps, taken before an edit."""
    return {
        "content": status.content,
        "summary": status.summary,
        "sensitive": status.sensitive,
        "created_at": status.edited_at or status.published_at,
    }
