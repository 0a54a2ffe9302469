"""PostgreSQL helpers for tests: find an admin URL, create throwaway databases.

A PostgreSQL is used when ``FEDISORA_TEST_DATABASE_URL`` is set (an asyncpg
URL of a database whose user may CREATE DATABASE) or when 127.0.0.1:5432
accepts a TCP connection.  Each test gets its own freshly created database
(``fedisora_t_<pid>_<hex>``), dropped ``WITH (FORCE)`` afterwards, so several
test runs can share one server.  With ``FEDISORA_TEST_REQUIRE_POSTGRES=1`` a
missing server is a failure instead of a skip (for CI).
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy.engine import make_url

__all__ = [
    "DEFAULT_ADMIN_URL",
    "pg_admin_url",
    "require_postgres",
    "skip_or_fail_without_postgres",
    "fresh_pg_database",
]

DEFAULT_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
ENV_URL = "FEDISORA_TEST_DATABASE_URL"
ENV_REQUIRE = "FEDISORA_TEST_REQUIRE_POSTGRES"

_probe_cache: dict[tuple[str, int], bool] = {}


def _reachable(host: str, port: int, timeout: float = 0.5) -> bool:
    key = (host, port)
    if key not in _probe_cache:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                _probe_cache[key] = True
        except OSError:
            _probe_cache[key] = False
    return _probe_cache[key]


def pg_admin_url() -> str | None:
    """The admin URL to create test databases with, or ``None`` if no server."""
    url = os.environ.get(ENV_URL)
    if url:
        parsed = make_url(url)
        if parsed.host is None or parsed.host.startswith("/"):  # unix socket: just try it
            return url
        return url if _reachable(parsed.host, parsed.port or 5432) else None
    if _reachable("127.0.0.1", 5432):
        return DEFAULT_ADMIN_URL
    return None


def require_postgres() -> bool:
    return os.environ.get(ENV_REQUIRE, "") not in ("", "0", "false", "no")


def skip_or_fail_without_postgres() -> str:
    """Return the admin URL, or skip (fail with REQUIRE_POSTGRES) the test."""
    url = pg_admin_url()
    if url is not None:
        return url
    configured = os.environ.get(ENV_URL)
    if configured:
        msg = f"PostgreSQL at {ENV_URL}={configured!r} is not reachable"
    else:
        msg = f"PostgreSQL not available: set {ENV_URL} or run a server on 127.0.0.1:5432"
    if require_postgres():
        pytest.fail(f"{msg} ({ENV_REQUIRE} is set)", pytrace=False)
    pytest.skip(msg)
    raise AssertionError("unreachable")  # pragma: no cover


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@asynccontextmanager
async def fresh_pg_database(admin_url: str | None = None, *, template: str | None = None) -> AsyncIterator[str]:
    """Create an empty database (a copy of database ``template`` if given), yield its
    ``postgresql+asyncpg`` URL, drop it."""
    import asyncpg

    admin = admin_url or skip_or_fail_without_postgres()
    name = f"fedisora_t_{os.getpid()}_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(_asyncpg_dsn(admin))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    finally:
        await conn.close()
    try:
        yield make_url(admin).set(drivername="postgresql+asyncpg", database=name).render_as_string(
            hide_password=False
        )
    finally:
        conn = await asyncpg.connect(_asyncpg_dsn(admin))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()
