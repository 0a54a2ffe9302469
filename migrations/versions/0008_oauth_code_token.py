"""the token an authorization code gave

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04

``oauth_authorization_codes.token_id`` links a redeemed code to the access token
it was exchanged for, so that presenting the code again revokes that token
(RFC 6749 §4.1.2).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | Sequence[str] | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('oauth_authorization_codes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('token_id', sa.BigInteger(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_oauth_authorization_codes_token_id_oauth_tokens'),
            'oauth_tokens', ['token_id'], ['id'], ondelete='SET NULL',
        )


def downgrade() -> None:
    with op.batch_alter_table('oauth_authorization_codes', schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f('fk_oauth_authorization_codes_token_id_oauth_tokens'), type_='foreignkey'
        )
        batch_op.drop_column('token_id')
