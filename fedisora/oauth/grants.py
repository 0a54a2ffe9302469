"""``POST /oauth/token`` and ``POST /oauth/revoke``: the grant types Mastodon offers.

* ``authorization_code``: a code from ``/oauth/authorize``, the same
  ``redirect_uri``, and the PKCE verifier when the code has a challenge;
* ``client_credentials``: an app-only token (no user);
* ``password``: username or e-mail address and password (toot's ``login_cli``).

Every grant needs the client's id and secret (form fields or HTTP Basic).
Errors are :class:`~fedisora.oauth.errors.OAuthError`.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlmodel.ext.asyncio.session import AsyncSession

from ..db.models import Actor, OAuthApplication, User
from . import apps, codes, tokens
from .errors import OAuthError
from .login import LoginContext, LoginFailed, check_login
from .scopes import DEFAULT_SCOPES, InvalidScope, parse_scopes, within

GRANT_TYPES = ("authorization_code", "password", "client_credentials")


def _requested_scopes(params: Mapping[str, str], application: OAuthApplication) -> tuple[str, ...]:
    """The scopes asked for, which the app must have been registered with.  With none asked
    for: ``read`` as in Mastodon, or all the app's scopes when it was not registered for read."""
    app_scopes = apps.scope_list(application)
    raw = params.get("scope") or params.get("scopes")
    if not raw:
        return DEFAULT_SCOPES if within(DEFAULT_SCOPES, app_scopes) else app_scopes
    try:
        scopes = parse_scopes(raw)
    except InvalidScope:
        raise OAuthError("invalid_scope") from None
    if not within(scopes, app_scopes):
        raise OAuthError("invalid_scope")
    return scopes


async def _usable_user(session: AsyncSession, user_id: int) -> bool:
    user = await session.get(User, user_id)
    if user is None or not user.approved:
        return False
    actor = await session.get(Actor, user.actor_id)
    return actor is not None and actor.suspended_at is None and actor.deleted_at is None


async def grant_token(
    session: AsyncSession,
    params: Mapping[str, str],
    *,
    client_id: str | None,
    client_secret: str | None,
    login: LoginContext,
) -> tokens.IssuedToken:
    """Issue a token for a token request (the caller commits), or raise :class:`OAuthError`
    (or :class:`~fedisora.oauth.login_limits.TooManyAttempts` for a password grant past the
    sign-in limits; ``login`` says where the attempt is made)."""
    grant_type = params.get("grant_type")
    if not grant_type:
        raise OAuthError("invalid_request", "Missing required parameter: grant_type.")
    if grant_type not in GRANT_TYPES:
        raise OAuthError("unsupported_grant_type")
    application = await apps.authenticate_client(session, client_id, client_secret)
    if application is None:
        raise OAuthError("invalid_client")

    if grant_type == "authorization_code":
        grant = await codes.redeem_code(
            session,
            application=application,
            code=params.get("code"),
            redirect_uri=params.get("redirect_uri"),
            code_verifier=params.get("code_verifier"),
        )
        if not await _usable_user(session, grant.user_id):
            raise OAuthError("invalid_grant")
        issued = await tokens.issue_token(
            session, application_id=application.id, user_id=grant.user_id, scopes=grant.scopes.split()
        )
        assert issued.token.id is not None
        await codes.record_token(session, grant, issued.token.id)
        return issued

    scopes = _requested_scopes(params, application)
    if grant_type == "client_credentials":
        return await tokens.issue_token(
            session, application_id=application.id, user_id=None, scopes=scopes
        )

    # password
    username, password = params.get("username"), params.get("password")
    if not username or not password:
        raise OAuthError("invalid_request", "Missing required parameter: username and password.")
    try:
        account = await check_login(session, username, password, login)
    except LoginFailed:
        raise OAuthError("invalid_grant") from None
    assert account.user.id is not None
    return await tokens.issue_token(
        session, application_id=application.id, user_id=account.user.id, scopes=scopes
    )


async def revoke(
    session: AsyncSession,
    token: str | None,
    *,
    client_id: str | None,
    client_secret: str | None,
) -> None:
    """Revoke a token of the authenticated client (RFC 7009; the caller commits)."""
    application = await apps.authenticate_client(session, client_id, client_secret)
    if application is None:
        raise OAuthError("invalid_client")
    # Mastodon answers 403 both for another app's token and for no token at all.
    if not token or not await tokens.revoke_token(session, application, token):
        raise OAuthError("unauthorized_client")
