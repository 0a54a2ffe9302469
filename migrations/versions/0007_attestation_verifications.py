"""attestation verification results and the status-list cache

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26

What this instance concluded about the attestations it received (one row per
credential and per actor, post or media file it was found on), and the
Bitstring Status List credentials it fetched to check revocation.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | Sequence[str] | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('attestation_verifications',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('target', sa.String(), nullable=False),
    sa.Column('credential_id', sa.Text(), nullable=False),
    sa.Column('kind', sa.String(), nullable=False),
    sa.Column('issuer_uri', sa.Text(), nullable=True),
    sa.Column('subject_uri', sa.Text(), nullable=True),
    sa.Column('actor_id', sa.BigInteger(), nullable=True),
    sa.Column('status_id', sa.BigInteger(), nullable=True),
    sa.Column('media_id', sa.BigInteger(), nullable=True),
    sa.Column('result', sa.String(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=True),
    sa.Column('valid_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('checked_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('next_check_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('credential', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['actors.id'], name=op.f('fk_attestation_verifications_actor_id_actors'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['media_id'], ['media_attachments.id'], name=op.f('fk_attestation_verifications_media_id_media_attachments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['status_id'], ['statuses.id'], name=op.f('fk_attestation_verifications_status_id_statuses'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attestation_verifications')),
    sa.UniqueConstraint('target', 'credential_id', name=op.f('uq_attestation_verifications_target_credential_id'))
    )
    with op.batch_alter_table('attestation_verifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attestation_verifications_actor_id'), ['actor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_attestation_verifications_media_id'), ['media_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_attestation_verifications_next_check_at'), ['next_check_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_attestation_verifications_status_id'), ['status_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_attestation_verifications_subject_uri'), ['subject_uri'], unique=False)

    op.create_table('attestation_status_lists',
    sa.Column('url', sa.String(), nullable=False),
    sa.Column('issuer_uri', sa.Text(), nullable=True),
    sa.Column('purpose', sa.String(), nullable=False),
    sa.Column('encoded_list', sa.Text(), nullable=False),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('url', name=op.f('pk_attestation_status_lists'))
    )


def downgrade() -> None:
    op.drop_table('attestation_status_lists')
    with op.batch_alter_table('attestation_verifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attestation_verifications_subject_uri'))
        batch_op.drop_index(batch_op.f('ix_attestation_verifications_status_id'))
        batch_op.drop_index(batch_op.f('ix_attestation_verifications_next_check_at'))
        batch_op.drop_index(batch_op.f('ix_attestation_verifications_media_id'))
        batch_op.drop_index(batch_op.f('ix_attestation_verifications_actor_id'))

    op.drop_table('attestation_verifications')
