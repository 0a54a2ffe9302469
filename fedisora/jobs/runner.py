"""Runs queued jobs with registered async handlers.

One :class:`JobRunner` per process (``fedisora worker`` or inside the app)
runs up to ``concurrency`` jobs at a time.  It only claims kinds it has
handlers for, so differently configured workers (e.g. a GPU box running only
``generate``) can share one queue.  While a handler runs, a heartbeat keeps
extending the job's lock (every third of ``lock_seconds``) so long generations
and transcodes are not reclaimed by others, while the jobs of a worker that died
come back once its short lock runs out.  Handlers must keep the event loop free
(blocking work goes to a thread, as media processing does) or the heartbeat stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import traceback
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from fedisora.db.engine import make_sessionmaker
from fedisora.db.models import Job
from fedisora.jobs import queue

__all__ = [
    "Handler",
    "RetryPolicy",
    "JobContext",
    "PermanentError",
    "RetryLater",
    "JobRunner",
]

log = logging.getLogger(__name__)

RetryPolicy = Callable[[int], float]


class PermanentError(Exception):
    """Raise from a handler when retrying cannot help; the job becomes dead."""


class RetryLater(Exception):
    """Raise from a handler to retry after ``delay`` seconds (uses an attempt)."""

    def __init__(self, delay: float, message: str = "") -> None:
        super().__init__(message or f"retry in {delay:g}s")
        self.delay = delay


@dataclass
class JobContext:
    """What a handler gets: the claimed job, progress reporting, sessions."""

    job: Job
    sessionmaker: async_sessionmaker[AsyncSession]
    engine: AsyncEngine
    worker_id: str

    @property
    def payload(self) -> dict[str, object]:
        return self.job.payload

    async def progress(self, fraction: float, message: str | None = None) -> None:
        """Store progress (committed at once, visible to other sessions)."""
        await queue.set_progress(self.engine, self.job.id, fraction, message)


Handler = Callable[[JobContext], Awaitable[None]]


def _default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class JobRunner:
    """Claims jobs and dispatches them to ``handlers[job.kind]``.

    Handler outcome -> job state: returns -> ``done``; :class:`RetryLater` ->
    ``pending`` after its delay; :class:`PermanentError` -> ``dead``; any other
    exception -> ``pending`` after ``retry_policy(attempts)`` seconds (or
    ``dead`` once ``max_attempts`` is used up).  Cancellation gives the job
    back (``pending``, attempt refunded).
    """

    def __init__(
        self,
        engine: AsyncEngine,
        handlers: Mapping[str, Handler],
        *,
        concurrency: int = 1,
        worker_id: str | None = None,
        poll_interval: float = 1.0,
        retry_policy: RetryPolicy = queue.backoff_delay,
        lock_seconds: float = queue.DEFAULT_LOCK_SECONDS,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        self.engine = engine
        self.handlers = dict(handlers)
        self.concurrency = concurrency
        self.worker_id = worker_id or _default_worker_id()
        self.poll_interval = poll_interval
        self._wakeup = asyncio.Event()
        self.retry_policy = retry_policy
        self.lock_seconds = lock_seconds
        self.sessionmaker = make_sessionmaker(engine)

    async def run_once(self) -> bool:
        """Claim and run one due job; ``False`` when none was available."""
        job = await queue.claim(
            self.engine, self.worker_id, kinds=self.handlers.keys(), lock_seconds=self.lock_seconds
        )
        if job is None:
            return False
        await self._run(job)
        return True

    async def _run(self, job: Job) -> None:
        ctx = JobContext(job, self.sessionmaker, self.engine, self.worker_id)
        beat = asyncio.create_task(self._heartbeat(job.id))
        try:
            await self.handlers[job.kind](ctx)
        except asyncio.CancelledError:
            await asyncio.shield(queue.release(self.engine, job.id, worker_id=self.worker_id))
            raise
        except PermanentError as exc:
            log.warning("job %s (%s) failed permanently: %s", job.id, job.kind, exc)
            await queue.fail(
                self.engine, job.id, _describe(exc), retry_delay=None, worker_id=self.worker_id
            )
        except RetryLater as exc:
            await queue.fail(
                self.engine, job.id, _describe(exc), retry_delay=exc.delay, worker_id=self.worker_id
            )
        except Exception as exc:
            log.exception("job %s (%s) attempt %s failed", job.id, job.kind, job.attempts)
            await queue.fail(
                self.engine,
                job.id,
                _describe(exc, with_traceback=True),
                retry_delay=self.retry_policy(job.attempts),
                worker_id=self.worker_id,
            )
        else:
            if not await queue.complete(self.engine, job.id, worker_id=self.worker_id):
                log.warning("job %s finished after its lock was lost", job.id)
        finally:
            beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beat

    async def _heartbeat(self, job_id: int) -> None:
        # One beat may fail (a busy database) and the next still renews the lock before it runs out.
        interval = max(0.05, self.lock_seconds / 3)
        while True:
            await asyncio.sleep(interval)
            try:
                if not await queue.heartbeat(
                    self.engine, job_id, self.worker_id, lock_seconds=self.lock_seconds
                ):
                    log.warning("lost the lock on job %s", job_id)
                    return
            except Exception:  # a blip must not kill the handler; retry next beat
                log.exception("heartbeat for job %s failed", job_id)

    async def _worker(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            # Cleared before looking for work, not after: a nudge that comes while
            # run_once is querying is kept, and the idle wait below ends at once.
            self._wakeup.clear()
            try:
                ran = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # database hiccup: back off, keep the worker alive
                log.exception("job runner %s: claiming failed", self.worker_id)
                ran = False
            if not ran:
                await self._idle(stop)

    async def _idle(self, stop: asyncio.Event) -> None:
        """Wait out the poll interval, or less when stopped or nudged (new local jobs)."""
        waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(self._wakeup.wait())]
        try:
            await asyncio.wait(waiters, timeout=self.poll_interval, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Run ``concurrency`` worker loops until ``stop`` is set.

        Jobs already running are finished before this returns; cancel the
        task instead to abort them (they are released for another worker).
        """
        queue.register_wakeup(self._wakeup)
        workers = [asyncio.create_task(self._worker(stop)) for _ in range(self.concurrency)]
        try:
            await asyncio.gather(*workers)
        finally:
            queue.unregister_wakeup(self._wakeup)
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)


def _describe(exc: BaseException, *, with_traceback: bool = False) -> str:
    if with_traceback:
        return "".join(traceback.format_exception(exc)).strip()[-8000:]
    return f"{type(exc).__name__}: {exc}"
