"""media processing progress, remote cache and provenance columns

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25

Adds to media_attachments: processing progress, the remote thumbnail URL,
the remote domain and cache time (for the remote media cache), and the
provenance fields (IPTC digital source type, C2PA manifest summary).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | Sequence[str] | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('media_attachments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('progress', sa.Float(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('thumbnail_remote_url', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('remote_domain', sa.String(), nullable=True))
        batch_op.add_column(sa.Column('cached_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('digital_source_type', sa.String(), nullable=True))
        batch_op.add_column(sa.Column('c2pa', sa.JSON(), nullable=True))
        batch_op.create_index(batch_op.f('ix_media_attachments_remote_domain'), ['remote_domain'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('media_attachments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_media_attachments_remote_domain'))
        batch_op.drop_column('c2pa')
        batch_op.drop_column('digital_source_type')
        batch_op.drop_column('cached_at')
        batch_op.drop_column('remote_domain')
        batch_op.drop_column('thumbnail_remote_url')
        batch_op.drop_column('progress')
