"""Statuses (posts): local and remote Notes/Videos, replies and boosts."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from fedisora.db.models.base import Base, datetime_field, snowflake_pk

__all__ = ["Visibility", "Status"]


class Visibility(StrEnum):
    PUBLIC = "public"
    UNLISTED = "unlisted"
    PRIVATE = "private"
    DIRECT = "direct"


class Status(Base, table=True):
    """A post.  A boost is a row with ``reblog_of_id`` set and empty content."""

    __tablename__ = "statuses"
    __table_args__ = (
        sa.Index("ix_statuses_actor_id_id", "actor_id", "id"),
        sa.Index("ix_statuses_in_reply_to_id", "in_reply_to_id"),
    )

    id: int = snowflake_pk()
    uri: str = Field(unique=True)
    url: str | None = None
    actor_id: int = Field(sa_type=sa.BigInteger, foreign_key="actors.id", ondelete="CASCADE")
    local: bool = False
    object_type: str = "Note"
    visibility: str = Visibility.PUBLIC.value
    content: str = Field(default="", sa_type=sa.Text)  # HTML
    source_text: str | None = Field(default=None, sa_type=sa.Text)
    summary: str = Field(default="", sa_type=sa.Text)  # content warning
    sensitive: bool = False
    language: str | None = None
    in_reply_to_uri: str | None = None
    in_reply_to_id: int | None = Field(
        default=None, sa_type=sa.BigInteger, foreign_key="statuses.id", ondelete="SET NULL"
    )
    conversation_uri: str | None = None
    reblog_of_id: int | None = Field(
        default=None,
        sa_type=sa.BigInteger,
        foreign_key="statuses.id",
        ondelete="CASCADE",
        index=True,
    )
    published_at: datetime = datetime_field()
    edited_at: datetime | None = datetime_field(nullable=True)
    deleted_at: datetime | None = datetime_field(nullable=True)
    raw: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON(none_as_null=True))
    created_at: datetime = datetime_field()
