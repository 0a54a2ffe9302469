"""What the client API keeps per person: notifications, bookmarks, mutes, markers,
post edit history, hashtags of posts, and idempotency keys for posting."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field

from fedisora.db.models.base import Base, datetime_field, snowflake_pk

__all__ = [
    "Notification",
    "NotificationType",
    "Bookmark",
    "Mute",
    "Marker",
    "StatusEdit",
    "StatusTag",
    "IdempotencyKey",
]


class NotificationType:
    MENTION = "mention"
    STATUS = "status"
    REBLOG = "reblog"
    FOLLOW = "follow"
    FOLLOW_REQUEST = "follow_request"
    FAVOURITE = "favourite"
    POLL = "poll"
    UPDATE = "update"
    ALL = ("mention", "status", "reblog", "follow", "follow_request", "favourite", "poll", "update")


class Notification(Base, table=True):
    """Something happened that ``recipient`` (a local actor) should hear about."""

    __tablename__ = "notifications"
    __table_args__ = (
        sa.Index("ix_notifications_recipient_id_id", "recipient_id", "id"),
        # One notification per event: a repeated Like or Follow does not notify twice.
        sa.UniqueConstraint("recipient_id", "type", "from_actor_id", "status_id"),
    )

    id: int = snowflake_pk()
    recipient_id: int = Field(sa_type=sa.BigInteger, foreign_key="actors.id", ondelete="CASCADE")
    type: str
    from_actor_id: int = Field(sa_type=sa.BigInteger, foreign_key="actors.id", ondelete="CASCADE")
    status_id: int | None = Field(
        default=None, sa_type=sa.BigInteger, foreign_key="statuses.id", ondelete="CASCADE"
    )
    created_at: datetime = datetime_field()
    dismissed_at: datetime | None = datetime_field(nullable=True)


class Bookmark(Base, table=True):
    __tablename__ = "bookmarks"
    __table_args__ = (sa.UniqueConstraint("actor_id", "status_id"),)

    id: int = snowflake_pk()
    actor_id: int = Field(sa_type=sa.BigInteger, foreign_key="actors.id", ondelete="CASCADE")
    status_id: int = Field(
        sa_type=sa.BigInteger, foreign_key="statuses.id", ondelete="CASCADE", index=True
    )
    created_at: datetime = datetime_field()


class Mute(Base, table=True):
    """``actor`` does not want to see ``target`` (a local choice, never federated)."""

    __tablename__ = "mutes"
    __table_args__ = (sa.UniqueConstraint("actor_id", "target_id"),)

    id: int = snowflake_pk()
    actor_id: int = Field(sa_type=sa.BigInteger, foreign_key="actors.id", ondelete="CASCADE")
    target_id: int = Field(
        sa_type=sa.BigInteger, foreign_key="actors.id", ondelete="CASCADE", index=True
    )
    notifications: bool = True
    expires_at: datetime | None = datetime_field(nullable=True)
    created_at: datetime = datetime_field()


class Marker(Base, table=True):
    """Where a user stopped reading a timeline (``home`` or ``notifications``)."""

    __tablename__ = "markers"
    __table_args__ = (sa.UniqueConstraint("user_id", "timeline"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE")
    timeline: str
    last_read_id: str
    version: int = 1
    updated_at: datetime = datetime_field(onupdate=True)


class StatusEdit(Base, table=True):
    """One earlier (or the first) version of an edited post, for ``/history``."""

    __tablename__ = "status_edits"

    id: int = snowflake_pk()
    status_id: int = Field(
        sa_type=sa.BigInteger, foreign_key="statuses.id", ondelete="CASCADE", index=True
    )
    content: str = Field(default="", sa_type=sa.Text)
    summary: str = Field(default="", sa_type=sa.Text)
    sensitive: bool = False
    created_at: datetime = datetime_field()


class StatusTag(Base, table=True):
    """A hashtag used by a post (lower-cased name, without ``#``)."""

    __tablename__ = "status_tags"
    __table_args__ = (
        sa.UniqueConstraint("status_id", "name"),
        sa.Index("ix_status_tags_name_status_id", "name", "status_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    status_id: int = Field(sa_type=sa.BigInteger, foreign_key="statuses.id", ondelete="CASCADE")
    name: str


class IdempotencyKey(Base, table=True):
    """``Idempotency-Key`` of a post request: the same key posts once."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (sa.UniqueConstraint("user_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE")
    key: str
    status_id: int = Field(sa_type=sa.BigInteger, foreign_key="statuses.id", ondelete="CASCADE")
    created_at: datetime = datetime_field()
