"""Access tokens: issuing, looking up (for every authenticated request) and revoking."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..db.models import Actor, OAuthApplication, OAuthToken, User, utcnow
from . import crypto
from .scopes import format_scopes

# ``last_used_at`` is written at most this often per token.
TOUCH_INTERVAL = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedToken:
    """A new token row and the bearer string (shown once, never stored)."""

    token: OAuthToken
    access_token: str


@dataclass(frozen=True)
class TokenOwner:
    """A live token with its application, and its user and actor when it has one."""

    token: OAuthToken
    application: OAuthApplication
    user: User | None
    actor: Actor | None


async def issue_token(
    session: AsyncSession, *, application_id: int, user_id: int | None, scopes: Iterable[str]
) -> IssuedToken:
    """Add a token (the caller commits)."""
    access_token = crypto.new_secret()
    token = OAuthToken(
        token_hash=crypto.digest(access_token),
        application_id=application_id,
        user_id=user_id,
        scopes=format_scopes(scopes),
    )
    session.add(token)
    await session.flush()
    return IssuedToken(token=token, access_token=access_token)


def token_entity(issued: IssuedToken) -> dict[str, Any]:
    """Mastodon's ``Token`` entity."""
    return {
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "scope": issued.token.scopes,
        "created_at": int(issued.token.created_at.timestamp()),
    }


async def find_token(session: AsyncSession, access_token: str) -> TokenOwner | None:
    """The unrevoked token with this bearer string, with its app, user and actor."""
    if not access_token:
        return None
    query = (
        select(OAuthToken, OAuthApplication, User, Actor)
        .join(OAuthApplication, col(OAuthApplication.id) == OAuthToken.application_id)
        .outerjoin(User, col(User.id) == OAuthToken.user_id)
        .outerjoin(Actor, col(Actor.id) == User.actor_id)
        .where(OAuthToken.token_hash == crypto.digest(access_token))
        .where(col(OAuthToken.revoked_at).is_(None))
    )
    row = (await session.exec(query)).first()
    if row is None:
        return None
    token, application, user, actor = row
    return TokenOwner(token=token, application=application, user=user, actor=actor)


def needs_touch(token: OAuthToken, now: datetime | None = None) -> bool:
    """Whether the token's ``last_used_at`` is older than :data:`TOUCH_INTERVAL` (or unset)."""
    now = now or utcnow()
    return token.last_used_at is None or now - token.last_used_at >= TOUCH_INTERVAL


async def touch(session: AsyncSession, token: OAuthToken, now: datetime | None = None) -> bool:
    """Record use of ``token`` unless that was done within :data:`TOUCH_INTERVAL` (the caller
    commits).  Returns whether a write was made."""
    now = now or utcnow()
    if not needs_touch(token, now):
        return False
    await session.exec(
        sa.update(OAuthToken).where(col(OAuthToken.id) == token.id).values(last_used_at=now)
    )
    token.last_used_at = now
    return True


async def revoke_token(session: AsyncSession, application: OAuthApplication, access_token: str) -> bool:
    """Revoke ``access_token`` if it belongs to ``application`` (the caller commits).

    Returns ``False`` only when the token exists but belongs to another app;
    unknown or already revoked tokens count as revoked (RFC 7009 §2.2).
    """
    query = select(OAuthToken).where(OAuthToken.token_hash == crypto.digest(access_token))
    token = (await session.exec(query)).first()
    if token is None:
        return True
    if token.application_id != application.id:
        return False
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.add(token)
        await session.flush()
    return True


async def revoke_all_for_user(session: AsyncSession, user_id: int) -> int:
    """Revoke every live token of a user (e.g. after a password change); the caller commits."""
    result = await session.exec(
        sa.update(OAuthToken)
        .where(col(OAuthToken.user_id) == user_id, col(OAuthToken.revoked_at).is_(None))
        .values(revoked_at=utcnow())
    )
    return int(result.rowcount or 0)
