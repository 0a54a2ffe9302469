"""OAuth 2 for the Mastodon client API: registered applications, authorization codes, tokens.

Client secrets, codes and access tokens are random strings that are shown
once and stored only as SHA-256 hex digests (``*_hash`` columns); see
:mod:`fedisora.oauth`.  Scopes are stored space separated, redirect URIs
newline separated, as clients send them.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field

from fedisora.db.models.base import Base, datetime_field, snowflake_pk

__all__ = ["OAuthApplication", "OAuthAuthorizationCode", "OAuthToken"]


class OAuthApplication(Base, table=True):
    """A client registered with ``POST /api/v1/apps``."""

    __tablename__ = "oauth_applications"

    id: int = snowflake_pk()
    name: str
    website: str | None = None
    redirect_uris: str = Field(sa_type=sa.Text)  # newline separated
    scopes: str = "read"  # space separated
    client_id: str = Field(unique=True)
    client_secret_hash: str  # SHA-256 hex of the client secret
    # The local user who registered the app, when one did (apps from the API have none).
    user_id: int | None = Field(
        default=None, foreign_key="users.id", ondelete="SET NULL", index=True
    )
    created_at: datetime = datetime_field()


class OAuthAuthorizationCode(Base, table=True):
    """A short-lived, single-use code from ``/oauth/authorize`` (``used_at`` once redeemed).

    ``token_id`` is the token its redemption gave, revoked if the code is presented again
    (RFC 6749 §4.1.2)."""

    __tablename__ = "oauth_authorization_codes"

    id: int = snowflake_pk()
    code_hash: str = Field(unique=True)
    application_id: int = Field(
        sa_type=sa.BigInteger, foreign_key="oauth_applications.id", ondelete="CASCADE", index=True
    )
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    redirect_uri: str = Field(sa_type=sa.Text)
    scopes: str
    code_challenge: str | None = None  # PKCE (RFC 7636), S256 only
    code_challenge_method: str | None = None
    created_at: datetime = datetime_field()
    expires_at: datetime = datetime_field(index=True)
    used_at: datetime | None = datetime_field(nullable=True)
    token_id: int | None = Field(
        default=None, sa_type=sa.BigInteger, foreign_key="oauth_tokens.id", ondelete="SET NULL"
    )


class OAuthToken(Base, table=True):
    """A bearer access token.  ``user_id`` is empty for client-credentials (app-only) tokens."""

    __tablename__ = "oauth_tokens"

    id: int = snowflake_pk()
    token_hash: str = Field(unique=True)
    application_id: int = Field(
        sa_type=sa.BigInteger, foreign_key="oauth_applications.id", ondelete="CASCADE", index=True
    )
    user_id: int | None = Field(
        default=None, foreign_key="users.id", ondelete="CASCADE", index=True
    )
    scopes: str
    created_at: datetime = datetime_field()
    last_used_at: datetime | None = datetime_field(nullable=True)
    revoked_at: datetime | None = datetime_field(nullable=True)
