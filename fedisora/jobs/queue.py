"""The persistent job queue: one ``jobs`` table, claimed with a single UPDATE.

Every operation takes a *target*: an :class:`AsyncEngine` (the operation runs
in its own short transaction and is committed before returning) or an
:class:`AsyncSession` (it runs inside the caller's transaction and the caller
commits -- use this to enqueue a job atomically with the row it is about).
Jobs returned are detached snapshots; re-read them to see later changes.

Claiming is one ``UPDATE jobs ... WHERE id = (SELECT id ... ORDER BY
priority DESC, run_at, id LIMIT 1 [FOR UPDATE SKIP LOCKED]) RETURNING *``, so
two workers can never get the same job: SQLite serialises writers (3.35+ for
RETURNING), PostgreSQL skips rows another claimer has locked.  A ``running``
job whose ``locked_until`` has passed is claimable again, which recovers jobs
of crashed workers; live workers extend the lock with :func:`heartbeat`.  The
lock is short (:data:`DEFAULT_LOCK_SECONDS`) and heartbeats come often (the
runner beats every third of it), so the jobs of a worker killed with ``kill -9``
are taken up again within tens of seconds, while a live one keeps its jobs however
long they run.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from fedisora.db import upsert
from fedisora.db.models import FINISHED_JOB_STATES, Job, JobState, utcnow

__all__ = [
    "Target",
    "enqueue",
    "claim",
    "complete",
    "fail",
    "release",
    "set_progress",
    "heartbeat",
    "get_job",
    "backoff_delay",
    "DEFAULT_LOCK_SECONDS",
]

Target = AsyncEngine | AsyncSession

DEFAULT_LOCK_SECONDS = 30.0  # a claim's lock; heartbeats extend it (``[server] job_lock_seconds``)

_jobs: sa.Table = Job.__table__  # type: ignore[attr-defined]
_c = _jobs.c


async def _execute(target: Target, stmt: sa.Executable) -> list[sa.Row[Any]]:
    """Run ``stmt`` and return its rows (committed at once for an engine)."""
    if isinstance(target, AsyncEngine):
        async with target.begin() as conn:
            result = await conn.execute(stmt)
            return list(result.all()) if result.returns_rows else []
    # Core statements on the session's connection: same transaction, and no
    # sqlmodel ``execute`` deprecation warning.
    conn = await target.connection()
    result = await conn.execute(stmt)
    return list(result.all()) if result.returns_rows else []


def _job(row: sa.Row[Any]) -> Job:
    return Job(**row._mapping)


async def get_job(target: Target, job_id: int) -> Job | None:
    """Fresh snapshot of a job, or ``None``."""
    rows = await _execute(target, sa.select(_jobs).where(_c.id == job_id))
    return _job(rows[0]) if rows else None


# Job runners of this process, woken by :func:`nudge` instead of waiting out their poll
# interval (runners in other processes still find new jobs by polling).
_wakeups: set[asyncio.Event] = set()


def nudge() -> None:
    """Wake this process's idle job runners now: call it after committing new jobs."""
    for event in _wakeups:
        event.set()


def register_wakeup(event: asyncio.Event) -> None:
    _wakeups.add(event)


def unregister_wakeup(event: asyncio.Event) -> None:
    _wakeups.discard(event)


async def enqueue(
    target: Target,
    kind: str,
    payload: Mapping[str, Any],
    *,
    run_at: datetime | None = None,
    priority: int = 0,
    max_attempts: int = 16,
    dedupe_key: str | None = None,
) -> Job:
    """Add a pending job (higher ``priority`` runs first) and return it.

    With ``dedupe_key``: if an unfinished (pending/running) job holds the key,
    nothing is inserted and that job is returned.  A finished job holding the
    key gives it up (its ``dedupe_key`` becomes NULL) so the work can be
    queued again.
    """
    job = Job(
        kind=kind,
        payload=dict(payload),
        run_at=run_at or utcnow(),
        priority=priority,
        max_attempts=max_attempts,
        dedupe_key=dedupe_key,
    )
    values = job.model_dump()
    if dedupe_key is None:
        await _execute(target, sa.insert(_jobs).values(**values))
        return job

    await _execute(
        target,
        sa.update(_jobs)
        .where(_c.dedupe_key == dedupe_key, _c.state.in_(list(FINISHED_JOB_STATES)))
        .values(dedupe_key=None),
    )
    stmt = upsert.insert(target, _jobs).values(**values).on_conflict_do_nothing().returning(_c.id)
    if await _execute(target, stmt):
        return job
    rows = await _execute(target, sa.select(_jobs).where(_c.dedupe_key == dedupe_key))
    if not rows:  # the holder finished and released the key meanwhile; retry once
        if await _execute(target, stmt):
            return job
        rows = await _execute(target, sa.select(_jobs).where(_c.dedupe_key == dedupe_key))
    return _job(rows[0])


async def claim(
    target: Target,
    worker_id: str,
    *,
    kinds: Collection[str] | None = None,
    lock_seconds: float = DEFAULT_LOCK_SECONDS,
    now: datetime | None = None,
) -> Job | None:
    """Atomically take the most urgent due job (or ``None``).

    Due means ``pending`` with ``run_at <= now``, or ``running`` with an
    expired lock.  The job becomes ``running``, locked by ``worker_id`` until
    ``now + lock_seconds``, and its ``attempts`` is incremented.  Pass an
    engine here: the claim must commit before the work starts.
    """
    now = now or utcnow()
    due = sa.or_(
        sa.and_(_c.state == JobState.PENDING.value, _c.run_at <= now),
        sa.and_(_c.state == JobState.RUNNING.value, _c.locked_until < now),
    )
    pick = sa.select(_c.id).where(due)
    if kinds is not None:
        if not kinds:
            return None
        pick = pick.where(_c.kind.in_(list(kinds)))
    pick = (
        pick.order_by(_c.priority.desc(), _c.run_at, _c.id)
        .limit(1)
        .with_for_update(skip_locked=True)  # rendered on PostgreSQL only
    )
    stmt = (
        sa.update(_jobs)
        .where(_c.id == pick.scalar_subquery())
        .values(
            state=JobState.RUNNING.value,
            locked_by=worker_id,
            locked_until=now + timedelta(seconds=lock_seconds),
            attempts=_c.attempts + 1,
            updated_at=now,
        )
        .returning(*_jobs.c)
    )
    rows = await _execute(target, stmt)
    return _job(rows[0]) if rows else None


def _owned(job_id: int, worker_id: str | None) -> sa.ColumnElement[bool]:
    cond = _c.id == job_id
    if worker_id is not None:
        cond = sa.and_(cond, _c.locked_by == worker_id, _c.state == JobState.RUNNING.value)
    return cond


async def complete(target: Target, job_id: int, *, worker_id: str | None = None) -> bool:
    """Mark a job done.  With ``worker_id``, only if that worker still holds it.

    Returns whether a row was updated.
    """
    now = utcnow()
    rows = await _execute(
        target,
        sa.update(_jobs)
        .where(_owned(job_id, worker_id))
        .values(
            state=JobState.DONE.value,
            locked_by=None,
            locked_until=None,
            progress=1.0,
            finished_at=now,
            updated_at=now,
        )
        .returning(_c.id),
    )
    return bool(rows)


async def fail(
    target: Target,
    job_id: int,
    error: str,
    *,
    retry_delay: float | None,
    worker_id: str | None = None,
) -> Job | None:
    """Record a failed attempt.

    The job goes back to ``pending`` with ``run_at = now + retry_delay``, or
    becomes ``dead`` (row and ``last_error`` kept) when ``retry_delay`` is
    ``None`` or it has used ``max_attempts`` attempts.  Returns the updated
    job (``None`` if it was not found / not held by ``worker_id``).
    """
    now = utcnow()
    is_dead: sa.ColumnElement[bool]
    if retry_delay is None:
        is_dead = sa.true()
        next_run: Any = _c.run_at
    else:
        is_dead = _c.attempts >= _c.max_attempts
        next_run = sa.case(
            (is_dead, _c.run_at), else_=sa.literal(now + timedelta(seconds=retry_delay), _c.run_at.type)
        )
    rows = await _execute(
        target,
        sa.update(_jobs)
        .where(_owned(job_id, worker_id))
        .values(
            state=sa.case((is_dead, JobState.DEAD.value), else_=JobState.PENDING.value),
            run_at=next_run,
            finished_at=sa.case((is_dead, sa.literal(now, _c.finished_at.type)), else_=None),
            locked_by=None,
            locked_until=None,
            last_error=error,
            updated_at=now,
        )
        .returning(*_jobs.c),
    )
    return _job(rows[0]) if rows else None


async def release(target: Target, job_id: int, *, worker_id: str | None = None) -> bool:
    """Give a claimed job back unrun (e.g. on shutdown); the attempt is refunded."""
    now = utcnow()
    rows = await _execute(
        target,
        sa.update(_jobs)
        .where(_owned(job_id, worker_id))
        .values(
            state=JobState.PENDING.value,
            attempts=sa.case((_c.attempts > 0, _c.attempts - 1), else_=0),
            locked_by=None,
            locked_until=None,
            run_at=now,
            updated_at=now,
        )
        .returning(_c.id),
    )
    return bool(rows)


async def set_progress(
    target: Target, job_id: int, fraction: float, message: str | None = None
) -> None:
    """Store progress (clamped to 0..1) for UIs polling the job."""
    fraction = min(1.0, max(0.0, float(fraction)))
    await _execute(
        target,
        sa.update(_jobs)
        .where(_c.id == job_id)
        .values(progress=fraction, progress_message=message, updated_at=utcnow()),
    )


async def heartbeat(
    target: Target, job_id: int, worker_id: str, *, lock_seconds: float = DEFAULT_LOCK_SECONDS
) -> bool:
    """Extend the lock of a running job; ``False`` means the lock was lost."""
    now = utcnow()
    rows = await _execute(
        target,
        sa.update(_jobs)
        .where(_owned(job_id, worker_id))
        .values(locked_until=now + timedelta(seconds=lock_seconds), updated_at=now)
        .returning(_c.id),
    )
    return bool(rows)


def backoff_delay(
    attempt: int,
    base: float = 30.0,
    factor: float = 2.0,
    cap: float = 6 * 3600.0,
    jitter: float = 0.2,
    rng: random.Random | Any = random,
) -> float:
    """Seconds to wait before retry number ``attempt`` (1 = first retry).

    ``base * factor**(attempt-1)`` capped at ``cap``, then spread by
    ``±jitter`` (a fraction) so failed deliveries to one host do not retry in
    lockstep.  Never negative.
    """
    exponent = max(0, attempt - 1)
    try:
        delay = min(cap, base * factor**exponent)
    except OverflowError:
        delay = cap
    if jitter:
        delay *= 1.0 + rng.uniform(-jitter, jitter)
    return max(0.0, delay)
