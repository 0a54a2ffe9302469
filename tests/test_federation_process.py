"""Two real ``fedisora serve`` processes federating over real HTTP on loopback.

Both instances are dev-mode (http:// and loopback peers allowed), each with its
own SQLite database.  Everything the people do goes through the console script
(``account create``, ``follow``, ``post create|delete``); WebFinger, actor
fetches, signed deliveries and inbox processing happen between the servers.
The test reads both databases directly to see what arrived, and checks that a
delivery to a server that is down is retried once it is back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from fedisora.db.engine import make_engine
from fedisora.db.models import Follow, FollowState, Job, JobState, Status, utcnow
from fedisora.federation.outbox import DELIVER
from instance_config import load_config
from tests.processes import Proc, cli, free_port, parallel, shown, start, stop, terminate, wait_healthy

pytestmark = pytest.mark.slow

T = TypeVar("T")
_jobs = Job.__table__  # type: ignore[attr-defined]
_follows = Follow.__table__  # type: ignore[attr-defined]
_statuses = Status.__table__  # type: ignore[attr-defined]
AP = {"Accept": "application/activity+json"}
TIMEOUT = 30.0


@dataclass
class Server:
    """One instance: its directory, port, database and (while running) its process."""

    name: str
    root: Path
    port: int
    engine: AsyncEngine | None = None
    proc: Proc | None = None
    starts: int = 0

    @property
    def domain(self) -> str:
        return f"localhost:{self.port}"

    @property
    def config(self) -> Path:
        return self.root / "D" / "instance.toml"

    @property
    def db(self) -> AsyncEngine:
        assert self.engine is not None
        return self.engine

    def cli(self, *args: str, input: str | None = None) -> Any:
        return cli(*args, "--config", self.config, cwd=self.root, input=input)

    def start(self) -> None:
        self.starts += 1
        self.proc = start(
            "serve", "--config", self.config, "--port", str(self.port),
            cwd=self.root, log_path=self.root / f"serve-{self.starts}.log",
        )
        wait_healthy(self.proc, self.port)

    def stop_cleanly(self) -> None:
        """SIGTERM: the server must exit 0, quickly."""
        assert self.proc is not None
        code, took = terminate(self.proc)
        log, self.proc = self.proc.log(), None
        assert code == 0, f"{self.name} exited with {code} after SIGTERM (took {took:.1f}s)\n{log}"

    def logs(self) -> str:
        return "".join(
            f"--- {self.name} {log.name} ---\n{log.read_text(errors='replace')}"
            for log in sorted(self.root.glob("serve-*.log"))
        )


@pytest.fixture
async def servers(tmp_path: Path) -> AsyncIterator[tuple[Server, Server]]:
    port_a = free_port()
    port_b = free_port()
    while port_b == port_a:
        port_b = free_port()
    a = Server("A", tmp_path / "a", port_a)
    b = Server("B", tmp_path / "b", port_b)
    try:
        yield a, b
    finally:
        for server in (a, b):
            if server.proc is not None:
                stop(server.proc)
            if server.engine is not None:
                await server.engine.dispose()


def tails(*servers: Server, lines: int = 40) -> str:
    out = []
    for server in servers:
        log = server.logs().splitlines()
        out.append(f"=== last {lines} log lines of {server.name} ({server.domain}) ===")
        out.extend(log[-lines:])
    return "\n".join(out)


async def eventually(
    what: str, probe: Callable[[], Awaitable[T | None]], servers: tuple[Server, ...], timeout: float = TIMEOUT
) -> T:
    """Poll ``probe`` until it returns something truthy; fail with both logs otherwise."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        for server in servers:
            if server.proc is not None and server.proc.popen.poll() is not None:
                pytest.fail(f"{server.name} exited with {server.proc.popen.returncode} while waiting for "
                            f"{what}\n{tails(*servers)}")
        last = await probe()
        if last:
            return last
        await asyncio.sleep(0.2)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})\n{tails(*servers)}")


async def follow_states(server: Server) -> list[str]:
    async with server.db.connect() as conn:
        return list((await conn.execute(sa.select(_follows.c.state))).scalars().all())


async def status_row(server: Server, uri: str) -> Any:
    async with server.db.connect() as conn:
        return (await conn.execute(sa.select(_statuses).where(_statuses.c.uri == uri))).first()


async def pending_delivery_to(server: Server, host: str) -> Any:
    """A's delivery job to ``host`` that failed at least once and waits for its retry."""
    async with server.db.connect() as conn:
        rows = (
            await conn.execute(
                sa.select(_jobs).where(
                    _jobs.c.kind == DELIVER, _jobs.c.state == JobState.PENDING.value, _jobs.c.attempts >= 1
                )
            )
        ).all()
    return next((row for row in rows if row.payload.get("host") == host), None)


def post(server: Server, username: str, text: str) -> str:
    result = server.cli("post", "create", username, text)
    assert result.returncode == 0, shown(result)
    return str(result.stdout.splitlines()[0])


async def test_two_servers_follow_post_delete_and_retry_after_downtime(
    servers: tuple[Server, Server],
) -> None:
    a, b = servers
    both = (a, b)
    for server in both:
        server.root.mkdir()
    inits = parallel(
        *(lambda s=s: cli("init", "--domain", s.domain, "--dev", "--data-dir", "D", cwd=s.root) for s in both)  # type: ignore[misc]
    )
    for result in inits:
        assert result.returncode == 0, shown(result)
    for result in parallel(lambda: a.cli("account", "create", "alice"), lambda: b.cli("account", "create", "bob")):
        assert result.returncode == 0, shown(result)
    for server in both:
        server.engine = make_engine(load_config(server.config, env={}).database_url)

    parallel(a.start, b.start)

    # Mutual follow: WebFinger and actor fetches go over HTTP; Follow/Accept are delivered.
    follows = parallel(
        lambda: b.cli("follow", "bob", f"@alice@{a.domain}"),
        lambda: a.cli("follow", "alice", f"@bob@{b.domain}"),
    )
    for result in follows:
        assert result.returncode == 0 and ": pending" in result.stdout, shown(result)

    async def all_accepted() -> bool:
        states = [await follow_states(s) for s in both]
        return all(s == [FollowState.ACCEPTED.value] * 2 for s in states)

    await eventually("both follows to be accepted on both servers", all_accepted, both)
    async with httpx.AsyncClient(timeout=5.0) as client:
        for server, user in ((a, "alice"), (b, "bob")):
            followers = await client.get(f"http://{server.domain}/users/{user}/followers", headers=AP)
            assert followers.status_code == 200 and followers.json()["totalItems"] == 1, followers.text

    # A post reaches the follower's server; its deletion follows it.
    uri = post(a, "alice", "hello bob")
    copy = await eventually(f"B to receive {uri}", lambda: status_row(b, uri), both)
    assert "hello bob" in copy.content and not copy.local

    deleted = a.cli("post", "delete", "alice", uri)
    assert deleted.returncode == 0, shown(deleted)

    async def deleted_on_b() -> bool:
        row = await status_row(b, uri)
        return row is not None and row.deleted_at is not None

    await eventually(f"B to mark {uri} deleted", deleted_on_b, both)

    # B goes down: A's delivery fails and waits for a retry ...
    b.stop_cleanly()
    later = post(a, "alice", "are you there, bob?")
    job = await eventually(
        f"A's delivery to {b.domain} to fail and wait for a retry",
        lambda: pending_delivery_to(a, b.domain), both,
    )
    assert job.run_at > utcnow(), job  # backing off
    assert await status_row(b, later) is None

    # ... B comes back, the back-off is cut short, and the post arrives.
    b.start()
    async with a.db.begin() as conn:
        await conn.execute(
            sa.update(_jobs)
            .where(_jobs.c.id == job.id, _jobs.c.state == JobState.PENDING.value)
            .values(run_at=utcnow())
        )
    arrived = await eventually(f"B to receive {later} after its restart", lambda: status_row(b, later), both)
    assert "are you there" in arrived.content

    for server in both:
        server.stop_cleanly()
    for server in both:
        assert "Traceback" not in server.logs(), tails(server, lines=200)
