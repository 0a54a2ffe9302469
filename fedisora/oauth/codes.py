"""Authorization codes: made by ``/oauth/authorize``, redeemed once at ``/oauth/token``.

Codes live 10 minutes (Doorkeeper's default, which Mastodon keeps) and are
single use: redeeming sets ``used_at`` with a conditional UPDATE, so two
concurrent redemptions cannot both succeed.  PKCE (RFC 7636) supports S256
only, as Mastodon 4.3 advertises.

A code presented again by its own client (a replay, or the loser of a race
with whoever else had the code) is refused with ``invalid_grant`` *and* the
token its first redemption gave is revoked (RFC 6749 §4.1.2): the code has
leaked, so that token may be in the wrong hands.  This holds for as long as the
used code is kept (:data:`PURGE_AFTER` past its expiry).  Another client's try
with the code is refused without revoking anything, so that seeing a used code
is not enough to end someone's session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..db.models import OAuthApplication, OAuthAuthorizationCode, OAuthToken, utcnow
from . import crypto
from .errors import OAuthError
from .scopes import format_scopes

CODE_LIFETIME = timedelta(minutes=10)
# Expired codes are kept this long after expiry (so reuse reads as "used"), then purged.
PURGE_AFTER = timedelta(days=1)
PKCE_METHODS = ("S256",)
# RFC 7636 §4.1/§4.2: 43..128 characters of [A-Z a-z 0-9 - . _ ~].
_PKCE_RE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


class CodeReused(OAuthError):
    """``invalid_grant`` for a code that was already redeemed; the token it gave has been
    revoked in the session, which the caller must commit (not roll back)."""

    def __init__(self) -> None:
        super().__init__("invalid_grant")


def valid_code_challenge(challenge: str) -> bool:
    return bool(_PKCE_RE.match(challenge))


def s256(verifier: str) -> str:
    """The S256 code challenge for ``verifier``."""
    raw = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def verify_pkce(verifier: str | None, challenge: str, method: str) -> bool:
    if method not in PKCE_METHODS or not verifier or not _PKCE_RE.match(verifier):
        return False
    return hmac.compare_digest(s256(verifier), challenge)


async def create_code(
    session: AsyncSession,
    *,
    application_id: int,
    user_id: int,
    redirect_uri: str,
    scopes: Iterable[str],
    code_challenge: str | None = None,
    code_challenge_method: str | None = None,
) -> str:
    """Add a code and return it (the caller commits).  Long-expired codes are purged."""
    now = utcnow()
    await purge_expired(session, now=now)
    code = crypto.new_secret()
    session.add(
        OAuthAuthorizationCode(
            code_hash=crypto.digest(code),
            application_id=application_id,
            user_id=user_id,
            redirect_uri=redirect_uri,
            scopes=format_scopes(scopes),
            code_challenge=code_challenge or None,
            code_challenge_method=(code_challenge_method or "S256") if code_challenge else None,
            created_at=now,
            expires_at=now + CODE_LIFETIME,
        )
    )
    await session.flush()
    return code


async def redeem_code(
    session: AsyncSession,
    *,
    application: OAuthApplication,
    code: str | None,
    redirect_uri: str | None,
    code_verifier: str | None,
) -> OAuthAuthorizationCode:
    """Check a presented code and mark it used (the caller commits); ``invalid_grant`` otherwise.

    A failed check leaves the code usable, as Doorkeeper does, except that a
    code can only ever be redeemed once: a used code raises :class:`CodeReused`
    after revoking the token it gave (see the module docstring).  The caller
    links the token it issues with :func:`record_token`.
    """
    if not code:
        raise OAuthError("invalid_request", "Missing required parameter: code.")
    query = select(OAuthAuthorizationCode).where(
        OAuthAuthorizationCode.code_hash == crypto.digest(code)
    )
    grant = (await session.exec(query)).first()
    now = utcnow()
    if grant is None or grant.application_id != application.id:
        raise OAuthError("invalid_grant")
    if grant.used_at is not None:
        await _revoke_issued(session, grant.id, now)
        raise CodeReused()
    if grant.expires_at <= now:
        raise OAuthError("invalid_grant")
    if not redirect_uri or not hmac.compare_digest(
        redirect_uri.encode("utf-8"), grant.redirect_uri.encode("utf-8")
    ):
        raise OAuthError("invalid_grant")
    if grant.code_challenge is not None and not verify_pkce(
        code_verifier, grant.code_challenge, grant.code_challenge_method or ""
    ):
        raise OAuthError("invalid_grant")
    result = await session.exec(
        sa.update(OAuthAuthorizationCode)
        .where(col(OAuthAuthorizationCode.id) == grant.id, col(OAuthAuthorizationCode.used_at).is_(None))
        .values(used_at=now)
    )
    if result.rowcount != 1:  # redeemed concurrently: as much a replay as one that comes later
        await _revoke_issued(session, grant.id, now)
        raise CodeReused()
    grant.used_at = now
    return grant


async def record_token(session: AsyncSession, grant: OAuthAuthorizationCode, token_id: int) -> None:
    """Remember that redeeming ``grant`` gave the token ``token_id`` (the caller commits)."""
    await session.exec(
        sa.update(OAuthAuthorizationCode)
        .where(col(OAuthAuthorizationCode.id) == grant.id)
        .values(token_id=token_id)
    )
    grant.token_id = token_id


async def _revoke_issued(session: AsyncSession, code_id: int, now: datetime) -> None:
    """Revoke the token that redeeming the code ``code_id`` gave, if it is still live.

    Read afresh: after a concurrent redemption's commit the row names its token."""
    token_id = (
        await session.exec(
            select(OAuthAuthorizationCode.token_id).where(col(OAuthAuthorizationCode.id) == code_id)
        )
    ).first()
    if token_id is None:
        return
    await session.exec(
        sa.update(OAuthToken)
        .where(col(OAuthToken.id) == token_id, col(OAuthToken.revoked_at).is_(None))
        .values(revoked_at=now)
    )


async def purge_expired(session: AsyncSession, *, now: datetime | None = None) -> int:
    """Delete codes that expired more than :data:`PURGE_AFTER` ago (the caller commits)."""
    cutoff = (now or utcnow()) - PURGE_AFTER
    result = await session.exec(
        sa.delete(OAuthAuthorizationCode).where(col(OAuthAuthorizationCode.expires_at) < cutoff)
    )
    return int(result.rowcount or 0)
