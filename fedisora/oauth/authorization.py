"""``/oauth/authorize``: checking an authorization request, and the form token that protects
the login-and-consent form.

Form token (CSRF and tampering protection)
-------------------------------------------
The form carries the request's parameters as hidden fields plus
``form_token = "<unix time>.<hex HMAC-SHA256>"``.  The MAC covers a per-browser
random nonce, the time, and every parameter (client_id, redirect_uri, scope,
state, code_challenge, code_challenge_method).  The nonce lives in an
``HttpOnly``, ``SameSite=Lax`` cookie, so a page on another site can neither
read it nor make a browser send a matching form (login CSRF); the MAC stops a
form whose parameters were edited (say, wider scopes than the page showed).
Tokens are good for :data:`FORM_TOKEN_LIFETIME`.

The MAC key is derived from the instance actor's RSA private key
(``HMAC-SHA256(key=SHA-256(PEM), "fedisora oauth authorize form v1")``):
a per-instance secret that already exists, lives in the database (so every
process of the instance agrees) and needs no new table; rotating that key
simply invalidates open forms.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from instance_config import Config

from ..accounts.service import ensure_instance_actor
from ..db.models import Key, KeyAlgorithm, OAuthApplication
from . import apps, codes
from .scopes import InvalidScope, format_scopes, parse_scopes, within

FORM_TOKEN_LIFETIME = 3600  # seconds
NONCE_COOKIE = "fedisora_oauth_nonce"
_NONCE_RE = re.compile(r"^[A-Za-z0-9_-]{22,64}$")
_KEY_CONTEXT = b"fedisora oauth authorize form v1"

UNKNOWN_CLIENT = (
    "Client authentication failed due to unknown client, no client authentication included, "
    "or unsupported authentication method."
)
BAD_REDIRECT = "The requested redirect uri is malformed or doesn't match client redirect URI."
BAD_SCOPE = "The requested scope is invalid, unknown, or malformed."


class AuthorizeError(Exception):
    """A request that must not go on (and must not redirect); ``message`` is safe to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class AuthorizationRequest:
    """A checked ``/oauth/authorize`` request."""

    application: OAuthApplication
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    lang: str | None = None

    @property
    def oob(self) -> bool:
        return self.redirect_uri == apps.OOB_REDIRECT_URI

    def form_fields(self) -> dict[str, str]:
        """The parameters that travel through the form (and are covered by its token)."""
        fields = {
            "response_type": "code",
            "client_id": self.application.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": format_scopes(self.scopes),
        }
        if self.state is not None:
            fields["state"] = self.state
        if self.code_challenge is not None:
            fields["code_challenge"] = self.code_challenge
            fields["code_challenge_method"] = self.code_challenge_method or "S256"
        if self.lang:
            fields["lang"] = self.lang
        return fields


async def check_request(session: AsyncSession, params: Mapping[str, str]) -> AuthorizationRequest:
    """The request ``params`` describe, or :class:`AuthorizeError`.

    The client and redirect URI are checked before anything else, so no error
    ever sends the browser to an address the app did not register.
    """
    application = await apps.find_app(session, params.get("client_id"))
    if application is None:
        raise AuthorizeError(UNKNOWN_CLIENT)
    registered = apps.redirect_uri_list(application)
    redirect_uri = params.get("redirect_uri") or ""
    if not redirect_uri and len(registered) == 1:
        redirect_uri = registered[0]  # RFC 6749 §3.1.2.3: optional with one registered URI
    if redirect_uri not in registered:
        raise AuthorizeError(BAD_REDIRECT)
    if params.get("response_type", "code") != "code":
        raise AuthorizeError("The authorization server does not support this response type.")
    app_scopes = apps.scope_list(application)
    raw_scopes = params.get("scope") or params.get("scopes")
    try:
        scopes = parse_scopes(raw_scopes)
    except InvalidScope:
        raise AuthorizeError(BAD_SCOPE) from None
    if not raw_scopes and not within(scopes, app_scopes):
        scopes = app_scopes  # no scope asked for: "read", or all an app without read has
    if not within(scopes, app_scopes):
        raise AuthorizeError(BAD_SCOPE)
    challenge = params.get("code_challenge") or None
    method = params.get("code_challenge_method") or None
    if challenge is not None:
        if method not in codes.PKCE_METHODS:
            raise AuthorizeError("Only the S256 code challenge method is supported.")
        if not codes.valid_code_challenge(challenge):
            raise AuthorizeError("The code challenge is malformed.")
    elif method is not None:
        raise AuthorizeError("Missing required parameter: code_challenge.")
    state = params.get("state")
    lang = params.get("lang") or None
    return AuthorizationRequest(
        application=application,
        redirect_uri=redirect_uri,
        scopes=scopes,
        state=state,
        code_challenge=challenge,
        code_challenge_method=method if challenge else None,
        lang=lang if lang and len(lang) <= 10 and lang.replace("-", "").isalnum() else None,
    )


# ---- the form token ------------------------------------------------------------------------


async def form_key(session: AsyncSession, config: Config) -> bytes:
    """The MAC key for form tokens (see the module docstring).  May create the instance actor
    on an instance that has none yet (the caller commits)."""
    actor = await ensure_instance_actor(session, config)
    query = (
        select(Key.private_key_pem)
        .where(
            Key.actor_id == actor.id,
            Key.algorithm == KeyAlgorithm.RSA.value,
            col(Key.private_key_pem).is_not(None),
            col(Key.revoked_at).is_(None),
        )
        .order_by(col(Key.id).desc())
    )
    pem = (await session.exec(query)).first()
    if not pem:
        raise RuntimeError("the instance actor has no private key")
    return hmac.new(hashlib.sha256(pem.encode("utf-8")).digest(), _KEY_CONTEXT, hashlib.sha256).digest()


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def valid_nonce(nonce: str | None) -> bool:
    return bool(nonce and _NONCE_RE.match(nonce))


def _mac(key: bytes, nonce: str, issued: int, fields: Mapping[str, str]) -> str:
    names = ("client_id", "redirect_uri", "scope", "state", "code_challenge", "code_challenge_method")
    parts = [nonce, str(issued), *(f"{n}={fields.get(n, '')}" for n in names)]
    message = json.dumps(parts).encode("utf-8")  # unambiguous field boundaries
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def make_form_token(key: bytes, nonce: str, request: AuthorizationRequest, now: float) -> str:
    issued = int(now)
    return f"{issued}.{_mac(key, nonce, issued, request.form_fields())}"


def check_form_token(
    key: bytes, nonce: str | None, request: AuthorizationRequest, token: str | None, now: float
) -> bool:
    if not valid_nonce(nonce) or not token or "." not in token:
        return False
    issued_text, mac = token.split(".", 1)
    if not issued_text.isdigit():
        return False
    issued = int(issued_text)
    if not (0 <= now - issued <= FORM_TOKEN_LIFETIME):
        return False
    assert nonce is not None
    return hmac.compare_digest(mac, _mac(key, nonce, issued, request.form_fields()))
