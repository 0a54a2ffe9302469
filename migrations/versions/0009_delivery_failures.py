"""what peers answered to failed deliveries

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04

One row per ``deliver`` job with a failed attempt: the peer's HTTP status and a
bounded, sanitized excerpt of its answer, for the admin's list of failed deliveries.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | Sequence[str] | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('delivery_failures',
    sa.Column('job_id', sa.BigInteger(), nullable=False),
    sa.Column('http_status', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('response', sa.Text(), nullable=False),
    sa.Column('failed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_delivery_failures_job_id_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('job_id', name=op.f('pk_delivery_failures'))
    )


def downgrade() -> None:
    op.drop_table('delivery_failures')
