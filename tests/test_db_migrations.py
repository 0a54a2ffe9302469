"""Migrations build exactly the schema the models describe, on both backends."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from fedisora.db import migrate
from fedisora.db.engine import make_engine
from fedisora.db.models import metadata

EXPECTED_TABLES = {
    "likes",
    "blocks",
    "mentions",
    "domains",
    "actors",
    "users",
    "keys",
    "follows",
    "statuses",
    "activities",
    "media_attachments",
    "jobs",
    "oauth_applications",
    "oauth_authorization_codes",
    "oauth_tokens",
}


async def _table_names(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def _schema_diff(url: str) -> list[object]:
    def _compare(conn: Connection) -> list[object]:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(ctx, metadata))

    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_compare)
    finally:
        await engine.dispose()


ALL_REVISIONS = ["0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008", "0009"]  # extend with every new migration


def test_head_revision_is_the_newest() -> None:
    assert migrate.head_revision() == ALL_REVISIONS[-1]


async def test_upgrade_empty_database(database_url: str) -> None:
    assert await migrate.current_revision(database_url) is None
    assert await migrate.pending_revisions(database_url) == ALL_REVISIONS
    calls: list[tuple[str, int, int]] = []
    applied = await migrate.upgrade(database_url, progress=lambda *a: calls.append(a))
    assert applied == ALL_REVISIONS
    total = len(ALL_REVISIONS)
    assert [(i, n) for _, i, n in calls] == [
        (i + d, total) for i in range(total) for d in (0, 1)
    ]
    assert calls[0][0].startswith("0001")
    assert await migrate.current_revision(database_url) == migrate.head_revision()
    assert await migrate.pending_revisions(database_url) == []
    assert EXPECTED_TABLES <= await _table_names(database_url)
    # already current: nothing to do
    assert await migrate.upgrade(database_url) == []


async def test_models_match_migrated_schema(migrated_url: str) -> None:
    """Guards "schema only ever changes through a migration"."""
    assert await _schema_diff(migrated_url) == []


async def test_schema_diff_detects_drift(migrated_url: str) -> None:
    """The guard above is not vacuous: a schema change outside migrations shows."""
    engine = make_engine(migrated_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text("DROP INDEX ix_jobs_kind"))
            await conn.execute(sa.text("CREATE TABLE stray (id INTEGER PRIMARY KEY)"))
    finally:
        await engine.dispose()
    diff = await _schema_diff(migrated_url)
    kinds = {d[0] for d in diff if isinstance(d, tuple)}
    assert {"add_index", "remove_table"} <= kinds


async def test_downgrade_to_base_drops_everything(migrated_url: str) -> None:
    await migrate.downgrade(migrated_url, "base")
    assert await migrate.current_revision(migrated_url) is None
    assert await _table_names(migrated_url) <= {"alembic_version"}


async def test_ensure_current(database_url: str) -> None:
    head = migrate.head_revision()
    with pytest.raises(migrate.DatabaseNotCurrent) as empty:
        await migrate.ensure_current(database_url)
    assert empty.value.current is None and empty.value.head == head
    assert "empty" in str(empty.value)

    await migrate.upgrade(database_url)
    await migrate.ensure_current(database_url)

    engine = make_engine(database_url)
    try:
        async with engine.begin() as conn:  # pretend the database is behind
            await conn.execute(sa.text("UPDATE alembic_version SET version_num = 'base0'"))
    finally:
        await engine.dispose()
    # an unknown revision means the database is *ahead* of this code
    with pytest.raises(migrate.DatabaseNotCurrent) as ahead:
        await migrate.ensure_current(database_url)
    assert ahead.value.ahead and ahead.value.current == "base0"
    assert "does not know" in str(ahead.value)


async def test_ensure_current_behind(database_url: str) -> None:
    await migrate.upgrade(database_url, "0001")
    head = migrate.head_revision()
    with pytest.raises(migrate.DatabaseNotCurrent) as behind:
        await migrate.ensure_current(database_url)
    assert (behind.value.current, behind.value.head) == ("0001", head)
    assert str(behind.value) == f"database is at revision '0001' but this fedisora needs '{head}'"
    assert not behind.value.ahead
    assert await migrate.upgrade(database_url) == ALL_REVISIONS[1:]
    await migrate.ensure_current(database_url)


async def test_upgrade_to_explicit_revision(database_url: str) -> None:
    # awaited inside a running loop, as app startup does: alembic runs in a thread
    assert await migrate.upgrade(database_url, "0001") == ["0001"]
    assert await migrate.current_revision(database_url) == "0001"
