"""What actors do to posts and to each other besides following: likes, blocks, mentions."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field

from fedisora.db.models.base import Base, datetime_field, snowflake_pk

__all__ = ["Like", "Block", "Mention"]


class Like(Base, table=True):
    """``actor`` liked (favourited) ``status``; ``uri`` is the Like activity id."""

    __tablename__ = "likes"
    __table_args__ = (sa.UniqueConstraint("actor_id", "status_id"),)

    id: int = snowflake_pk()
    uri: str | None = Field(default=None, unique=True)
    actor_id: int = Field(sa_type=sa.BigInteger, foreign_key="actors.id", ondelete="CASCADE")
    status_id: int = Field(
        sa_type=sa.BigInteger, foreign_key="statuses.id", ondelete="CASCADE", index=True
    )
    created_at: datetime = datetime_field()


class Block(Base, table=True):
    """``actor`` blocks ``target``: no follows either way, nothing delivered to or shown from them."""

    __tablename__ = "blocks"
    __table_args__ = (sa.UniqueConstraint("actor_id", "target_id"),)

    id: int = snowflake_pk()
    uri: str | None = Field(default=None, unique=True)
    actor_id: int = Field(sa_type=sa.BigInteger, foreign_key="actors.id", ondelete="CASCADE")
    target_id: int = Field(
        sa_type=sa.BigInteger, foreign_key="actors.id", ondelete="CASCADE", index=True
    )
    created_at: datetime = datetime_field()


class Mention(Base, table=True):
    """``status`` mentions ``actor`` (addressing for direct posts, notifications later)."""

    __tablename__ = "mentions"
    __table_args__ = (sa.UniqueConstraint("status_id", "actor_id"),)

    id: int | None = Field(default=None, primary_key=True)
    status_id: int = Field(sa_type=sa.BigInteger, foreign_key="statuses.id", ondelete="CASCADE")
    actor_id: int = Field(
        sa_type=sa.BigInteger, foreign_key="actors.id", ondelete="CASCADE", index=True
    )
