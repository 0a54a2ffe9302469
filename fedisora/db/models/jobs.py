"""The single background-job table (inbox, delivery, media, generation).

See :mod:`fedisora.jobs.queue` for the operations; nothing else should write
``state``/``locked_*`` directly.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field

from fedisora.db.models.base import Base, datetime_field, snowflake_pk

__all__ = ["JobState", "FINISHED_JOB_STATES", "Job"]


class JobState(StrEnum):
    PENDING = "pending"  # waiting for run_at
    RUNNING = "running"  # claimed; locked_by/locked_until set
    DONE = "done"
    FAILED = "failed"  # reserved for terminal failures recorded outside the queue
    DEAD = "dead"  # gave up (permanent error or out of attempts); row kept


FINISHED_JOB_STATES: frozenset[str] = frozenset({JobState.DONE, JobState.FAILED, JobState.DEAD})


class Job(Base, table=True):
    __tablename__ = "jobs"
    __table_args__ = (sa.Index("ix_jobs_state_run_at_priority", "state", "run_at", "priority"),)

    id: int = snowflake_pk()
    kind: str = Field(index=True)
    payload: dict[str, Any] = Field(default_factory=lambda: {}, sa_type=sa.JSON, nullable=False)
    state: str = JobState.PENDING.value
    priority: int = 0
    attempts: int = 0
    max_attempts: int = 16
    run_at: datetime = datetime_field()
    locked_by: str | None = None
    locked_until: datetime | None = datetime_field(nullable=True)
    progress: float | None = None  # 0..1
    progress_message: str | None = None
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    # unique while set; released (set NULL) when a finished job's key is reused
    dedupe_key: str | None = Field(default=None, unique=True)
    created_at: datetime = datetime_field()
    updated_at: datetime = datetime_field(onupdate=True)
    finished_at: datetime | None = datetime_field(nullable=True)
