"""Media attachments (videos first) and their processing state."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from fedisora.db.models.base import Base, datetime_field, snowflake_pk

__all__ = ["MediaType", "MediaState", "MediaAttachment"]


class MediaType(StrEnum):
    VIDEO = "video"
    IMAGE = "image"
    GIFV = "gifv"
    AUDIO = "audio"
    UNKNOWN = "unknown"


class MediaState(StrEnum):
    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"


class MediaAttachment(Base, table=True):
    """A file owned by an actor, optionally attached to a status.

    Local files have ``file_path``; remote media we did not copy has only
    ``remote_url``.
    """

    __tablename__ = "media_attachments"

    id: int = snowflake_pk()
    actor_id: int = Field(
        sa_type=sa.BigInteger, foreign_key="actors.id", ondelete="CASCADE", index=True
    )
    status_id: int | None = Field(
        default=None,
        sa_type=sa.BigInteger,
        foreign_key="statuses.id",
        ondelete="SET NULL",
        index=True,
    )
    media_type: str = MediaType.VIDEO.value
    state: str = MediaState.PROCESSING.value
    mime_type: str | None = None
    file_path: str | None = None
    thumbnail_path: str | None = None
    size_bytes: int | None = Field(default=None, sa_type=sa.BigInteger)
    sha256: str | None = None
    remote_url: str | None = None
    description: str | None = Field(default=None, sa_type=sa.Text)
    blurhash: str | None = None
    focus_x: float | None = None
    focus_y: float | None = None
    meta: dict[str, Any] = Field(default_factory=lambda: {}, sa_type=sa.JSON, nullable=False)
    error: str | None = Field(default=None, sa_type=sa.Text)
    # Processing progress, 0.0 to 1.0 (shown while state is "processing").
    progress: float = 0.0
    # Remote media: the thumbnail the origin published, the origin's domain (for
    # the per-domain cache quota) and when our local copy was made (it expires).
    thumbnail_remote_url: str | None = Field(default=None, sa_type=sa.Text)
    remote_domain: str | None = Field(default=None, index=True)
    cached_at: datetime | None = datetime_field(nullable=True)
    # Provenance: the IPTC digital source type (e.g. "trainedAlgorithmicMedia")
    # and what an embedded C2PA manifest said, when there was one.
    digital_source_type: str | None = None
    c2pa: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    created_at: datetime = datetime_field()
    updated_at: datetime = datetime_field(onupdate=True)
