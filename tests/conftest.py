"""Database fixtures: every database test runs on SQLite and on PostgreSQL.

``database_url`` is an empty database (a file under ``tmp_path`` or a fresh
PostgreSQL database, see ``tests/pg.py``); ``migrated_url`` is the same after
``fedisora db upgrade`` (a copy of a migrated template, see ``tests/templates.py``); ``engine`` is an engine on it, disposed afterwards; ``here`` is one in-process instance,
``video.example.org``, on that database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from fedisora.db.engine import make_engine
from tests.federation import Fediverse, Instance
from tests.pg import fresh_pg_database, skip_or_fail_without_postgres
from tests.templates import migrate, pg_template, remember_migrated, sqlite_copy


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Empty, unless the test also asks for ``migrated_url``: then it is made migrated
    (copied from a template) rather than migrated afterwards."""
    migrated = "migrated_url" in request.fixturenames
    if request.param == "sqlite":
        path = tmp_path / "t.db"
        yield await sqlite_copy(path) if migrated else f"sqlite+aiosqlite:///{path}"
        return
    admin = skip_or_fail_without_postgres()
    template = await pg_template(admin) if migrated else None
    async with fresh_pg_database(admin, template=template) as url:
        yield remember_migrated(url) if migrated else url


@pytest.fixture
async def migrated_url(database_url: str) -> str:
    await migrate(database_url)  # nothing left to do for a template copy
    return database_url


@pytest.fixture
async def engine(migrated_url: str) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(migrated_url)
    try:
        yield eng
    finally:
        await eng.dispose()


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[Fediverse]:
    """An empty in-process fediverse; tests add instances with ``await world.add(domain)``."""
    fediverse = Fediverse(tmp_path)
    try:
        yield fediverse
    finally:
        await fediverse.close()


@pytest.fixture
async def here(tmp_path: Path, migrated_url: str) -> AsyncIterator[Instance]:
    """One instance, ``video.example.org``, on ``migrated_url`` (SQLite and PostgreSQL)."""
    fediverse = Fediverse(tmp_path)
    try:
        yield await fediverse.add("video.example.org", migrated_url)
    finally:
        await fediverse.close()
