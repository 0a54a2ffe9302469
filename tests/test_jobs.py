"""The job queue and runner, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from fedisora.db.engine import make_sessionmaker
from fedisora.db.models import Job, JobState, utcnow
from fedisora.jobs import queue
from fedisora.jobs.runner import JobContext, JobRunner, PermanentError, RetryLater


async def test_enqueue_claim_complete(engine: AsyncEngine) -> None:
    job = await queue.enqueue(engine, "deliver", {"inbox": "https://x.example/inbox"})
    assert job.state == JobState.PENDING and job.attempts == 0
    claimed = await queue.claim(engine, "w1")
    assert claimed is not None and claimed.id == job.id
    assert claimed.state == JobState.RUNNING and claimed.locked_by == "w1"
    assert claimed.attempts == 1 and claimed.payload == {"inbox": "https://x.example/inbox"}
    assert claimed.locked_until is not None and claimed.locked_until > utcnow()
    assert await queue.claim(engine, "w2") is None  # nothing else due
    assert await queue.complete(engine, job.id, worker_id="w1")
    done = await queue.get_job(engine, job.id)
    assert done is not None and done.state == JobState.DONE and done.finished_at is not None
    assert done.locked_by is None


async def test_enqueue_in_session_is_transactional(engine: AsyncEngine) -> None:
    sessions = make_sessionmaker(engine)
    async with sessions() as session:
        job = await queue.enqueue(session, "inbox", {"n": 1})
        await session.rollback()
    assert await queue.get_job(engine, job.id) is None
    async with sessions() as session:
        job = await queue.enqueue(session, "inbox", {"n": 2})
        await session.commit()
    assert await queue.get_job(engine, job.id) is not None


async def test_claim_order_kinds_and_run_at(engine: AsyncEngine) -> None:
    later = await queue.enqueue(engine, "a", {}, run_at=utcnow() + timedelta(hours=1))
    low = await queue.enqueue(engine, "a", {})
    high = await queue.enqueue(engine, "a", {}, priority=5)
    other = await queue.enqueue(engine, "b", {}, priority=9)
    got = [await queue.claim(engine, "w", kinds=["a"]) for _ in range(3)]
    assert [j.id if j else None for j in got] == [high.id, low.id, None]
    assert await queue.claim(engine, "w", kinds=[]) is None
    for j in got[:2]:
        assert j is not None and await queue.complete(engine, j.id)
    future = await queue.claim(engine, "w", now=utcnow() + timedelta(hours=2))
    assert future is not None and future.id == other.id
    future2 = await queue.claim(engine, "w", now=utcnow() + timedelta(hours=2))
    assert future2 is not None and future2.id == later.id


async def test_expired_lock_is_reclaimed(engine: AsyncEngine) -> None:
    job = await queue.enqueue(engine, "k", {})
    first = await queue.claim(engine, "crashed", lock_seconds=60)
    assert first is not None
    assert await queue.claim(engine, "w2") is None  # still locked
    again = await queue.claim(engine, "w2", now=utcnow() + timedelta(seconds=61))
    assert again is not None and again.id == job.id
    assert again.locked_by == "w2" and again.attempts == 2
    # the crashed worker no longer owns it
    assert not await queue.complete(engine, job.id, worker_id="crashed")
    assert not await queue.heartbeat(engine, job.id, "crashed")
    assert await queue.heartbeat(engine, job.id, "w2", lock_seconds=600)


async def test_retry_backoff_then_dead(engine: AsyncEngine) -> None:
    job = await queue.enqueue(engine, "k", {}, max_attempts=2)
    claimed = await queue.claim(engine, "w")
    assert claimed is not None
    before = utcnow()
    failed = await queue.fail(engine, job.id, "boom", retry_delay=120, worker_id="w")
    assert failed is not None
    assert failed.state == JobState.PENDING and failed.attempts == 1
    assert failed.last_error == "boom" and failed.locked_by is None
    assert failed.run_at >= before + timedelta(seconds=119)
    assert await queue.claim(engine, "w") is None  # not due yet
    claimed = await queue.claim(engine, "w", now=utcnow() + timedelta(seconds=121))
    assert claimed is not None and claimed.attempts == 2
    dead = await queue.fail(engine, job.id, "boom again", retry_delay=120, worker_id="w")
    assert dead is not None and dead.state == JobState.DEAD
    assert dead.last_error == "boom again" and dead.finished_at is not None
    assert await queue.claim(engine, "w", now=utcnow() + timedelta(days=1)) is None


async def test_fail_without_retry_is_dead(engine: AsyncEngine) -> None:
    job = await queue.enqueue(engine, "k", {})
    await queue.claim(engine, "w")
    dead = await queue.fail(engine, job.id, "permanent", retry_delay=None)
    assert dead is not None and dead.state == JobState.DEAD and dead.attempts == 1


async def test_dedupe_key(engine: AsyncEngine) -> None:
    a = await queue.enqueue(engine, "fetch", {"n": 1}, dedupe_key="fetch:x")
    b = await queue.enqueue(engine, "fetch", {"n": 2}, dedupe_key="fetch:x")
    assert b.id == a.id and b.payload == {"n": 1}
    claimed = await queue.claim(engine, "w")
    assert claimed is not None
    c = await queue.enqueue(engine, "fetch", {"n": 3}, dedupe_key="fetch:x")
    assert c.id == a.id  # running still counts as not finished
    await queue.complete(engine, a.id)
    d = await queue.enqueue(engine, "fetch", {"n": 4}, dedupe_key="fetch:x")
    assert d.id != a.id and d.payload == {"n": 4}
    old = await queue.get_job(engine, a.id)
    assert old is not None and old.state == JobState.DONE and old.dedupe_key is None


async def test_progress_visible_from_other_session(engine: AsyncEngine) -> None:
    job = await queue.enqueue(engine, "generate", {})
    sessions = make_sessionmaker(engine)
    seen: list[tuple[float | None, str | None]] = []

    async def handler(ctx: JobContext) -> None:
        await ctx.progress(0.5, "half way")
        async with sessions() as other:
            row = await other.get(Job, ctx.job.id)
            assert row is not None
            seen.append((row.progress, row.progress_message))

    assert await JobRunner(engine, {"generate": handler}).run_once()
    assert seen == [(0.5, "half way")]
    done = await queue.get_job(engine, job.id)
    assert done is not None and done.state == JobState.DONE and done.progress == 1.0


async def test_runner_outcomes(engine: AsyncEngine) -> None:
    async def boom(ctx: JobContext) -> None:
        raise ValueError("kaput")

    async def permanent(ctx: JobContext) -> None:
        raise PermanentError("gone")

    async def later(ctx: JobContext) -> None:
        raise RetryLater(3600)

    handlers = {"boom": boom, "permanent": permanent, "later": later}
    runner = JobRunner(engine, handlers, retry_policy=lambda attempt: 30.0 * attempt)
    unknown = await queue.enqueue(engine, "nobody-handles-this", {})
    jobs = {k: await queue.enqueue(engine, k, {}) for k in handlers}
    start = utcnow()
    for _ in handlers:
        assert await runner.run_once()
    assert not await runner.run_once()  # unknown kind is never claimed

    b = await queue.get_job(engine, jobs["boom"].id)
    assert b is not None and b.state == JobState.PENDING and b.attempts == 1
    assert "ValueError: kaput" in (b.last_error or "")
    assert b.run_at >= start + timedelta(seconds=29)
    p = await queue.get_job(engine, jobs["permanent"].id)
    assert p is not None and p.state == JobState.DEAD and "gone" in (p.last_error or "")
    lt = await queue.get_job(engine, jobs["later"].id)
    assert lt is not None and lt.state == JobState.PENDING
    assert lt.run_at >= start + timedelta(seconds=3599)
    u = await queue.get_job(engine, unknown.id)
    assert u is not None and u.state == JobState.PENDING and u.attempts == 0


async def test_heartbeat_keeps_long_job_locked(engine: AsyncEngine) -> None:
    job = await queue.enqueue(engine, "slow", {})
    started = asyncio.Event()
    finish = asyncio.Event()

    async def slow(ctx: JobContext) -> None:
        started.set()
        await finish.wait()

    runner = JobRunner(engine, {"slow": slow}, lock_seconds=0.6)
    task = asyncio.create_task(runner.run_once())
    await started.wait()
    await asyncio.sleep(1.5)  # well past the original lock
    assert await queue.claim(engine, "thief") is None
    finish.set()
    assert await task
    done = await queue.get_job(engine, job.id)
    assert done is not None and done.state == JobState.DONE and done.attempts == 1


async def test_a_dead_workers_job_comes_back_within_the_lock_a_live_ones_never(engine: AsyncEngine) -> None:
    """A worker killed with ``kill -9`` sends no more heartbeats: another runner takes its job
    once the (short) lock runs out, while a live runner's long job is never taken."""
    # With the defaults a runner uses: back within tens of seconds, not minutes.
    orphan = await queue.enqueue(engine, "k", {})
    claimed = await queue.claim(engine, "killed", lock_seconds=JobRunner(engine, {}).lock_seconds)
    assert claimed is not None and claimed.id == orphan.id
    assert await queue.claim(engine, "other") is None
    taken = await queue.claim(engine, "other", now=utcnow() + timedelta(seconds=31))
    assert taken is not None and taken.id == orphan.id and taken.attempts == 2
    assert await queue.complete(engine, orphan.id, worker_id="other")

    # The same with a short lock, in real time: a live runner's long job (heartbeats)
    # stays with it, the dead one's (no heartbeats) goes to the other runner.
    lock = 0.6
    live_started, finish = asyncio.Event(), asyncio.Event()
    ran: list[tuple[str, str]] = []

    async def long(ctx: JobContext) -> None:
        ran.append((ctx.worker_id, str(ctx.payload["n"])))
        if ctx.payload["n"] == "live":
            live_started.set()
            await finish.wait()

    live_job = await queue.enqueue(engine, "long", {"n": "live"})
    live = JobRunner(engine, {"long": long}, worker_id="live", lock_seconds=lock)
    live_task = asyncio.create_task(live.run_once())
    await live_started.wait()
    dead_job = await queue.enqueue(engine, "long", {"n": "dead"})
    assert (await queue.claim(engine, "dead", lock_seconds=lock)) is not None  # then it dies
    other = JobRunner(engine, {"long": long}, worker_id="other", lock_seconds=lock)
    assert not await other.run_once()  # both locks are held
    await asyncio.sleep(lock * 3)  # the dead lock has run out; the live one was renewed
    assert await other.run_once()
    assert not await other.run_once()  # nothing else is due: the live job is not taken
    assert ran == [("live", "live"), ("other", "dead")]
    finish.set()
    assert await live_task
    jobs = {j.id: j for j in [await queue.get_job(engine, live_job.id), await queue.get_job(engine, dead_job.id)] if j}
    assert jobs[live_job.id].state == JobState.DONE and jobs[live_job.id].attempts == 1
    assert jobs[dead_job.id].state == JobState.DONE and jobs[dead_job.id].attempts == 2


async def test_cancelled_job_is_released(engine: AsyncEngine) -> None:
    job = await queue.enqueue(engine, "slow", {})
    started = asyncio.Event()

    async def slow(ctx: JobContext) -> None:
        started.set()
        await asyncio.sleep(60)

    task = asyncio.create_task(JobRunner(engine, {"slow": slow}).run_once())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    back = await queue.get_job(engine, job.id)
    assert back is not None and back.state == JobState.PENDING and back.attempts == 0


async def test_concurrent_runners_handle_each_job_once(engine: AsyncEngine) -> None:
    total = 20
    for n in range(total):
        await queue.enqueue(engine, "work", {"n": n})
    handled: Counter[int] = Counter()
    all_done = asyncio.Event()

    async def work(ctx: JobContext) -> None:
        handled[ctx.job.payload["n"]] += 1
        await asyncio.sleep(0.01)
        if sum(handled.values()) >= total:
            all_done.set()

    stop = asyncio.Event()
    runners = [
        JobRunner(engine, {"work": work}, concurrency=2, worker_id=f"w{i}", poll_interval=0.05)
        for i in range(4)
    ]
    tasks = [asyncio.create_task(r.run_forever(stop)) for r in runners]
    await asyncio.wait_for(all_done.wait(), 60)
    await asyncio.sleep(0.2)  # let any (wrong) double claims surface
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 30)
    assert handled == Counter(range(total))
    for n in range(total):
        assert handled[n] == 1


async def test_concurrent_claims_never_share(engine: AsyncEngine) -> None:
    for n in range(20):
        await queue.enqueue(engine, "k", {"n": n})

    async def claimer(worker: str) -> list[int]:
        got: list[int] = []
        while (job := await queue.claim(engine, worker)) is not None:
            got.append(job.id)
        return got

    results = await asyncio.gather(*(claimer(f"c{i}") for i in range(4)))
    ids = [i for r in results for i in r]
    assert len(ids) == 20 and len(set(ids)) == 20


def test_backoff_delay() -> None:
    rng = random.Random(1)
    assert queue.backoff_delay(1, jitter=0) == 30.0
    assert queue.backoff_delay(3, jitter=0) == 120.0
    assert queue.backoff_delay(100, jitter=0, cap=600) == 600.0
    assert queue.backoff_delay(10**6, jitter=0, cap=600) == 600.0
    for attempt in range(1, 20):
        d = queue.backoff_delay(attempt, rng=rng, cap=3600)
        nominal = min(3600.0, 30.0 * 2 ** (attempt - 1))
        assert 0.8 * nominal <= d <= 1.2 * nominal


async def test_dedupe_in_session(engine: AsyncEngine) -> None:
    sessions = make_sessionmaker(engine)
    async with sessions() as session:
        a = await queue.enqueue(session, "k", {}, dedupe_key="same")
        b = await queue.enqueue(session, "k", {}, dedupe_key="same")
        await session.commit()
    assert a.id == b.id


async def test_nudge_wakes_an_idle_runner_before_its_poll(engine: AsyncEngine) -> None:
    """A job queued in this process starts at once after ``nudge``, not at the next poll."""
    done = asyncio.Event()
    idle = asyncio.Event()

    async def work(ctx: JobContext) -> None:
        done.set()

    stop = asyncio.Event()
    runner = JobRunner(engine, {"work": work}, poll_interval=60.0)
    waiting = runner._idle

    async def noted_idle(stop: asyncio.Event) -> None:
        idle.set()
        await waiting(stop)

    runner._idle = noted_idle  # type: ignore[method-assign]
    task = asyncio.create_task(runner.run_forever(stop))
    try:
        await asyncio.wait_for(idle.wait(), 10.0)  # the runner found nothing and is idle for a minute
        await queue.enqueue(engine, "work", {})
        queue.nudge()
        await asyncio.wait_for(done.wait(), 10.0)
    finally:
        stop.set()
        queue.nudge()  # stops promptly too
        await asyncio.wait_for(task, 10.0)


async def test_a_nudge_while_the_runner_looks_for_work_is_not_lost(engine: AsyncEngine) -> None:
    """The job is queued (and nudged) while the runner's claim query is still running and
    finds nothing: the runner looks again at once instead of sleeping its poll interval."""
    done = asyncio.Event()
    querying = asyncio.Event()
    answer = asyncio.Event()

    async def work(ctx: JobContext) -> None:
        done.set()

    stop = asyncio.Event()
    runner = JobRunner(engine, {"work": work}, poll_interval=60.0)
    claim = runner.run_once
    calls = 0

    async def slow_first_claim() -> bool:
        nonlocal calls
        calls += 1
        if calls == 1:  # the first query "misses" the job queued meanwhile
            querying.set()
            await answer.wait()
            return False
        return await claim()

    runner.run_once = slow_first_claim  # type: ignore[method-assign]
    task = asyncio.create_task(runner.run_forever(stop))
    try:
        await asyncio.wait_for(querying.wait(), 10.0)
        await queue.enqueue(engine, "work", {})
        queue.nudge()
        answer.set()
        await asyncio.wait_for(done.wait(), 10.0)
    finally:
        stop.set()
        queue.nudge()
        await asyncio.wait_for(task, 10.0)
