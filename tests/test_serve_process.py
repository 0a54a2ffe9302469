"""End to end with real processes: ``fedisora serve`` over real HTTP, ``fedisora worker`` running jobs.

Each test ``fedisora init``s an instance, starts the server or worker as a
child process (output in a log file under ``tmp_path``), talks to it like the
outside world does, and stops it with SIGTERM as a service manager would.
Leftover processes are always killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from fedisora import __version__
from fedisora.db.engine import make_engine, make_sessionmaker
from fedisora.db.models import FINISHED_JOB_STATES, Activity, Job, JobState, utcnow
from fedisora.federation.outbox import DELIVER
from fedisora.jobs import queue
from fedisora.workers import MAINTENANCE, next_maintenance_slot
from instance_config import load_config
from tests.processes import (
    Proc,
    cli,
    free_port,
    parallel,
    shown,
    start,
    stop,
    terminate,
    wait_healthy,
)

pytestmark = pytest.mark.slow

NAME = "Process Test Clips"
XRD = "{http://docs.oasis-open.org/ns/xri/xrd-1.0}"
_jobs = Job.__table__  # type: ignore[attr-defined]


def init(tmp_path: Path, domain: str, database_url: str) -> Path:
    result = cli(
        "init", "--domain", domain, "--dev", "--name", NAME, "--data-dir", "D",
        "--database-url", database_url,
        cwd=tmp_path,
    )
    assert result.returncode == 0, shown(result)
    return tmp_path / "D" / "instance.toml"


def assert_clean_stop(proc: Proc, what: str) -> None:
    code, took = terminate(proc)
    log = proc.log()
    assert code == 0, f"{what} exited with {code} after SIGTERM (took {took:.1f}s)\n{log}"
    assert took < 15, f"{what} took {took:.1f}s to stop\n{log}"
    assert "Traceback" not in log, log


async def test_serve_answers_over_real_http_and_stops_cleanly(
    tmp_path: Path, database_url: str
) -> None:
    port = free_port()
    base = f"http://localhost:{port}"
    config_path = init(tmp_path, f"localhost:{port}", database_url)
    created = parallel(
        lambda: cli("account", "create", "alice", "--config", config_path, cwd=tmp_path),
        lambda: cli("account", "create", "bot1", "--bot", "--config", config_path, cwd=tmp_path),
    )
    for result in created:
        assert result.returncode == 0, shown(result)

    server = start(
        "serve", "--config", config_path, "--port", str(port),
        cwd=tmp_path, log_path=tmp_path / "serve.log",
    )
    try:
        health = wait_healthy(server, port)
        assert health.json() == {"status": "ok", "version": __version__, "database": "ok"}

        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5.0) as client:
            landing = client.get("/")
            assert landing.status_code == 200
            assert landing.headers["content-type"].startswith("text/html")
            assert f"<h1>{NAME}</h1>" in landing.text
            assert "<dt>People</dt><dd>2</dd>" in landing.text

            index = client.get("/.well-known/nodeinfo")
            assert index.status_code == 200
            hrefs = [link["href"] for link in index.json()["links"]]
            assert f"{base}/nodeinfo/2.1" in hrefs

            nodeinfo = client.get("/nodeinfo/2.1")
            assert nodeinfo.status_code == 200
            doc = nodeinfo.json()
            assert doc["software"]["name"] == "fedisora"
            assert doc["software"]["version"] == __version__
            assert doc["protocols"] == ["activitypub"]
            assert doc["usage"]["users"]["total"] == 2  # alice and bot1; not the instance actor
            assert doc["openRegistrations"] is True  # --dev opens registrations
            assert doc["metadata"]["nodeName"] == NAME

            host_meta = client.get("/.well-known/host-meta")
            assert host_meta.status_code == 200
            assert host_meta.headers["content-type"].startswith("application/xrd+xml")
            link = ET.fromstring(host_meta.content).find(f"{XRD}Link")
            assert link is not None
            assert link.get("template") == f"{base}/.well-known/webfinger?resource={{uri}}"

            api = client.get("/api/v1/x")
            assert api.status_code == 404
            assert api.headers["content-type"].startswith("application/json")
            assert isinstance(api.json()["error"], str)

            page = client.get("/x")
            assert page.status_code == 404
            assert page.headers["content-type"].startswith("text/html")

        log = server.log()
        assert f"fedisora serving {base}" in log
        assert "with 2 job runner(s)" in log  # the default [server] workers
        assert "ERROR" not in log, log
        assert_clean_stop(server, "fedisora serve")
    finally:
        stop(server)


async def _job_rows(engine: AsyncEngine) -> list[Job]:
    async with engine.connect() as conn:
        result = await conn.execute(sa.select(_jobs).order_by(_jobs.c.id))
        return [Job(**row._mapping) for row in result.all()]


async def test_worker_process_runs_jobs_and_serve_with_no_workers_does_not(
    tmp_path: Path, database_url: str
) -> None:
    port = free_port()
    config_path = init(tmp_path, f"localhost:{port}", database_url)
    config = load_config(config_path, env={})
    engine = make_engine(config.database_url)
    procs: list[Proc] = []
    try:
        now = utcnow()
        old = await queue.enqueue(engine, "deliver", {"n": "old"})
        recent = await queue.enqueue(engine, "deliver", {"n": "recent"})
        async with engine.begin() as conn:
            for job, age in ((old, 8), (recent, 1)):
                await conn.execute(
                    sa.update(_jobs)
                    .where(_jobs.c.id == job.id)
                    .values(state=JobState.DONE.value, finished_at=now - timedelta(days=age))
                )
        due = await queue.enqueue(engine, MAINTENANCE, {}, run_at=now)

        worker = start(
            "worker", "--config", config_path, cwd=tmp_path, log_path=tmp_path / "worker.log"
        )
        procs.append(worker)
        deadline = time.monotonic() + 20
        while True:
            job = await queue.get_job(engine, due.id)
            assert job is not None
            if job.state in FINISHED_JOB_STATES:
                break
            if worker.popen.poll() is not None:
                pytest.fail(f"worker exited with {worker.popen.returncode}\n{worker.log()}")
            if time.monotonic() > deadline:
                pytest.fail(f"maintenance job still {job.state} after 20s\n{worker.log()}")
            await asyncio.sleep(0.2)
        assert job.state == JobState.DONE.value, (job, worker.log())
        assert job.attempts == 1 and job.locked_by is None

        assert await queue.get_job(engine, old.id) is None  # finished 8 days ago: forgotten
        assert await queue.get_job(engine, recent.id) is not None  # 1 day ago: kept
        slots = {next_maintenance_slot(now), next_maintenance_slot(utcnow())}
        pending = [j for j in await _job_rows(engine) if j.state == JobState.PENDING.value]
        assert [j.kind for j in pending] == [MAINTENANCE], pending
        assert pending[0].run_at in slots
        assert pending[0].dedupe_key == f"{MAINTENANCE}:{pending[0].run_at:%Y-%m-%dT%H}"

        assert_clean_stop(worker, "fedisora worker")
        assert "fedisora worker: " in worker.log()

        # `serve --workers 0` answers requests but runs no jobs and schedules none.
        waiting = await queue.enqueue(engine, MAINTENANCE, {}, run_at=utcnow())
        before = len(await _job_rows(engine))
        server = start(
            "serve", "--config", config_path, "--port", str(port), "--workers", "0",
            cwd=tmp_path, log_path=tmp_path / "serve.log",
        )
        procs.append(server)
        wait_healthy(server, port)
        await asyncio.sleep(2.0)  # a job runner polls every second
        job = await queue.get_job(engine, waiting.id)
        assert job is not None and job.state == JobState.PENDING.value and job.attempts == 0
        assert len(await _job_rows(engine)) == before
        assert "with 0 job runner(s)" in server.log()
    finally:
        for proc in procs:
            stop(proc)
        await engine.dispose()



class _Silent:
    """A loopback peer that accepts connections and never answers: a delivery to it hangs."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = int(self.sock.getsockname()[1])
        self.held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self.sock.accept()
                self.held.append(conn)

    def close(self) -> None:
        for conn in self.held:
            conn.close()
        self.sock.close()


async def _holder(engine: AsyncEngine, job_id: int) -> tuple[str | None, int]:
    job = await queue.get_job(engine, job_id)
    assert job is not None
    return (job.locked_by if job.state == JobState.RUNNING.value else None), job.attempts


async def test_jobs_of_a_killed_worker_come_back_within_the_lock(tmp_path: Path, database_url: str) -> None:
    """``kill -9`` a worker in the middle of a delivery: another worker takes the job up once the
    lock (here 1.5 s) runs out, while the job is never taken from the live worker before."""
    lock = 1.5
    env = {"FEDISORA_SERVER__JOB_LOCK_SECONDS": str(lock)}
    port = free_port()
    config_path = init(tmp_path, f"localhost:{port}", database_url)
    created = cli("account", "create", "alice", "--config", config_path, cwd=tmp_path)
    assert created.returncode == 0, shown(created)
    config = load_config(config_path, env={})
    engine = make_engine(config.database_url)
    peer = _Silent()
    procs: list[Proc] = []
    try:
        async with make_sessionmaker(engine)() as session:
            activity = Activity(
                uri=f"{config.base_url}/activities/1", activity_type="Create", local=True,
                actor_uri=f"{config.base_url}/users/alice", raw={"type": "Create", "id": f"{config.base_url}/activities/1"},
            )
            session.add(activity)
            await session.commit()
            activity_id = activity.id
        inbox = f"http://127.0.0.1:{peer.port}/inbox"
        job = await queue.enqueue(engine, DELIVER, {"activity_id": activity_id, "inbox": inbox, "host": f"127.0.0.1:{peer.port}"})

        first = start("worker", "--config", config_path, cwd=tmp_path, log_path=tmp_path / "w1.log", env=env)
        procs.append(first)
        deadline = time.monotonic() + 20
        while (await _holder(engine, job.id))[0] is None:
            assert first.popen.poll() is None, first.log()
            assert time.monotonic() < deadline, f"the delivery did not start\n{first.log()}"
            await asyncio.sleep(0.1)
        holder, attempts = await _holder(engine, job.id)
        assert attempts == 1

        second = start("worker", "--config", config_path, cwd=tmp_path, log_path=tmp_path / "w2.log", env=env)
        procs.append(second)
        for _ in range(int(lock * 4 / 0.25)):  # four locks long: the live worker's heartbeats keep it
            assert await _holder(engine, job.id) == (holder, 1), (first.log(), second.log())
            await asyncio.sleep(0.25)

        first.popen.kill()  # SIGKILL: no release, no more heartbeats
        first.popen.wait()
        killed = time.monotonic()
        while (taken := await _holder(engine, job.id))[0] in (holder, None):
            assert time.monotonic() - killed < lock + 5, f"not taken up again\n{second.log()}"
            await asyncio.sleep(0.1)
        took = time.monotonic() - killed
        assert taken[1] == 2, taken
        assert took < lock + 3, f"taken up again after {took:.1f}s"
    finally:
        for proc in procs:
            if proc.popen.poll() is None:
                proc.popen.kill()
            stop(proc)
        peer.close()
        await engine.dispose()
