"""The ``process_media`` job and the clean-up of unattached uploads, on SQLite and PostgreSQL:
refused files fail without a retry, other errors are retried and fail the row at the last
attempt, progress reaches the API while a file is processed, and the hourly maintenance
deletes old unattached media and their files -- but not attached ones, recent ones, or
files another row or an avatar still uses."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from fedisora.convert.common import media_url
from fedisora.db.models import Actor, Job, MediaAttachment, MediaState, utcnow
from fedisora.jobs import queue
from fedisora.media import jobs, processing
from fedisora.media.storage import MediaStorage
from fedisora.workers import MAINTENANCE
from tests.federation import Fediverse, Instance, token_for
from tests.media_samples import image_bytes, make_video


class Env:
    def __init__(self, world: Fediverse, a: Instance) -> None:
        self.world = world
        self.a = a
        self.token = ""

    @property
    def storage(self) -> MediaStorage:
        return MediaStorage.from_config(self.a.config)

    async def alice(self) -> Actor:
        async with self.a.state.sessions() as session:
            return (await session.exec(select(Actor).where(Actor.username == "alice"))).one()

    async def add(self, **fields: Any) -> MediaAttachment:
        async with self.a.state.sessions() as session:
            media = MediaAttachment(actor_id=(await self.alice()).id, **fields)
            session.add(media)
            await session.commit()
            return media

    async def row(self, media_id: int) -> MediaAttachment | None:
        async with self.a.state.sessions() as session:
            return await session.get(MediaAttachment, media_id)

    async def staged(self, data: bytes = b"raw upload", **fields: Any) -> MediaAttachment:
        """A processing row with its staged upload and queued job, as the upload endpoint makes."""
        media = await self.add(state=MediaState.PROCESSING.value, media_type="video", **fields)
        path = jobs.staging_path(self.a.config, media.id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        await jobs.queue_processing(self.a.state.engine, media.id)
        return media

    async def job(self) -> Job:
        async with self.a.state.sessions() as session:
            return (await session.exec(select(Job).where(Job.kind == jobs.PROCESS_MEDIA))).one()


@pytest.fixture
async def env(tmp_path: Path, database_url: str) -> AsyncIterator[Env]:
    world = Fediverse(tmp_path)
    try:
        a = await world.add("a.example", database_url)
        await a.create_account("alice", password="correct horse battery staple")
        env = Env(world, a)
        env.token = await token_for(a, "alice")
        yield env
    finally:
        await world.close()


# ---- processing ---------------------------------------------------------------------------------


async def test_refused_file_fails_without_retry(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise processing.MediaRejected("the video is 10 minutes long; this instance accepts up to 3 minutes")

    monkeypatch.setattr(processing, "process_file", refuse)
    media = await env.staged()
    assert await env.world.settle() == 1
    row = await env.row(media.id)
    assert row is not None and row.state == MediaState.FAILED.value
    assert row.error == "the video is 10 minutes long; this instance accepts up to 3 minutes"
    job = await env.job()
    assert job.state == "done" and job.attempts == 1
    assert not jobs.staging_path(env.a.config, media.id).exists()


async def test_unexpected_errors_are_retried_then_fail(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def crash(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        raise RuntimeError("disk on fire at /secret/path")

    monkeypatch.setattr(processing, "process_file", crash)
    media = await env.staged()
    await env.world.settle()
    job = await env.job()
    assert job.state == "pending" and job.attempts == 1  # retried later
    row = await env.row(media.id)
    assert row is not None and row.state == MediaState.PROCESSING.value
    assert jobs.staging_path(env.a.config, media.id).exists()
    for _ in range(jobs.MAX_ATTEMPTS):
        await env.world.make_due(env.a)
        await env.world.settle()
    assert len(calls) == jobs.MAX_ATTEMPTS
    job = await env.job()
    assert job.state == "dead"
    row = await env.row(media.id)
    assert row is not None and row.state == MediaState.FAILED.value
    assert row.error == jobs.GENERIC_FAILURE  # no internals shown to the user
    assert not jobs.staging_path(env.a.config, media.id).exists()


async def test_a_store_that_fails_fails_the_row_at_the_last_attempt_and_leaves_no_file(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Processing works but storing its result fails (S3 down): each attempt deletes what it
    stored, and the last one marks the row failed instead of leaving it ``processing``."""
    from fedisora.media.storage import LocalStorage, StorageUnavailable

    def process(src: Path, workdir: Path, limits: Any, **kwargs: Any) -> Any:
        out = workdir / "out.png"
        out.write_bytes(b"the processed file " + workdir.name.encode())
        return processing.ProcessedMedia(
            media_type="image", mime_type="image/png", path=out, ext="png", transcoded=True, remuxed=False,
            thumbnail=b"a thumbnail", thumbnail_size=(16, 9), blurhash=None, meta={},
        )  # fmt: skip

    def store_down(self: Any, data: bytes, ext: str) -> Any:
        raise StorageUnavailable("the object store is unreachable")

    monkeypatch.setattr(processing, "process_file", process)
    monkeypatch.setattr(LocalStorage, "store_bytes", store_down)  # the thumbnail, after the file
    media = await env.staged()
    await env.world.settle()
    row = await env.row(media.id)
    assert row is not None and row.state == MediaState.PROCESSING.value  # retried later
    assert list(env.storage.paths()) == []  # the file stored before the failure is gone again
    for _ in range(jobs.MAX_ATTEMPTS):
        await env.world.make_due(env.a)
        await env.world.settle()
    assert (await env.job()).state == "dead"
    row = await env.row(media.id)
    assert row is not None and row.state == MediaState.FAILED.value and row.file_path is None
    assert row.error == jobs.GENERIC_FAILURE
    assert list(env.storage.paths()) == []
    assert not jobs.staging_path(env.a.config, media.id).exists()
    response = await env.a.client.get(  # type: ignore[union-attr]
        f"/api/v1/media/{media.id}", headers={"Authorization": f"Bearer {env.token}"}
    )
    assert response.status_code == 422 and response.json() == {"error": jobs.GENERIC_FAILURE}


async def test_progress_is_visible_while_processing(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jobs, "PROGRESS_INTERVAL", 0.02)
    release = threading.Event()

    def slow(src: Path, workdir: Path, limits: Any, *, progress: Any = None, **kwargs: Any) -> Any:
        progress(0.5)
        assert release.wait(20)
        raise processing.MediaRejected("stopped by the test")

    monkeypatch.setattr(processing, "process_file", slow)
    media = await env.staged()
    runner = asyncio.create_task(env.world.settle())
    try:
        seen = None
        for _ in range(500):
            response = await env.a.client.get(  # type: ignore[union-attr]
                f"/api/v1/media/{media.id}", headers={"Authorization": f"Bearer {env.token}"}
            )
            assert response.status_code == 206
            seen = response.json()["fedisora"]
            if seen["progress"] == 0.5:
                break
            await asyncio.sleep(0.02)
        assert seen == {"state": "processing", "progress": 0.5, "error": None}
    finally:
        release.set()
        await runner
    row = await env.row(media.id)
    assert row is not None and row.state == MediaState.FAILED.value


async def test_an_edit_made_while_the_job_stores_its_result_is_kept(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """The owner sets a thumbnail and focus just as processing finishes: both land, after
    the job's result (the PUT waits for the job's row lock), and neither overwrites the other."""
    from PIL import Image

    clip = make_video(env.world.tmp_path / "clip.mp4", seconds=0.5, width=160, height=96)
    media = await env.staged(clip.read_bytes())
    auth = {"Authorization": f"Bearer {env.token}"}
    assert env.a.client is not None
    put: asyncio.Task[Any] | None = None
    locked = jobs.lock_row

    async def lock_then_edit(session: Any, model: Any, pk: int) -> None:
        nonlocal put
        await locked(session, model, pk)
        put = asyncio.create_task(env.a.client.put(  # type: ignore[union-attr]
            f"/api/v1/media/{media.id}", headers=auth, data={"focus": "0.0,0.5"},
            files={"thumbnail": ("t.png", image_bytes(Image.new("RGB", (320, 180), (200, 30, 30))), "image/png")},
        ))  # fmt: skip
        await asyncio.sleep(0.5)
        assert not put.done()  # it waits for this transaction

    monkeypatch.setattr(jobs, "lock_row", lock_then_edit)
    await env.world.settle()
    assert put is not None
    response = await put
    assert response.status_code == 200, response.text
    entity = response.json()
    assert entity["type"] == "video" and entity["url"].endswith(".mp4")  # the job's result…
    assert entity["meta"]["original"]["width"] == 160
    assert entity["meta"]["focus"] == {"x": 0.0, "y": 0.5}  # …with the edit on top
    assert entity["meta"]["small"]["width"] == 320
    row = await env.row(media.id)
    assert row is not None and row.state == MediaState.READY.value and row.thumbnail_path
    assert entity["preview_url"].endswith(row.thumbnail_path)
    assert (await env.a.client.get(f"/api/v1/media/{media.id}", headers=auth)).json() == entity


async def test_a_cancelled_job_stops_its_transcode_at_the_next_progress_report(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker shutting down cancels its jobs after the grace period: the transcode thread
    stops within a progress tick (not when the whole file is done), the job is given back,
    the upload stays staged, and the next run processes it."""
    import time

    ticks: list[float] = []
    ended = threading.Event()
    real = processing.process_file

    def long_transcode(src: Path, workdir: Path, limits: Any, *, progress: Any = None, **kwargs: Any) -> Any:
        try:
            (workdir / "partial.mp4").write_bytes(b"half a video")
            for step in range(400):  # 20 s if nobody stops it
                progress(step / 400)
                ticks.append(step)
                time.sleep(0.05)
            raise AssertionError("the transcode was not interrupted")
        finally:
            ended.set()

    monkeypatch.setattr(processing, "process_file", long_transcode)
    clip = make_video(env.world.tmp_path / "clip.mp4", seconds=0.5, width=160, height=96)
    media = await env.staged(clip.read_bytes())
    assert env.a.runner is not None
    running = asyncio.create_task(env.a.runner.run_once())
    while len(ticks) < 3:
        await asyncio.sleep(0.02)
    started = time.monotonic()
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    assert ended.is_set() and time.monotonic() - started < 2
    assert len(ticks) < 100
    assert not jobs.work_dir(env.a.config, media.id).exists()
    assert jobs.staging_path(env.a.config, media.id).exists()  # kept for the next worker
    row = await env.row(media.id)
    assert row is not None and row.state == MediaState.PROCESSING.value
    job = await env.job()
    assert job.state == "pending" and job.attempts == 0  # given back, attempt refunded

    monkeypatch.setattr(processing, "process_file", real)
    await env.world.settle()
    row = await env.row(media.id)
    assert row is not None and row.state == MediaState.READY.value


async def test_a_long_transcode_keeps_its_job_by_heartbeats(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """A transcode runs in a thread, so the runner's heartbeats go on renewing the (short) lock:
    no other worker takes the job while it runs, however much longer than the lock it takes."""
    import time

    from fedisora.jobs.runner import JobRunner
    from fedisora.workers import job_handlers

    lock = 0.6
    started, thefts = threading.Event(), []

    def long_transcode(src: Path, workdir: Path, limits: Any, *, progress: Any = None, **kwargs: Any) -> Any:
        started.set()
        time.sleep(lock * 5)  # blocking work, as encoding is
        raise processing.MediaRejected("done waiting")

    monkeypatch.setattr(processing, "process_file", long_transcode)
    media = await env.staged()
    runner = JobRunner(env.a.state.engine, job_handlers(env.a.state), worker_id="live", lock_seconds=lock)
    running = asyncio.create_task(runner.run_once())
    while not started.is_set():
        await asyncio.sleep(0.02)
    while not running.done():
        thefts.append(await queue.claim(env.a.state.engine, "thief", lock_seconds=lock))
        await asyncio.sleep(lock / 2)
    assert await running
    assert len(thefts) >= 5 and not any(thefts)
    job = await env.job()
    assert job.state == "done" and job.attempts == 1
    row = await env.row(media.id)
    assert row is not None and row.state == MediaState.FAILED.value and row.error == "done waiting"


async def test_missing_row_or_upload(env: Env) -> None:
    await jobs.queue_processing(env.a.state.engine, 123456789)  # no such media: nothing to do
    media = await env.add(state=MediaState.PROCESSING.value)  # its upload was lost
    await jobs.queue_processing(env.a.state.engine, media.id)
    assert await env.world.settle() == 2
    row = await env.row(media.id)
    assert row is not None and row.state == MediaState.FAILED.value and row.error == jobs.LOST_UPLOAD
    async with env.a.state.sessions() as session:
        states = {j.state for j in (await session.exec(select(Job).where(Job.kind == jobs.PROCESS_MEDIA))).all()}
    assert states == {"done"}


# ---- clean-up -----------------------------------------------------------------------------------


async def test_cleanup_of_unattached_media(env: Env) -> None:
    storage = env.storage
    old = utcnow() - timedelta(hours=env.a.config.media.unattached_hours + 1)
    only = storage.store_bytes(b"only this upload uses me", "mp4")
    thumb = storage.store_bytes(b"its thumbnail", "jpg")
    shared = storage.store_bytes(b"a file two uploads share", "mp4")
    recent_file = storage.store_bytes(b"uploaded a minute ago", "mp4")
    avatar_file = storage.store_bytes(b"also my avatar", "png")

    posted = await env.a.client.post(  # type: ignore[union-attr]
        "/api/v1/statuses", json={"status": "a post"}, headers={"Authorization": f"Bearer {env.token}"}
    )
    status_id = int(posted.json()["id"])
    gone = await env.add(state="ready", file_path=only.path, thumbnail_path=thumb.path, created_at=old)
    twin = await env.add(state="ready", file_path=shared.path, created_at=old)
    attached = await env.add(state="ready", file_path=shared.path, status_id=status_id, created_at=old)
    recent = await env.add(state="ready", file_path=recent_file.path)
    as_avatar = await env.add(state="ready", file_path=avatar_file.path, created_at=old)
    remote = await env.add(state="ready", remote_url="https://b.example/x.mp4", created_at=old)
    stuck = await env.staged(created_at=old)
    async with env.a.state.sessions() as session:
        alice = (await session.exec(select(Actor).where(Actor.username == "alice"))).one()
        alice.icon_url = media_url(env.a.config, avatar_file.path)
        session.add(alice)
        await session.commit()

    # The hourly maintenance job does it.
    await queue.enqueue(env.a.state.engine, MAINTENANCE, {})
    await env.world.settle()

    for media in (gone, twin, as_avatar, stuck):
        assert await env.row(media.id) is None
    for media in (attached, recent, remote):
        assert await env.row(media.id) is not None
    assert not only.absolute.exists() and not thumb.absolute.exists()
    assert shared.absolute.exists()  # the attached row still uses it
    assert avatar_file.absolute.exists()  # an avatar still uses it
    assert recent_file.absolute.exists()
    assert not jobs.staging_path(env.a.config, stuck.id).exists()
    # Nothing left to do the second time.
    assert await jobs.cleanup_unattached(env.a.state.engine, env.a.config) == 0
    # A shorter age takes the recent one too.
    assert await jobs.cleanup_unattached(env.a.state.engine, env.a.config, timedelta(seconds=0)) == 1
    assert not recent_file.absolute.exists()


async def test_cleanup_sweeps_staging_leftovers(env: Env) -> None:
    import os

    staging = Path(env.a.config.media_dir) / jobs.UPLOADS_DIR
    staging.mkdir(parents=True, exist_ok=True)
    alive = await env.add(state=MediaState.PROCESSING.value)
    leftovers = {
        "body": staging / ".body-abc123",
        "orphan": staging / "4242",
        "scratch": staging / "4242.work",
        "alive": jobs.staging_path(env.a.config, alive.id),
        "fresh": staging / ".body-new",
    }
    for name, path in leftovers.items():
        if name == "scratch":
            path.mkdir()
            (path / "part.mp4").write_bytes(b"x")
        else:
            path.write_bytes(b"x")
        if name != "fresh":
            old = (utcnow() - timedelta(days=2)).timestamp()
            os.utime(path, (old, old))
    await jobs.cleanup_unattached(env.a.state.engine, env.a.config, timedelta(days=1))
    assert not leftovers["body"].exists() and not leftovers["orphan"].exists()
    assert not leftovers["scratch"].exists()
    assert leftovers["alive"].exists() and leftovers["fresh"].exists()
