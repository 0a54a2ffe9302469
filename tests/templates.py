"""Migrated template databases: a test gets a migrated database by a copy, not by running every migration.

Running the migrations costs about 0.6 s per database (each alembic step
starts its own engine); a test suite that migrates a fresh database for
every test spends minutes on it.  So each test process migrates one template
per database kind, once, with the real :func:`fedisora.db.migrate.upgrade`,
and copies it: a file copy on SQLite, ``CREATE DATABASE … TEMPLATE`` on
PostgreSQL.  The copy is the same schema, byte for byte (the migrations insert
no data).  ``tests/test_db_migrations.py`` still runs the migrations
themselves on empty databases.

Templates are removed when the process exits; PostgreSQL templates left by a
process that died (``fedisora_tpl_<pid>_…``) are dropped by the next one.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import secrets
import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url

from fedisora.db.migrate import upgrade

if TYPE_CHECKING:
    import asyncpg

__all__ = ["sqlite_copy", "pg_template", "migrate", "remember_migrated"]

_sqlite_template: Path | None = None
_pg_templates: dict[str, str] = {}  # admin URL -> template database name
_from_template: set[str] = set()  # URLs of databases copied from a template (already at head)


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _sqlite_template_path() -> Path:
    global _sqlite_template
    if _sqlite_template is None:
        directory = Path(tempfile.mkdtemp(prefix="fedisora-template-"))
        path = directory / "template.db"
        await upgrade(f"sqlite+aiosqlite:///{path}")
        with sqlite3.connect(path) as conn:  # everything in the main file: the copy needs no -wal
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        atexit.register(shutil.rmtree, directory, True)
        _sqlite_template = path
    return _sqlite_template


async def sqlite_copy(path: Path) -> str:
    """A migrated SQLite database at ``path`` (which must not exist yet); its URL."""
    if path.exists():
        raise FileExistsError(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(await _sqlite_template_path(), path)
    return remember_migrated(f"sqlite+aiosqlite:///{path}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        pass
    return True


async def _drop_stale_templates(conn: asyncpg.Connection) -> None:
    rows = await conn.fetch("SELECT datname FROM pg_database WHERE datname LIKE 'fedisora_tpl_%'")
    for row in rows:
        parts = row["datname"].split("_")
        if len(parts) == 4 and parts[2].isdigit() and not _alive(int(parts[2])):
            await conn.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}" WITH (FORCE)')


def _drop_at_exit(admin_url: str, name: str) -> None:
    import asyncpg

    async def drop() -> None:
        conn = await asyncpg.connect(_asyncpg_dsn(admin_url))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    try:
        asyncio.run(drop())
    except Exception:  # the server went away first: the next run drops it as stale
        pass


async def pg_template(admin_url: str) -> str:
    """The name of this process's migrated template database on the server of ``admin_url``."""
    import asyncpg

    name = _pg_templates.get(admin_url)
    if name is not None:
        return name
    name = f"fedisora_tpl_{os.getpid()}_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(_asyncpg_dsn(admin_url))
    try:
        await _drop_stale_templates(conn)
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    atexit.register(_drop_at_exit, admin_url, name)
    url = make_url(admin_url).set(drivername="postgresql+asyncpg", database=name)
    await upgrade(url.render_as_string(hide_password=False))
    _pg_templates[admin_url] = name
    return name


def remember_migrated(url: str) -> str:
    """Note that ``url`` was copied from a template, so :func:`migrate` has nothing to do."""
    _from_template.add(url)
    return url


async def migrate(url: str) -> None:
    """Bring the database at ``url`` to the newest revision, by a template copy when
    it is a SQLite file that does not exist yet."""
    if url in _from_template:
        return
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite") and parsed.database and parsed.database != ":memory:":
        path = Path(parsed.database)
        if not path.exists():
            await sqlite_copy(path)
            return
    await upgrade(url)
