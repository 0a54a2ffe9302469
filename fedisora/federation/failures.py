"""Failed deliveries, for the admin: what each peer answered, and sending one again.

The ``deliver`` job (:mod:`.delivery`) calls :func:`record` on every failed attempt:
the peer's HTTP status (``None`` when it did not answer) and a bounded, sanitized
excerpt of its body (:func:`excerpt`: no control characters, so it is safe on a
terminal and in both databases) go to the job's ``delivery_failures`` row.

:func:`listing` selects failed deliveries -- ``failed``: given up (a 4xx is final,
or retries ran out), the job ``dead``; ``retrying``: failed at least once and
waiting for the next try -- and :func:`describe` turns the rows into
:class:`FailedDelivery` views, which ``fedisora deliveries failed`` and
``GET /api/v1/admin/deliveries`` show.  :func:`retry` queues a given-up delivery
again, as a new job.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..convert.common import iso_or_none
from ..db import upsert
from ..db.models import Activity, DeliveryFailure, Job, JobState, utcnow
from ..jobs import queue
from .outbox import DELIVER, DELIVERY_MAX_ATTEMPTS

__all__ = [
    "EXCERPT_CHARS",
    "STATES",
    "DeliveryNotFound",
    "FailedDelivery",
    "excerpt",
    "record",
    "listing",
    "describe",
    "retry",
]

EXCERPT_CHARS = 500
STATES = ("failed", "retrying")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]+")
_SPACES = re.compile(r"\s+")
_failures: sa.Table = DeliveryFailure.__table__  # type: ignore[attr-defined]


class DeliveryNotFound(LookupError):
    """No given-up delivery with that id (never was, already retried, or still running)."""


def excerpt(text: str | None, limit: int = EXCERPT_CHARS) -> str:
    """``text`` (a peer's answer: untrusted) on one line: control characters (terminal escapes,
    NUL, lone surrogates) and runs of white space become one space; at most ``limit`` characters."""
    if not text:
        return ""
    flat = _SPACES.sub(" ", _CONTROL.sub(" ", text)).strip()
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


async def record(
    engine: AsyncEngine,
    job_id: int,
    *,
    http_status: int | None,
    reason: str,
    response: str,
    now: datetime | None = None,
) -> None:
    """Store (replace) the last failed attempt of the ``deliver`` job ``job_id``."""
    values = {
        "job_id": job_id,
        "http_status": http_status,
        "reason": excerpt(reason, 2000),
        "response": excerpt(response),
        "failed_at": now or utcnow(),
    }
    async with engine.begin() as conn:
        stmt = upsert.insert(conn, _failures).values(**values)
        update = {k: stmt.excluded[k] for k in values if k != "job_id"}
        await conn.execute(stmt.on_conflict_do_update(index_elements=["job_id"], set_=update))


@dataclass(frozen=True)
class FailedDelivery:
    """One failed delivery as the admin sees it."""

    id: int  # the job's
    state: str  # "failed" or "retrying"
    inbox: str
    host: str
    activity_id: str | None  # the activity's URI
    activity_type: str | None
    http_status: int | None
    reason: str  # what we concluded ("HTTP 400: permanent client error", "timeout", ...)
    response: str  # the peer's answer, sanitized and bounded
    attempts: int
    failed_at: datetime | None
    created_at: datetime
    next_attempt_at: datetime | None  # when retrying

    def to_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "state": self.state,
            "inbox": self.inbox,
            "host": self.host,
            "activity": {"id": self.activity_id, "type": self.activity_type},
            "http_status": self.http_status,
            "reason": self.reason,
            "response": self.response,
            "attempts": self.attempts,
            "failed_at": iso_or_none(self.failed_at),
            "created_at": iso_or_none(self.created_at),
            "next_attempt_at": iso_or_none(self.next_attempt_at),
        }


def listing(state: str = "failed", *, host: str | None = None) -> sa.Select[Any]:
    """``(Job, DeliveryFailure | None)`` rows of failed deliveries in ``state`` (see
    :data:`STATES`), unordered: order, page and limit by ``Job.id`` (newest first)."""
    if state not in STATES:
        raise ValueError(f"state must be one of {', '.join(STATES)}")
    stmt = select(Job, DeliveryFailure).where(col(Job.kind) == DELIVER)
    if state == "failed":
        stmt = stmt.outerjoin(DeliveryFailure, col(DeliveryFailure.job_id) == col(Job.id)).where(
            col(Job.state) == JobState.DEAD.value
        )
    else:
        stmt = stmt.join(DeliveryFailure, col(DeliveryFailure.job_id) == col(Job.id)).where(
            col(Job.state).in_([JobState.PENDING.value, JobState.RUNNING.value])
        )
    if host:
        stmt = stmt.where(Job.payload["host"].as_string() == host.lower())  # type: ignore[index]
    return stmt


def _activity_id(job: Job) -> int | None:
    try:
        return int(job.payload.get("activity_id"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0] if lines else ""


async def describe(
    session: AsyncSession, rows: Sequence[tuple[Job, DeliveryFailure | None]]
) -> list[FailedDelivery]:
    """Views of ``rows`` (from :func:`listing`), in their order, with their activities."""
    ids = {i for job, _ in rows if (i := _activity_id(job)) is not None}
    activities: dict[int, tuple[str, str]] = {}
    if ids:
        found = await session.exec(
            select(Activity.id, Activity.uri, Activity.activity_type).where(col(Activity.id).in_(ids))
        )
        activities = {row[0]: (row[1], row[2]) for row in found.all()}
    views = []
    for job, failure in rows:
        uri, kind = activities.get(_activity_id(job) or -1, (None, None))
        dead = job.state == JobState.DEAD.value
        views.append(
            FailedDelivery(
                id=job.id,
                state="failed" if dead else "retrying",
                inbox=str(job.payload.get("inbox", "")),
                host=str(job.payload.get("host", "")),
                activity_id=uri,
                activity_type=kind,
                http_status=failure.http_status if failure else None,
                # Without a row the job failed before asking the peer (e.g. its activity is gone).
                reason=failure.reason if failure else excerpt(_first_line(job.last_error), 2000),
                response=failure.response if failure else "",
                attempts=job.attempts,
                failed_at=failure.failed_at if failure else job.finished_at,
                created_at=job.created_at,
                next_attempt_at=None if dead else job.run_at,
            )
        )
    return views


async def retry(session: AsyncSession, job_id: int) -> Job:
    """Queue the given-up delivery ``job_id`` again (a new job, its attempts fresh) and forget
    the old one; the caller commits.  :class:`DeliveryNotFound` unless it is a dead delivery."""
    jobs = Job.__table__  # type: ignore[attr-defined]
    # One statement: of two retries at once, the second finds nothing to take.
    taken = (
        await session.exec(  # type: ignore[call-overload]
            sa.delete(jobs)  # its delivery_failures row goes with it
            .where(jobs.c.id == job_id, jobs.c.kind == DELIVER, jobs.c.state == JobState.DEAD.value)
            .returning(jobs.c.payload, jobs.c.dedupe_key, jobs.c.max_attempts)
        )
    ).first()
    if taken is None:
        raise DeliveryNotFound(f"no failed delivery {job_id}")
    payload, dedupe_key, max_attempts = dict(taken[0]), taken[1], taken[2]
    dedupe_key = dedupe_key or (
        f"{DELIVER}:{payload.get('activity_id')}:{payload.get('inbox')}" if payload.get("inbox") else None
    )
    return await queue.enqueue(
        session, DELIVER, payload, max_attempts=max_attempts or DELIVERY_MAX_ATTEMPTS, dedupe_key=dedupe_key
    )
