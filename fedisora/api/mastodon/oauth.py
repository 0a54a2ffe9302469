"""The OAuth 2 endpoints Mastodon clients use.

* ``GET /oauth/authorize``: a login-and-consent page (no browser sessions:
  the person types their username or e-mail address and password each time);
* ``POST /oauth/authorize``: checks the form token (see
  :mod:`fedisora.oauth.authorization`) and the password, then redirects to the
  app with ``code`` and ``state`` (or shows the code for
  ``urn:ietf:wg:oauth:2.0:oob``);
* ``POST /oauth/token``, ``POST /oauth/revoke``: JSON, OAuth errors as
  ``{"error", "error_description"}``;
* ``GET /.well-known/oauth-authorization-server``: RFC 8414 metadata, as
  Mastodon 4.3 publishes it.

Sign-in attempts on the form and the password grant count against the limits
of :mod:`fedisora.oauth.login_limits` (``429``: a page on the form,
``{"error": "Too many requests"}`` on ``/oauth/token``).

Request problems on the authorize endpoints (unknown client, unregistered
redirect URI, scopes the app may not ask for) get a 400 HTML page and never
a redirect.
"""

from __future__ import annotations

import base64
import binascii
import time
from html import escape
from typing import Any
from urllib.parse import unquote_plus, urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ...oauth import grants
from ...oauth.authorization import (
    FORM_TOKEN_LIFETIME,
    NONCE_COOKIE,
    AuthorizationRequest,
    AuthorizeError,
    check_form_token,
    check_request,
    form_key,
    make_form_token,
    new_nonce,
    valid_nonce,
)
from ...oauth.codes import CodeReused, create_code
from ...oauth.errors import OAuthError
from ...oauth.login import LoginContext, LoginFailed, check_login
from ...oauth.login_limits import (
    DEVICE_COOKIE,
    DEVICE_LIFETIME,
    TooManyAttempts,
    is_known_device,
    make_device_cookie,
)
from ...oauth.scopes import SCOPES_SUPPORTED
from ...oauth.tokens import token_entity
from ...state import AppState
from ...web.layout import page
from ..ratelimit import TOO_MANY, too_many_headers
from .apps import CORS, cors
from .auth import request_params, text_param

# Pages that show codes or take passwords: never cached, never framed, no Referer.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}
TOKEN_HEADERS = {**CORS, "Cache-Control": "no-store", "Pragma": "no-cache"}

SCOPE_TEXT = {
    "read": "read all your account's data",
    "write": "change all your account's data (post, follow, favourite, …)",
    "follow": "follow, block and mute accounts, and see who you follow, block and mute",
    "push": "receive your push notifications",
    "profile": "see your profile only",
    "admin:read": "read all data on the server (moderation)",
    "admin:write": "moderate accounts and content on the server",
}

_STYLE = (
    "<style>form{margin:1.5rem 0}label{display:block;margin:.6rem 0 .2rem}"
    "input[type=text],input[type=password]{width:100%;max-width:24rem;padding:.4rem;font:inherit}"
    ".error{color:#a00;font-weight:600}button{font:inherit;padding:.4rem 1rem;margin:.8rem .5rem 0 0}"
    "ul.scopes li code{font-size:.95em}</style>"
)


def _state(request: Request) -> AppState:
    return request.app.state.fedisora  # type: ignore[no-any-return]


def _html(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(page(title, _STYLE + body), status_code=status, headers=PAGE_HEADERS)


def _error_page(message: str, status: int = 400) -> HTMLResponse:
    body = (
        "<h1>Authorization failed</h1>\n"
        f'<p class="error" role="alert">{escape(message)}</p>\n'
        '<p class="muted">Go back to the app you came from and start signing in again.</p>'
    )
    return _html("Authorization failed", body, status)


def _scope_items(scopes: tuple[str, ...]) -> str:
    items = []
    for scope in scopes:
        text = SCOPE_TEXT.get(scope)
        detail = f" — {escape(text)}" if text else ""
        items.append(f"<li><code>{escape(scope)}</code>{detail}</li>")
    return "\n".join(items)


def _form_page(
    request: Request,
    areq: AuthorizationRequest,
    key: bytes,
    nonce: str,
    *,
    error: str | None = None,
    username: str = "",
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    config = _state(request).config
    app = areq.application
    name = escape(app.name)
    website = (
        f' (<a href="{escape(app.website)}" rel="noopener noreferrer">{escape(app.website)}</a>)'
        if app.website
        else ""
    )
    fields = {**areq.form_fields(), "form_token": make_form_token(key, nonce, areq, time.time())}
    hidden = "\n".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in fields.items()
    )
    after = (
        "The app's code will be shown on the next page."
        if areq.oob
        else f"You will be sent to <code>{escape(areq.redirect_uri)}</code>."
    )
    alert = f'<p class="error" role="alert">{escape(error)}</p>\n' if error else ""
    body = f"""<h1>Authorize {name}</h1>
<p><strong>{name}</strong>{website} wants to use your account on
<strong>{escape(config.instance.name)}</strong> ({escape(config.instance.domain)}). It asks to:</p>
<ul class="scopes">
{_scope_items(areq.scopes)}
</ul>
{alert}<form method="post" action="/oauth/authorize">
{hidden}
<label for="username">Username or e-mail address</label>
<input type="text" id="username" name="username" value="{escape(username)}" autocomplete="username"
 autocapitalize="none" spellcheck="false" required>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required>
<div>
<button type="submit" name="decision" value="approve">Authorize</button>
<button type="submit" name="decision" value="deny" formnovalidate>Deny</button>
</div>
</form>
<p class="muted">{after}</p>"""
    response = _html(f"Authorize {app.name}", body, status)
    response.headers.update(headers or {})
    response.set_cookie(
        NONCE_COOKIE,
        nonce,
        max_age=FORM_TOKEN_LIFETIME,
        path="/oauth/authorize",
        secure=config.base_url.startswith("https://"),
        httponly=True,
        samesite="lax",
    )
    return response


def _with_query(uri: str, params: dict[str, str]) -> str:
    """``uri`` with ``params`` appended to its query string (existing parameters kept)."""
    parts = urlsplit(uri)
    extra = urlencode(params)
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _redirect(areq: AuthorizationRequest, params: dict[str, str]) -> Response:
    if areq.state is not None:
        params = {**params, "state": areq.state}
    return RedirectResponse(
        _with_query(areq.redirect_uri, params), status_code=302, headers=PAGE_HEADERS
    )


async def authorize_form(request: Request) -> Response:
    state = _state(request)
    async with state.sessions() as session:
        try:
            areq = await check_request(session, dict(request.query_params))
        except AuthorizeError as exc:
            return _error_page(exc.message)
        key = await form_key(session, state.config)
        await session.commit()
    nonce = request.cookies.get(NONCE_COOKIE)
    return _form_page(request, areq, key, nonce if valid_nonce(nonce) else new_nonce())


async def authorize_submit(request: Request) -> Response:
    state = _state(request)
    params = _text_params(await request_params(request))
    nonce = request.cookies.get(NONCE_COOKIE)
    async with state.sessions() as session:
        try:
            areq = await check_request(session, params)
        except AuthorizeError as exc:
            return _error_page(exc.message)
        key = await form_key(session, state.config)
        await session.commit()  # in case that made the instance actor
        if not check_form_token(key, nonce, areq, params.get("form_token"), time.time()):
            return _error_page(
                "This form has expired or was not sent from this site (are cookies enabled?)."
            )
        if params.get("decision") == "deny":
            if areq.oob:
                body = (
                    "<h1>Authorization denied</h1>\n"
                    f"<p>{escape(areq.application.name)} was not given access.</p>"
                )
                return _html("Authorization denied", body)
            return _redirect(
                areq,
                {
                    "error": "access_denied",
                    "error_description": "The resource owner or authorization server denied the request.",
                },
            )
        username = params.get("username", "")
        device = request.cookies.get(DEVICE_COOKIE)
        if not is_known_device(key, device, username, time.time()):
            device = None
        context = _login_context(request, device=device)
        assert nonce is not None  # checked with the form token
        try:
            account = await check_login(session, username, params.get("password"), context)
        except LoginFailed as exc:
            return _form_page(
                request, areq, key, nonce, error=exc.message, username=username, status=401
            )
        except TooManyAttempts as exc:
            return _form_page(
                request, areq, key, nonce, error=exc.message, username=username, status=429,
                headers={"Retry-After": str(exc.hit.retry_after)},
            )  # fmt: skip
        assert account.user.id is not None
        code = await create_code(
            session,
            application_id=areq.application.id,
            user_id=account.user.id,
            redirect_uri=areq.redirect_uri,
            scopes=areq.scopes,
            code_challenge=areq.code_challenge,
            code_challenge_method=areq.code_challenge_method,
        )
        await session.commit()
    if areq.oob:
        body = f"""<h1>Authorization code</h1>
<p>Copy this code and paste it into <strong>{escape(areq.application.name)}</strong>:</p>
<p><input type="text" id="code" name="code" readonly value="{escape(code)}" size="48"
 onfocus="this.select()"></p>
<p class="muted">It works once, for 10 minutes.</p>"""
        response = _html("Authorization code", body)
    else:
        response = _redirect(areq, {"code": code})
    # This browser now knows the password: guessing from elsewhere will not lock it out.
    response.set_cookie(
        DEVICE_COOKIE,
        make_device_cookie(key, username, time.time()),
        max_age=DEVICE_LIFETIME,
        path="/oauth/authorize",
        secure=state.config.base_url.startswith("https://"),
        httponly=True,
        samesite="lax",
    )
    return response


# ---- token and revoke ------------------------------------------------------------------------


def _client_credentials(request: Request, params: dict[str, Any]) -> tuple[str | None, str | None]:
    """``client_secret_basic`` (HTTP Basic) or ``client_secret_post`` (form fields)."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None, None
        client_id, sep, secret = decoded.partition(":")
        if not sep:
            return None, None
        return unquote_plus(client_id), unquote_plus(secret)
    return text_param(params, "client_id"), text_param(params, "client_secret")


def _login_context(request: Request, *, device: str | None = None) -> LoginContext:
    """Where this sign-in attempt comes from: the client address is the one the server
    sees (``fedisora serve`` takes ``X-Forwarded-For`` only from a proxy on 127.0.0.1 or
    ::1, uvicorn's default for ``FORWARDED_ALLOW_IPS``)."""
    state = _state(request)
    return LoginContext(
        domain=state.config.instance.domain,
        limits=state.login_limits,
        address=request.client.host if request.client else None,
        device=device,
    )


def _too_many(exc: TooManyAttempts) -> Response:
    """Mastodon's throttled answer: ``429 {"error": "Too many requests"}``."""
    return Response(
        TOO_MANY,
        status_code=429,
        media_type="application/json",
        headers={**TOKEN_HEADERS, **too_many_headers(exc.hit)},
    )


def _oauth_error(exc: OAuthError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status, headers=TOKEN_HEADERS)


def _text_params(params: dict[str, Any]) -> dict[str, str]:
    return {k: v for k in params if (v := text_param(params, k)) is not None}


async def token(request: Request) -> Response:
    params = await request_params(request)
    client_id, client_secret = _client_credentials(request, params)
    async with _state(request).sessions() as session:
        try:
            issued = await grants.grant_token(
                session,
                _text_params(params),
                client_id=client_id,
                client_secret=client_secret,
                login=_login_context(request),
            )
        except TooManyAttempts as exc:
            await session.rollback()
            return _too_many(exc)
        except CodeReused as exc:
            await session.commit()  # keep the revocation of the token the code gave
            return _oauth_error(exc)
        except OAuthError as exc:
            await session.rollback()
            return _oauth_error(exc)
        await session.commit()
    return JSONResponse(token_entity(issued), headers=TOKEN_HEADERS)


async def revoke(request: Request) -> Response:
    params = await request_params(request)
    client_id, client_secret = _client_credentials(request, params)
    async with _state(request).sessions() as session:
        try:
            await grants.revoke(
                session,
                text_param(params, "token"),
                client_id=client_id,
                client_secret=client_secret,
            )
        except OAuthError as exc:
            await session.rollback()
            return _oauth_error(exc)
        await session.commit()
    return JSONResponse({}, headers=TOKEN_HEADERS)


async def server_metadata(request: Request) -> Response:
    base = _state(request).config.base_url
    return JSONResponse(
        {
            "issuer": f"{base}/",
            "service_documentation": "https://docs.joinmastodon.org/",
            "authorization_endpoint": f"{base}/oauth/authorize",
            "token_endpoint": f"{base}/oauth/token",
            "app_registration_endpoint": f"{base}/api/v1/apps",
            "revocation_endpoint": f"{base}/oauth/revoke",
            "scopes_supported": list(SCOPES_SUPPORTED),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": list(grants.GRANT_TYPES),
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
        },
        headers=CORS,
    )


routes: list[BaseRoute] = [
    Route("/oauth/authorize", authorize_form, methods=["GET"]),
    Route("/oauth/authorize", authorize_submit, methods=["POST"]),
    Route("/oauth/token", cors(token, "POST"), methods=["POST", "OPTIONS"]),
    Route("/oauth/revoke", cors(revoke, "POST"), methods=["POST", "OPTIONS"]),
    Route(
        "/.well-known/oauth-authorization-server",
        cors(server_metadata, "GET"),
        methods=["GET", "OPTIONS"],
    ),
]
