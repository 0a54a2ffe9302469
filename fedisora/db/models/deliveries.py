"""What a peer answered to a delivery that failed: one row per ``deliver`` job, its last failed attempt.

The ``deliver`` job (:mod:`fedisora.federation.delivery`) writes it on every failed
attempt, so a delivery given up as permanent (a 4xx) or out of retries keeps the
peer's HTTP status and a bounded, sanitized excerpt of its body for the admin
(``fedisora deliveries failed``, ``GET /api/v1/admin/deliveries``).  The row goes
with its job (``ON DELETE CASCADE``: maintenance forgets finished jobs after a week).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field

from fedisora.db.models.base import Base, datetime_field

__all__ = ["DeliveryFailure"]


class DeliveryFailure(Base, table=True):
    __tablename__ = "delivery_failures"

    job_id: int = Field(
        sa_type=sa.BigInteger, primary_key=True, foreign_key="jobs.id", ondelete="CASCADE"
    )
    http_status: int | None = None  # None: no answer (timeout, connection refused, unsafe URL)
    reason: str = Field(default="", sa_type=sa.Text)  # e.g. "HTTP 400: permanent client error"
    response: str = Field(default="", sa_type=sa.Text)  # the peer's body, sanitized and bounded
    failed_at: datetime = datetime_field()
