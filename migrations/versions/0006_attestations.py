"""attestations, status lists and the moderation audit log

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26

The credentials this instance and its actors issue (account attestations,
self-declarations, media provenance, likeness consent), the Bitstring Status
Lists that revoke them, and the generic moderation audit log (every issuance
and revocation is written there).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | Sequence[str] | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('status_lists',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('issuer_id', sa.BigInteger(), nullable=False),
    sa.Column('purpose', sa.String(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('allocated', sa.Integer(), nullable=False),
    sa.Column('bits', sa.LargeBinary(), nullable=False),
    sa.Column('credential', sa.JSON(none_as_null=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['issuer_id'], ['actors.id'], name=op.f('fk_status_lists_issuer_id_actors'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_status_lists'))
    )
    with op.batch_alter_table('status_lists', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_status_lists_issuer_id'), ['issuer_id'], unique=False)

    op.create_table('attestations',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(), nullable=False),
    sa.Column('issuer_id', sa.BigInteger(), nullable=False),
    sa.Column('subject_actor_id', sa.BigInteger(), nullable=True),
    sa.Column('subject_media_id', sa.BigInteger(), nullable=True),
    sa.Column('claim', sa.String(), nullable=True),
    sa.Column('method', sa.String(), nullable=True),
    sa.Column('credential', sa.JSON(), nullable=False),
    sa.Column('status_list_id', sa.BigInteger(), nullable=True),
    sa.Column('status_index', sa.Integer(), nullable=True),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('valid_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['issuer_id'], ['actors.id'], name=op.f('fk_attestations_issuer_id_actors'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subject_actor_id'], ['actors.id'], name=op.f('fk_attestations_subject_actor_id_actors'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subject_media_id'], ['media_attachments.id'], name=op.f('fk_attestations_subject_media_id_media_attachments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['status_list_id'], ['status_lists.id'], name=op.f('fk_attestations_status_list_id_status_lists'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attestations')),
    sa.UniqueConstraint('status_list_id', 'status_index', name=op.f('uq_attestations_status_list_id_status_index'))
    )
    with op.batch_alter_table('attestations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attestations_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_attestations_issuer_id'), ['issuer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_attestations_subject_actor_id'), ['subject_actor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_attestations_subject_media_id'), ['subject_media_id'], unique=False)

    op.create_table('moderation_audit_log',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('actor_id', sa.BigInteger(), nullable=True),
    sa.Column('action', sa.String(), nullable=False),
    sa.Column('target', sa.String(), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['actors.id'], name=op.f('fk_moderation_audit_log_actor_id_actors'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_moderation_audit_log'))
    )
    with op.batch_alter_table('moderation_audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_moderation_audit_log_actor_id'), ['actor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_moderation_audit_log_action'), ['action'], unique=False)
        batch_op.create_index(batch_op.f('ix_moderation_audit_log_created_at'), ['created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('moderation_audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_moderation_audit_log_created_at'))
        batch_op.drop_index(batch_op.f('ix_moderation_audit_log_action'))
        batch_op.drop_index(batch_op.f('ix_moderation_audit_log_actor_id'))
    op.drop_table('moderation_audit_log')
    with op.batch_alter_table('attestations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attestations_subject_media_id'))
        batch_op.drop_index(batch_op.f('ix_attestations_subject_actor_id'))
        batch_op.drop_index(batch_op.f('ix_attestations_issuer_id'))
        batch_op.drop_index(batch_op.f('ix_attestations_kind'))
    op.drop_table('attestations')
    with op.batch_alter_table('status_lists', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_status_lists_issuer_id'))
    op.drop_table('status_lists')
