"""Programmatic alembic: the only way fedisora changes a database schema.

All public functions are ``async``.  Alembic itself is synchronous and our
``migrations/env.py`` drives an async engine with :func:`asyncio.run`, so the
alembic commands run in a worker thread (:func:`asyncio.to_thread`); that makes
these functions safe to await from a running event loop (app startup, CLI
``asyncio.run``).  Revision ids are the plain alembic ids (e.g. ``"0001"``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

import migrations
from fedisora.db.engine import make_engine, normalize_url

__all__ = [
    "DatabaseNotCurrent",
    "ProgressCallback",
    "alembic_config",
    "head_revision",
    "current_revision",
    "pending_revisions",
    "upgrade",
    "downgrade",
    "ensure_current",
]

ProgressCallback = Callable[[str, int, int], None]

SCRIPT_LOCATION = str(Path(migrations.__file__).resolve().parent)


class DatabaseNotCurrent(Exception):
    """The database schema is not the one this code expects.

    ``current`` is the database's revision (``None`` when never migrated),
    ``head`` the revision this fedisora needs, ``ahead`` whether the database
    was migrated by a newer fedisora (its revision is unknown here).
    """

    def __init__(self, current: str | None, head: str, *, ahead: bool = False) -> None:
        self.current = current
        self.head = head
        self.ahead = ahead
        if current is None:
            msg = f"database is empty (no migrations applied) but this fedisora needs {head!r}"
        elif ahead:
            msg = (
                f"database is at revision {current!r}, which this fedisora does not know "
                f"(it needs {head!r}); the database was probably upgraded by a newer "
                "fedisora version"
            )
        else:
            msg = f"database is at revision {current!r} but this fedisora needs {head!r}"
        super().__init__(msg)


def alembic_config(url: str | None = None) -> Config:
    """An in-memory alembic :class:`Config` pointing at the installed migrations."""
    cfg = Config()
    cfg.set_main_option("script_location", SCRIPT_LOCATION)
    cfg.set_main_option("path_separator", "os")  # avoids alembic's legacy-split warning
    if url is not None:
        cfg.attributes["database_url"] = normalize_url(url)
    return cfg


def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The newest revision shipped with this code."""
    head = _script().get_current_head()
    if head is None:  # pragma: no cover - we always ship 0001
        raise RuntimeError("no migrations found")
    return head


async def current_revision(url: str) -> str | None:
    """The database's revision, or ``None`` for an empty/unmigrated database."""

    def _get(conn: Connection) -> str | None:
        return MigrationContext.configure(conn).get_current_revision()

    engine = make_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_get)
    finally:
        await engine.dispose()


def _is_known(script: ScriptDirectory, revision: str) -> bool:
    try:
        return script.get_revision(revision) is not None
    except CommandError:
        return False


def _steps(script: ScriptDirectory, current: str | None, target: str) -> list[Script]:
    """Scripts to apply, oldest first, to go from ``current`` up to ``target``."""
    if current is not None and not _is_known(script, current):
        raise DatabaseNotCurrent(current, head_revision(), ahead=True)
    return list(reversed(list(script.iterate_revisions(target, current or "base"))))


async def pending_revisions(url: str) -> list[str]:
    """Revisions not yet applied, oldest first (empty when current).

    Raises :class:`DatabaseNotCurrent` (``ahead=True``) for an unknown revision.
    """
    current = await current_revision(url)
    return [s.revision for s in _steps(_script(), current, "heads")]


def _label(script: Script) -> str:
    doc = (script.doc or "").strip()
    return f"{script.revision} {doc}".strip()


async def upgrade(
    url: str,
    revision: str = "head",
    progress: ProgressCallback | None = None,
) -> list[str]:
    """Apply pending migrations one by one and return the revisions applied.

    ``progress(label, index, total)`` is called in the caller's thread before
    each step (``index`` = steps finished so far) and after it (``index + 1``);
    ``label`` is ``"<revision> <message>"``.
    """
    script = _script()
    steps = _steps(script, await current_revision(url), revision)
    cfg = alembic_config(url)
    total = len(steps)
    applied: list[str] = []
    for index, step in enumerate(steps):
        label = _label(step)
        if progress is not None:
            progress(label, index, total)
        await asyncio.to_thread(command.upgrade, cfg, step.revision)
        applied.append(step.revision)
        if progress is not None:
            progress(label, index + 1, total)
    return applied


async def downgrade(url: str, revision: str = "base") -> None:
    """Downgrade to ``revision`` (``"base"`` drops everything).  For tests/admins."""
    await asyncio.to_thread(command.downgrade, alembic_config(url), revision)


async def ensure_current(url: str) -> None:
    """Raise :class:`DatabaseNotCurrent` unless the database is at head."""
    head = head_revision()
    current = await current_revision(url)
    if current == head:
        return
    if current is not None and not _is_known(_script(), current):
        raise DatabaseNotCurrent(current, head, ahead=True)
    raise DatabaseNotCurrent(current, head)
