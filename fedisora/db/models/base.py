"""Shared model plumbing: the metadata (with a naming convention), UTC datetimes.

All fedisora tables hang off :data:`metadata` rather than SQLModel's global one,
so that every constraint and index gets a deterministic name.  Explicit names
are what make later SQLite "batch" migrations (which recreate tables) and
``DROP CONSTRAINT`` on PostgreSQL possible.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from fedisora.db.ids import new_id

__all__ = [
    "NAMING_CONVENTION",
    "metadata",
    "Base",
    "UTCDateTime",
    "utcnow",
    "new_id",
    "datetime_field",
    "snowflake_pk",
]

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    """Current time as an aware UTC datetime (the only kind we store)."""
    return datetime.now(timezone.utc)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that always hands back aware UTC datetimes.

    PostgreSQL stores ``timestamptz`` and returns aware values; SQLite has no
    timezone support and returns naive ones.  Binding converts everything to
    UTC (naive input is taken to *be* UTC) so SQLite's text comparison of
    timestamps stays correct, and results are tagged UTC on the way out.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        value = value.astimezone(timezone.utc)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Base(SQLModel):
    """Base class for every fedisora table model (uses :data:`metadata`)."""

    metadata: ClassVar[sa.MetaData] = metadata


def datetime_field(*, nullable: bool = False, onupdate: bool = False, **kw: Any) -> Any:
    """A UTC timestamp column; non-nullable ones default to "now"."""
    if nullable:
        return Field(default=None, sa_type=UTCDateTime, nullable=True, **kw)
    extra: dict[str, Any] = {"sa_column_kwargs": {"onupdate": utcnow}} if onupdate else {}
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, **extra, **kw)


def snowflake_pk() -> Any:
    """A BIGINT primary key defaulting to a new time-sortable id."""
    return Field(default_factory=new_id, primary_key=True, sa_type=sa.BigInteger)
