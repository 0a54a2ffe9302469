"""Dialect-aware ``INSERT … ON CONFLICT``: the one switch between PostgreSQL and SQLite.

Both dialects spell it the same way in SQLAlchemy (``on_conflict_do_nothing``,
``on_conflict_do_update``), but from different modules; :func:`insert` picks the
right one for a session or connection, and :func:`insert_missing` is the common
case: insert a row unless one with the same unique key exists (safe when two
transactions insert the same row at once).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

__all__ = ["insert", "insert_missing"]


def insert(bind: AsyncSession | AsyncConnection | AsyncEngine, table: Any) -> Any:
    """An ``INSERT`` into ``table`` (a table or a model) that supports ``on_conflict_*`` on
    ``bind``'s database."""
    dialect = bind.bind.dialect.name if isinstance(bind, AsyncSession) else bind.dialect.name
    return (pg_insert if dialect == "postgresql" else sqlite_insert)(table)


async def insert_missing(session: AsyncSession, table: sa.Table, values: dict[str, Any]) -> bool:
    """Insert ``values`` unless a row conflicts on any unique constraint; whether it was inserted.

    On PostgreSQL a concurrent transaction inserting the same key makes this wait for
    it and then do nothing, so callers re-read the row afterwards and find it.
    """
    stmt = insert(session, table).values(**values).on_conflict_do_nothing()
    result = await session.exec(stmt.returning(*table.primary_key.columns))  # type: ignore[call-overload]
    return result.first() is not None
