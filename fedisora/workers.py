"""Which background jobs this process runs, and starting/stopping them.

Every kind of background work (inbox processing, delivery, media processing,
generation) is a handler registered in :func:`job_handlers`; the one queue in
:mod:`fedisora.jobs` runs them all.  ``fedisora serve`` runs them in-process,
``fedisora worker`` runs only them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from datetime import datetime, timedelta
from types import TracebackType

import sqlalchemy as sa

from .db.models import FINISHED_JOB_STATES, Job, utcnow
from .federation.delivery import deliver
from .federation.handlers import process_inbox
from .federation.outbox import DELIVER, PROCESS_INBOX
from .jobs import queue
from .media.jobs import PROCESS_MEDIA, cleanup_unattached, process_media
from .jobs.runner import Handler, JobContext, JobRunner
from .media.remote import CACHE_REMOTE_MEDIA, cache_remote_media, expire_remote_media
from .attestations.receive import VERIFY_ATTESTATIONS, schedule_rechecks, verify_attestations
from .state import AppState

log = logging.getLogger(__name__)

MAINTENANCE = "maintenance"
MAINTENANCE_INTERVAL = timedelta(hours=1)
KEEP_FINISHED_JOBS = timedelta(days=7)
STOP_GRACE_SECONDS = 10.0


async def maintenance(ctx: JobContext, state: AppState | None = None) -> None:
    """Hourly housekeeping: forget jobs finished long ago and uploads never posted, then
    schedule the next round."""
    cutoff = utcnow() - KEEP_FINISHED_JOBS
    async with ctx.engine.begin() as conn:
        result = await conn.execute(
            sa.delete(Job.__table__).where(  # type: ignore[attr-defined]
                Job.state.in_(list(FINISHED_JOB_STATES)),  # type: ignore[attr-defined]
                Job.finished_at < cutoff,  # type: ignore[operator]
            )
        )
    if result.rowcount:
        log.info("maintenance: removed %d finished jobs", result.rowcount)
    if state is not None:
        try:
            await cleanup_unattached(ctx.engine, state.config)
        except Exception:  # housekeeping must not stop the next round from being scheduled
            log.exception("maintenance: cleaning up unattached media failed")
        try:
            await expire_remote_media(ctx.engine, state.config)
        except Exception:  # likewise
            log.exception("maintenance: expiring remote media copies failed")
        try:
            await schedule_rechecks(state)
        except Exception:  # likewise
            log.exception("maintenance: queuing attestation re-verification failed")
    await schedule_maintenance(ctx.engine)


def next_maintenance_slot(now: datetime) -> datetime:
    """The start of the next whole hour: every process agrees on it."""
    return (now + MAINTENANCE_INTERVAL).replace(minute=0, second=0, microsecond=0)


async def schedule_maintenance(engine: queue.Target) -> None:
    # One job per hourly slot: the slot's dedupe key makes every process that
    # schedules it (at start-up, or the previous round) agree on a single row.
    at = next_maintenance_slot(utcnow())
    await queue.enqueue(engine, MAINTENANCE, {}, run_at=at, dedupe_key=f"{MAINTENANCE}:{at:%Y-%m-%dT%H}")


def job_handlers(state: AppState) -> dict[str, Handler]:
    """The job kinds this process can run.  Later issues register more here."""
    return {
        MAINTENANCE: functools.partial(maintenance, state=state),
        PROCESS_MEDIA: functools.partial(process_media, config=state.config),
        CACHE_REMOTE_MEDIA: functools.partial(cache_remote_media, state=state),
        DELIVER: functools.partial(deliver, state=state),
        PROCESS_INBOX: functools.partial(process_inbox, state=state),
        VERIFY_ATTESTATIONS: functools.partial(verify_attestations, state=state),
    }


class Workers:
    """Async context manager running ``count`` job runners until it exits (none when 0)."""

    def __init__(self, state: AppState, *, count: int, poll_interval: float = 1.0) -> None:
        self.state = state
        self.count = count
        self.poll_interval = poll_interval
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Workers:
        if self.count > 0:
            runner = JobRunner(
                self.state.engine,
                job_handlers(self.state),
                concurrency=self.count,
                poll_interval=self.poll_interval,
                lock_seconds=self.state.config.server.job_lock_seconds,
            )
            await schedule_maintenance(self.state.engine)
            self._task = asyncio.create_task(runner.run_forever(self._stop))
            log.info("started %d background job runner(s) as %s", self.count, runner.worker_id)
        return self

    async def wait(self) -> None:
        """Until the runners stop (used by ``fedisora worker``)."""
        if self._task is not None:
            await self._task

    def stop(self) -> None:
        self._stop.set()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is None:
            return
        self._stop.set()
        try:
            # Let running jobs finish; past the grace period they are released for others.
            await asyncio.wait_for(asyncio.shield(self._task), STOP_GRACE_SECONDS)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
