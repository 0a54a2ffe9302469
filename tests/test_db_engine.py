"""Engine construction, URL handling, SQLite pragmas, snowflake ids."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from fedisora.db.engine import make_engine, make_sessionmaker, normalize_url, ping
from fedisora.db.ids import MAX_ID, SnowflakeGenerator, id_for_time, new_id, time_of_id


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("sqlite+aiosqlite:////abs/x.db", "sqlite+aiosqlite:////abs/x.db"),
        ("postgres://u:p@h/db", "postgresql+asyncpg://u:p@h/db"),
        ("postgresql://u@h:5433/db", "postgresql+asyncpg://u@h:5433/db"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
    ],
)
def test_normalize_url(given: str, expected: str) -> None:
    assert normalize_url(given) == expected


@pytest.mark.parametrize(
    "bad", ["mysql://u@h/db", "postgresql+psycopg://u@h/db", "nonsense", "sqlite+pysqlite:///x"]
)
def test_unsupported_scheme(bad: str) -> None:
    with pytest.raises(ValueError, match="sqlite\\+aiosqlite.*postgresql\\+asyncpg"):
        normalize_url(bad)
    with pytest.raises(ValueError):
        make_engine(bad)


async def test_sqlite_pragmas_and_parent_dir(tmp_path: Path) -> None:
    db = tmp_path / "nested" / "dir" / "f.db"
    engine = make_engine(f"sqlite:///{db}")
    try:
        assert db.parent.is_dir()
        async with engine.connect() as conn:
            values = {
                p: (await conn.execute(sa.text(f"PRAGMA {p}"))).scalar()
                for p in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
            }
        assert values == {
            "journal_mode": "wal",
            "foreign_keys": 1,
            "busy_timeout": 5000,
            "synchronous": 1,  # NORMAL
        }
        await ping(engine)
    finally:
        await engine.dispose()


async def test_ping_and_sessionmaker(engine: sa.ext.asyncio.AsyncEngine) -> None:
    await ping(engine)
    sessions = make_sessionmaker(engine)
    async with sessions() as session:
        assert session.sync_session.expire_on_commit is False
        assert (await session.exec(sa.select(sa.literal(1)))).one()[0] == 1


async def test_ping_fails_for_unreachable_postgres() -> None:
    engine = make_engine("postgresql://nobody@127.0.0.1:1/none")
    try:
        with pytest.raises(OSError):
            await ping(engine)
    finally:
        await engine.dispose()


def test_snowflakes_monotonic_and_time_ordered() -> None:
    before = datetime.now(timezone.utc)
    ids = [new_id() for _ in range(10_000)]
    after = datetime.now(timezone.utc)
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(0 < i <= MAX_ID for i in ids)
    assert id_for_time(before - timedelta(milliseconds=1)) <= ids[0]
    assert ids[-1] < id_for_time(after + timedelta(milliseconds=2))
    assert before - timedelta(milliseconds=1) <= time_of_id(ids[0]) <= after


def test_snowflake_same_millisecond_and_clock_going_back() -> None:
    gen = SnowflakeGenerator()
    a = gen.next_id(now_ms=1_700_000_000_000)
    b = gen.next_id(now_ms=1_700_000_000_000)
    c = gen.next_id(now_ms=1_699_999_999_000)  # clock stepped back
    assert a < b < c
    assert a >> 16 == 1_700_000_000_000


def test_snowflakes_thread_safe() -> None:
    gen = SnowflakeGenerator()
    out: list[list[int]] = [[] for _ in range(4)]

    def work(bucket: list[int]) -> None:
        for _ in range(5000):
            bucket.append(gen.next_id())

    threads = [threading.Thread(target=work, args=(b,)) for b in out]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    flat = [i for b in out for i in b]
    assert len(set(flat)) == len(flat)
    assert all(b == sorted(b) for b in out)


def test_id_for_time() -> None:
    dt = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
    assert id_for_time(dt) == int(dt.timestamp() * 1000) << 16
    assert id_for_time(dt.replace(tzinfo=None)) == id_for_time(dt)  # naive = UTC
    assert time_of_id(id_for_time(dt)) == dt
    assert id_for_time(dt) < id_for_time(dt + timedelta(milliseconds=1))
