"""initial schema

Revision ID: 0001
Revises:
Create Date: 2025-01-01

All tables of the first release.  Generated with autogenerate, then checked
by hand: plain ``sa`` types only, explicit constraint/index names matching
the naming convention in ``fedisora.db.models.base``.

Deliberately no server defaults: every column default is applied by the
models in Python.  Booleans have no CHECK constraints (SQLAlchemy 2 default).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "activities",
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('uri', sa.String(), nullable=False),
        sa.Column('activity_type', sa.String(), nullable=False),
        sa.Column('actor_uri', sa.String(), nullable=False),
        sa.Column('object_uri', sa.String(), nullable=True),
        sa.Column('local', sa.Boolean(), nullable=False),
        sa.Column('raw', sa.JSON(), nullable=False),
        sa.Column('state', sa.String(), nullable=False),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name='pk_activities'),
        sa.UniqueConstraint('uri', name='uq_activities_uri'),
    )
    op.create_index('ix_activities_actor_uri', 'activities', ['actor_uri'], unique=False)
    op.create_index('ix_activities_object_uri', 'activities', ['object_uri'], unique=False)

    op.create_table(
        "domains",
        sa.Column('domain', sa.String(), nullable=False),
        sa.Column('local', sa.Boolean(), nullable=False),
        sa.Column('software', sa.String(), nullable=True),
        sa.Column('software_version', sa.String(), nullable=True),
        sa.Column('nodeinfo_fetched_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('blocked', sa.Boolean(), nullable=False),
        sa.Column('unreachable_since', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_success_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_failure_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('failure_count', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('domain', name='pk_domains'),
    )
    op.create_table(
        "jobs",
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('kind', sa.String(), nullable=False),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.Column('state', sa.String(), nullable=False),
        sa.Column('priority', sa.Integer(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('max_attempts', sa.Integer(), nullable=False),
        sa.Column('run_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('locked_by', sa.String(), nullable=True),
        sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('progress', sa.Float(), nullable=True),
        sa.Column('progress_message', sa.String(), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('dedupe_key', sa.String(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name='pk_jobs'),
        sa.UniqueConstraint('dedupe_key', name='uq_jobs_dedupe_key'),
    )
    op.create_index('ix_jobs_kind', 'jobs', ['kind'], unique=False)
    op.create_index('ix_jobs_state_run_at_priority', 'jobs', ['state', 'run_at', 'priority'], unique=False)

    op.create_table(
        "actors",
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('uri', sa.String(), nullable=False),
        sa.Column('domain', sa.String(), nullable=False),
        sa.Column('username', sa.String(), nullable=False),
        sa.Column('username_key', sa.String(), nullable=False),
        sa.Column('local', sa.Boolean(), nullable=False),
        sa.Column('actor_type', sa.String(), nullable=False),
        sa.Column('display_name', sa.String(), nullable=False),
        sa.Column('summary', sa.Text(), nullable=False),
        sa.Column('url', sa.String(), nullable=True),
        sa.Column('inbox_uri', sa.String(), nullable=True),
        sa.Column('outbox_uri', sa.String(), nullable=True),
        sa.Column('shared_inbox_uri', sa.String(), nullable=True),
        sa.Column('followers_uri', sa.String(), nullable=True),
        sa.Column('following_uri', sa.String(), nullable=True),
        sa.Column('featured_uri', sa.String(), nullable=True),
        sa.Column('icon_url', sa.String(), nullable=True),
        sa.Column('header_url', sa.String(), nullable=True),
        sa.Column('manually_approves_followers', sa.Boolean(), nullable=False),
        sa.Column('discoverable', sa.Boolean(), nullable=False),
        sa.Column('indexable', sa.Boolean(), nullable=False),
        sa.Column('moved_to_uri', sa.String(), nullable=True),
        sa.Column('also_known_as', sa.JSON(), nullable=False),
        sa.Column('raw', sa.JSON(), nullable=True),
        sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('suspended_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['domain'], ['domains.domain'], name='fk_actors_domain_domains'),
        sa.PrimaryKeyConstraint('id', name='pk_actors'),
        sa.UniqueConstraint('uri', name='uq_actors_uri'),
        sa.UniqueConstraint('username_key', 'domain', name='uq_actors_username_key_domain'),
    )
    op.create_index('ix_actors_domain', 'actors', ['domain'], unique=False)

    op.create_table(
        "follows",
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('uri', sa.String(), nullable=True),
        sa.Column('follower_id', sa.BigInteger(), nullable=False),
        sa.Column('target_id', sa.BigInteger(), nullable=False),
        sa.Column('state', sa.String(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['follower_id'], ['actors.id'], name='fk_follows_follower_id_actors', ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['target_id'], ['actors.id'], name='fk_follows_target_id_actors', ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name='pk_follows'),
        sa.UniqueConstraint('follower_id', 'target_id', name='uq_follows_follower_id_target_id'),
        sa.UniqueConstraint('uri', name='uq_follows_uri'),
    )
    op.create_index('ix_follows_target_id', 'follows', ['target_id'], unique=False)

    op.create_table(
        "keys",
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('actor_id', sa.BigInteger(), nullable=False),
        sa.Column('key_id', sa.String(), nullable=False),
        sa.Column('algorithm', sa.String(), nullable=False),
        sa.Column('purpose', sa.String(), nullable=False),
        sa.Column('public_key_pem', sa.Text(), nullable=True),
        sa.Column('public_key_multibase', sa.String(), nullable=True),
        sa.Column('private_key_pem', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['actor_id'], ['actors.id'], name='fk_keys_actor_id_actors', ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name='pk_keys'),
        sa.UniqueConstraint('key_id', name='uq_keys_key_id'),
    )
    op.create_index('ix_keys_actor_id', 'keys', ['actor_id'], unique=False)

    op.create_table(
        "statuses",
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('uri', sa.String(), nullable=False),
        sa.Column('url', sa.String(), nullable=True),
        sa.Column('actor_id', sa.BigInteger(), nullable=False),
        sa.Column('local', sa.Boolean(), nullable=False),
        sa.Column('object_type', sa.String(), nullable=False),
        sa.Column('visibility', sa.String(), nullable=False),
        sa.Column('content', sa.Text(), nullable=False),
        sa.Column('source_text', sa.Text(), nullable=True),
        sa.Column('summary', sa.Text(), nullable=False),
        sa.Column('sensitive', sa.Boolean(), nullable=False),
        sa.Column('language', sa.String(), nullable=True),
        sa.Column('in_reply_to_uri', sa.String(), nullable=True),
        sa.Column('in_reply_to_id', sa.BigInteger(), nullable=True),
        sa.Column('conversation_uri', sa.String(), nullable=True),
        sa.Column('reblog_of_id', sa.BigInteger(), nullable=True),
        sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('edited_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('raw', sa.JSON(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['actor_id'], ['actors.id'], name='fk_statuses_actor_id_actors', ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['in_reply_to_id'], ['statuses.id'], name='fk_statuses_in_reply_to_id_statuses', ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['reblog_of_id'], ['statuses.id'], name='fk_statuses_reblog_of_id_statuses', ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name='pk_statuses'),
        sa.UniqueConstraint('uri', name='uq_statuses_uri'),
    )
    op.create_index('ix_statuses_actor_id_id', 'statuses', ['actor_id', 'id'], unique=False)
    op.create_index('ix_statuses_in_reply_to_id', 'statuses', ['in_reply_to_id'], unique=False)
    op.create_index('ix_statuses_reblog_of_id', 'statuses', ['reblog_of_id'], unique=False)

    op.create_table(
        "users",
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('actor_id', sa.BigInteger(), nullable=False),
        sa.Column('email', sa.String(), nullable=True),
        sa.Column('password_hash', sa.String(), nullable=True),
        sa.Column('is_admin', sa.Boolean(), nullable=False),
        sa.Column('approved', sa.Boolean(), nullable=False),
        sa.Column('locale', sa.String(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['actor_id'], ['actors.id'], name='fk_users_actor_id_actors', ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name='pk_users'),
        sa.UniqueConstraint('actor_id', name='uq_users_actor_id'),
        sa.UniqueConstraint('email', name='uq_users_email'),
    )
    op.create_table(
        "media_attachments",
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('actor_id', sa.BigInteger(), nullable=False),
        sa.Column('status_id', sa.BigInteger(), nullable=True),
        sa.Column('media_type', sa.String(), nullable=False),
        sa.Column('state', sa.String(), nullable=False),
        sa.Column('mime_type', sa.String(), nullable=True),
        sa.Column('file_path', sa.String(), nullable=True),
        sa.Column('thumbnail_path', sa.String(), nullable=True),
        sa.Column('size_bytes', sa.BigInteger(), nullable=True),
        sa.Column('sha256', sa.String(), nullable=True),
        sa.Column('remote_url', sa.String(), nullable=True),
        sa.Column('description', sa.Text(), nullable=True),
        sa.Column('blurhash', sa.String(), nullable=True),
        sa.Column('focus_x', sa.Float(), nullable=True),
        sa.Column('focus_y', sa.Float(), nullable=True),
        sa.Column('meta', sa.JSON(), nullable=False),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['actor_id'], ['actors.id'], name='fk_media_attachments_actor_id_actors', ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['status_id'], ['statuses.id'], name='fk_media_attachments_status_id_statuses', ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name='pk_media_attachments'),
    )
    op.create_index('ix_media_attachments_actor_id', 'media_attachments', ['actor_id'], unique=False)
    op.create_index('ix_media_attachments_status_id', 'media_attachments', ['status_id'], unique=False)



def downgrade() -> None:
    # Children before parents; dropping a table drops its indexes.
    for table in (
        "media_attachments",
        "users",
        "keys",
        "follows",
        "statuses",
        "actors",
        "domains",
        "activities",
        "jobs",
    ):
        op.drop_table(table)
