"""Telling a busy database from a broken one.

A database that is busy (SQLite's write lock held past ``busy_timeout``,
PostgreSQL's ``lock_timeout``, serialization failures and deadlocks, no free
connection in the pool) is a temporary condition: callers should answer 503
with ``Retry-After`` and let the client retry, never a 500.  The transaction
that hit it is rolled back by its session, so nothing is half-stored.
"""

from __future__ import annotations

import sqlalchemy.exc

__all__ = ["RETRY_AFTER_SECONDS", "is_busy"]

RETRY_AFTER_SECONDS = 5

# SQLite's messages for SQLITE_BUSY and SQLITE_LOCKED.
SQLITE_BUSY = ("database is locked", "database table is locked", "database schema is locked", "database is busy")
# PostgreSQL SQLSTATEs: lock_not_available (lock_timeout), serialization_failure,
# deadlock_detected, too_many_connections, cannot_connect_now (starting up).
PG_BUSY = {"55P03", "40001", "40P01", "53300", "57P03"}


def is_busy(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it wraps) says the database is busy, not broken."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sqlalchemy.exc.TimeoutError):  # QueuePool: no connection came free in time
            return True
        if isinstance(current, sqlalchemy.exc.DBAPIError) and _busy_dbapi(current.orig):
            return True
        current = current.__cause__ or current.__context__
    return False


def _busy_dbapi(orig: BaseException | None) -> bool:
    if orig is None:
        return False
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if sqlstate in PG_BUSY:
        return True
    message = str(orig).lower()
    return type(orig).__name__ == "OperationalError" and message.startswith(SQLITE_BUSY)
