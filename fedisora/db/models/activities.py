"""Raw activities: every one received in an inbox and every local one sent.

The unique ``uri`` makes inbox processing idempotent: a redelivered activity
fails the insert and can be ignored.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from fedisora.db.models.base import Base, datetime_field, snowflake_pk

__all__ = ["ActivityState", "Activity"]


class ActivityState(StrEnum):
    RECEIVED = "received"
    PROCESSED = "processed"
    FAILED = "failed"
    SENT = "sent"


class Activity(Base, table=True):
    __tablename__ = "activities"

    id: int = snowflake_pk()
    uri: str = Field(unique=True)
    activity_type: str
    actor_uri: str = Field(index=True)
    object_uri: str | None = Field(default=None, index=True)
    local: bool = False
    raw: dict[str, Any] = Field(sa_type=sa.JSON, nullable=False)
    state: str = ActivityState.RECEIVED.value
    error: str | None = Field(default=None, sa_type=sa.Text)
    received_at: datetime = datetime_field()
    processed_at: datetime | None = datetime_field(nullable=True)
