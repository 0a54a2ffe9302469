"""Row locks for read-modify-write updates that two processes may make at once.

``lock_row`` makes the current transaction the only writer of one row until
it commits: ``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite, whose reads
take no lock, a no-op ``UPDATE`` of the row, which starts the write
transaction (SQLite has one writer at a time; the busy timeout makes the
others wait).  The ``UPDATE`` sets every column with an ``onupdate`` default
(``updated_at``) to its own value too, so locking changes nothing.  Read the row after locking it, with ``populate_existing``, so
the values changed are the latest committed ones.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

__all__ = ["lock_row"]


async def lock_row(session: AsyncSession, model: Any, pk: int) -> None:
    """Lock the row of ``model`` whose primary key ``id`` is ``pk`` (nothing happens when there is none)."""
    table = model.__table__
    if session.bind.dialect.name == "postgresql":
        await session.exec(sa.select(table.c.id).where(table.c.id == pk).with_for_update())  # type: ignore[call-overload]
    else:
        # Each column to itself: an onupdate column left out would be set anew.
        same = {c.name: c for c in table.c if c.onupdate is not None or c.name == "id"}
        await session.exec(sa.update(table).where(table.c.id == pk).values(**same))  # type: ignore[call-overload]
