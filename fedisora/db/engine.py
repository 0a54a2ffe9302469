"""Engine and session factories for the two supported backends.

SQLite is the zero-setup default for small instances; every connection gets
WAL (readers do not block the writer), enforced foreign keys (off by default
in SQLite!), a busy timeout so concurrent writers wait instead of failing, and
``synchronous=NORMAL`` (safe with WAL, much faster).  PostgreSQL uses asyncpg
with a pre-pinged pool so connections killed by a restart are replaced.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

__all__ = ["SUPPORTED_SCHEMES", "normalize_url", "make_engine", "make_sessionmaker", "ping"]

SUPPORTED_SCHEMES = ("sqlite+aiosqlite", "postgresql+asyncpg")

_ALIASES = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=5000",
    "PRAGMA synchronous=NORMAL",
)


def _unsupported(url: str) -> ValueError:
    return ValueError(
        f"unsupported database URL {url!r}: use one of "
        + ", ".join(f"{s}://" for s in SUPPORTED_SCHEMES)
        + " (plain sqlite://, postgresql:// and postgres:// are accepted too)"
    )


def normalize_url(url: str) -> str:
    """Rewrite ``sqlite://``/``postgres(ql)://`` to the async driver we use.

    Raises ``ValueError`` for any other scheme (e.g. ``mysql://`` or
    ``postgresql+psycopg://``).
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise _unsupported(url)
    driver = _ALIASES.get(scheme.lower())
    if driver is None:
        raise _unsupported(url)
    return f"{driver}://{rest}"


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """Create an :class:`AsyncEngine` for ``url`` (normalised first).

    Extra keyword arguments go to :func:`create_async_engine`.
    """
    normalized = normalize_url(url)
    try:
        parsed = make_url(normalized)
    except ArgumentError as exc:
        raise ValueError(f"invalid database URL {url!r}: {exc}") from exc

    if parsed.drivername == "sqlite+aiosqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(normalized, **kwargs)
        sa.event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
        return engine

    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(normalized, **kwargs)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Session factory; objects stay usable after commit (no implicit reloads,
    which would need I/O that async code cannot do lazily)."""
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


async def ping(engine: AsyncEngine) -> None:
    """Raise if the database cannot answer ``SELECT 1`` (for /healthz)."""
    async with engine.connect() as conn:
        await conn.execute(sa.text("SELECT 1"))
