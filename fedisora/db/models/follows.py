"""Follow relationships between actors."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field

from fedisora.db.models.base import Base, datetime_field, snowflake_pk

__all__ = ["FollowState", "Follow"]


class FollowState(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class Follow(Base, table=True):
    """``follower`` follows ``target``; ``uri`` is the Follow activity id."""

    __tablename__ = "follows"
    __table_args__ = (sa.UniqueConstraint("follower_id", "target_id"),)

    id: int = snowflake_pk()
    uri: str | None = Field(default=None, unique=True)
    follower_id: int = Field(sa_type=sa.BigInteger, foreign_key="actors.id", ondelete="CASCADE")
    target_id: int = Field(
        sa_type=sa.BigInteger, foreign_key="actors.id", ondelete="CASCADE", index=True
    )
    state: str = FollowState.PENDING.value
    created_at: datetime = datetime_field()
    updated_at: datetime = datetime_field(onupdate=True)
