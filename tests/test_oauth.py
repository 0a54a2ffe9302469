"""OAuth 2 for the Mastodon client API, in process on SQLite and PostgreSQL: app registration,
the authorize form, the token grants, PKCE, revocation, scopes and request authentication."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fedisora.accounts.service import create_account, ensure_instance_actor
from fedisora.api.mastodon.auth import authenticate, optional_auth
from fedisora.app import create_app
from fedisora.db.engine import make_engine
from fedisora.db.models import utcnow
from fedisora.oauth.codes import s256
from fedisora.oauth.scopes import SCOPES_SUPPORTED, parse_scopes, satisfies
from fedisora.state import AppState
from instance_config import Config, parse_config, render_config
from tests.asgi import app_client

BASE = "https://video.example.org"
PASSWORD = "correct horse battery staple"
CALLBACK = "https://app.example/callback"
OOB = "urn:ietf:wg:oauth:2.0:oob"
VERIFIER = "v" * 20 + "-._~" + "0123456789abcdefghijklmnop"  # 50 characters


# ---- scopes (no database) --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("granted", "required", "ok"),
    [
        ({"read"}, "read", True),
        ({"read"}, "read:statuses", True),
        ({"read"}, "read:accounts", True),
        ({"read:statuses"}, "read", False),
        ({"read:statuses"}, "read:accounts", False),
        ({"read"}, "write:statuses", False),
        ({"write"}, "write:media", True),
        ({"write"}, "read:statuses", False),
        ({"write:statuses"}, "write:statuses", True),
        ({"follow"}, "read:follows", True),
        ({"follow"}, "read:blocks", True),
        ({"follow"}, "read:mutes", True),
        ({"follow"}, "write:follows", True),
        ({"follow"}, "write:blocks", True),
        ({"follow"}, "write:mutes", True),
        ({"follow"}, "read:statuses", False),
        ({"follow"}, "write:statuses", False),
        ({"profile"}, "profile", True),
        ({"profile"}, "read:accounts", False),
        ({"profile"}, "read", False),
        ({"read"}, "profile", True),
        ({"read:accounts"}, "profile", True),
        ({"read:statuses"}, "profile", False),
        ({"push"}, "push", True),
        ({"read", "write", "follow"}, "push", False),
        ({"admin:read"}, "admin:read:accounts", True),
        ({"admin:read"}, "admin:write:accounts", False),
        ({"admin:write"}, "admin:write:reports", True),
        ({"read"}, "admin:read:accounts", False),
        ({"write"}, "admin:write", False),
        (set(), "read", False),
    ],
)
def test_satisfies(granted: set[str], required: str, ok: bool) -> None:
    assert satisfies(granted, required) is ok
    assert satisfies(frozenset(granted), required) is ok


def test_scope_parsing() -> None:
    assert parse_scopes(None) == ("read",)
    assert parse_scopes("") == ("read",)
    assert parse_scopes("read+write  follow read") == ("read", "write", "follow")
    assert parse_scopes(["read", "write:media push"]) == ("read", "write:media", "push")
    assert {"read", "write", "follow", "push", "profile", "admin:read", "admin:write",
            "read:search", "write:conversations", "admin:read:canonical_email_blocks"} <= set(SCOPES_SUPPORTED)  # fmt: skip
    with pytest.raises(ValueError):
        parse_scopes("read crypto")


# ---- fixtures --------------------------------------------------------------------------------


def make_config(tmp_path: Path, database_url: str) -> Config:
    path = tmp_path / "instance.toml"
    path.write_text(render_config("video.example.org", database_url=database_url, name="Clip <Club>"))
    return parse_config(path.read_text(), path=path, env={})


async def whoami(request: Request) -> Response:
    """A tiny endpoint that needs a user token with ``read:accounts``."""
    auth = await authenticate(request, scope="read:accounts")
    assert auth.actor is not None and auth.user is not None
    return JSONResponse({"username": auth.actor.username, "scopes": sorted(auth.scopes)})


async def maybe(request: Request) -> Response:
    auth = await optional_auth(request, scope="read:statuses")
    return JSONResponse({"user": auth.actor.username if auth and auth.actor else None,
                         "app": auth is not None})  # fmt: skip


@dataclass
class Env:
    config: Config
    client: httpx.AsyncClient
    url: str

    async def sql(self, statement: str, **params: Any) -> list[Any]:
        engine = make_engine(self.url)
        try:
            async with engine.begin() as conn:
                result = await conn.execute(sa.text(statement), params)
                return list(result.all()) if result.returns_rows else []
        finally:
            await engine.dispose()


@pytest.fixture
async def env(tmp_path: Path, migrated_url: str) -> AsyncIterator[Env]:
    config = make_config(tmp_path, migrated_url)
    state = AppState.open(config)
    try:
        async with state.sessions() as session:
            await ensure_instance_actor(session, config)
            await create_account(session, config, "alice", email="Alice@Example.com", password=PASSWORD)
            await session.commit()
    finally:
        await state.close()
    app = create_app(config, run_workers=False)
    app.router.routes.append(Route("/api/test/whoami", whoami))
    app.router.routes.append(Route("/api/test/maybe", maybe))
    async with app_client(app, base_url=BASE) as client:
        yield Env(config, client, migrated_url)


async def register(
    client: httpx.AsyncClient,
    scopes: str = "read write follow",
    redirect_uris: str | list[str] = f"{CALLBACK}\n{OOB}",
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/apps",
        data={"client_name": "Test <App>", "redirect_uris": redirect_uris, "scopes": scopes,
              "website": "https://app.example"},  # fmt: skip
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


class FormParser(HTMLParser):
    """The inputs of the (first) form on a page."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.method: str | None = None
        self.inputs: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and self.action is None:
            self.action, self.method = a.get("action"), a.get("method")
        if tag == "input" and "name" in a:
            self.inputs[a["name"]] = a.get("value", "")


def parse_form(html: str) -> FormParser:
    parser = FormParser()
    parser.feed(html)
    return parser


def authorize_params(app: dict[str, Any], **extra: str) -> dict[str, str]:
    params = {"response_type": "code", "client_id": app["client_id"], "redirect_uri": CALLBACK,
              "scope": "read write", "state": "xyz 123"}  # fmt: skip
    params.update(extra)
    return params


async def authorize(
    client: httpx.AsyncClient, app: dict[str, Any], username: str = "alice",
    password: str = PASSWORD, **extra: str,
) -> httpx.Response:  # fmt: skip
    """Fill in and send the authorize form like a browser."""
    form_page = await client.get("/oauth/authorize", params=authorize_params(app, **extra))
    assert form_page.status_code == 200, form_page.text
    form = parse_form(form_page.text)
    assert form.action == "/oauth/authorize" and form.method == "post"
    fields = {**form.inputs, "username": username, "password": password, "decision": "approve"}
    return await client.post("/oauth/authorize", data=fields)


def code_of(response: httpx.Response) -> str:
    assert response.status_code == 302, response.text
    query = parse_qs(urlsplit(response.headers["location"]).query)
    return query["code"][0]


async def exchange(client: httpx.AsyncClient, app: dict[str, Any], code: str, **extra: str) -> httpx.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
            "client_id": app["client_id"], "client_secret": app["client_secret"], **extra}  # fmt: skip
    return await client.post("/oauth/token", data=data)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_invalid_grant(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_grant"
    assert response.json()["error_description"]


# ---- app registration ------------------------------------------------------------------------


async def test_register_app_form_and_json(env: Env) -> None:
    app = await register(env.client)
    assert isinstance(app["id"], str) and app["id"].isdigit()
    assert app["name"] == "Test <App>"
    assert app["website"] == "https://app.example"
    assert app["scopes"] == ["read", "write", "follow"]
    assert app["redirect_uris"] == [CALLBACK, OOB]
    assert app["redirect_uri"] == f"{CALLBACK}\n{OOB}"
    assert app["client_id"] and app["client_secret"] and app["client_id"] != app["client_secret"]
    assert app["client_secret_expires_at"] == 0
    assert "vapid_key" in app

    response = await env.client.post(
        "/api/v1/apps", json={"client_name": "J", "redirect_uris": [OOB, CALLBACK]}
    )
    assert response.status_code == 200
    assert response.json()["scopes"] == ["read"]  # the default
    assert response.json()["redirect_uris"] == [OOB, CALLBACK]
    assert response.json()["website"] is None
    assert response.headers["access-control-allow-origin"] == "*"

    multipart = await env.client.post(
        "/api/v1/apps", files={"client_name": (None, "M"), "redirect_uris": (None, OOB)}
    )
    assert multipart.status_code == 200, multipart.text
    assert multipart.json()["name"] == "M"


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"redirect_uris": OOB}, "Application name can't be blank"),
        ({"client_name": "x"}, "Redirect URI can't be blank"),
        ({"client_name": "x", "redirect_uris": OOB, "scopes": "read crypto"}, "Scopes"),
        ({"client_name": "x", "redirect_uris": "/relative"}, "absolute URI"),
        ({"client_name": "x", "redirect_uris": "javascript:alert(1)"}, "forbidden"),
        ({"client_name": "x", "redirect_uris": "https://a.example/#frag"}, "fragment"),
        ({"client_name": "x" * 61, "redirect_uris": OOB}, "too long"),
    ],
)
async def test_register_app_rejects_bad_input(env: Env, data: dict[str, str], fragment: str) -> None:
    response = await env.client.post("/api/v1/apps", data=data)
    assert response.status_code == 422, response.text
    assert fragment in response.json()["error"]
    assert response.json()["error"].startswith("Validation failed: ")


# ---- the authorize form ----------------------------------------------------------------------


async def test_authorize_form_renders(env: Env) -> None:
    app = await register(env.client)
    response = await env.client.get("/oauth/authorize", params=authorize_params(app))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-frame-options"] == "DENY"
    assert "Test &lt;App&gt;" in response.text and "<App>" not in response.text
    assert "Clip &lt;Club&gt;" in response.text
    assert "<code>read</code>" in response.text and "<code>write</code>" in response.text
    assert "<code>follow</code>" not in response.text  # registered, but not asked for
    form = parse_form(response.text)
    assert form.inputs["client_id"] == app["client_id"]
    assert form.inputs["redirect_uri"] == CALLBACK
    assert form.inputs["scope"] == "read write"
    assert form.inputs["state"] == "xyz 123"
    assert form.inputs["form_token"]
    assert {"username", "password"} <= set(form.inputs)
    cookie = response.headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    assert "secure" in cookie.lower()


async def test_authorize_scope_defaults(env: Env) -> None:
    reader = await register(env.client, scopes="read write")
    params = {"response_type": "code", "client_id": reader["client_id"], "redirect_uri": OOB}
    page = await env.client.get("/oauth/authorize", params=params)
    assert parse_form(page.text).inputs["scope"] == "read"  # Mastodon's default
    assert "shown on the next page" in page.text
    writer = await register(env.client, scopes="write:statuses", redirect_uris=OOB)
    page = await env.client.get("/oauth/authorize", params={"client_id": writer["client_id"]})
    form = parse_form(page.text)  # the one redirect URI, and all the app's scopes
    assert form.inputs["scope"] == "write:statuses" and form.inputs["redirect_uri"] == OOB
    narrower = await env.client.get("/oauth/authorize", params={**params, "scope": "read:accounts"})
    assert parse_form(narrower.text).inputs["scope"] == "read:accounts"


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"client_id": "nope"}, "unknown client"),
        ({"redirect_uri": "https://evil.example/cb"}, "redirect uri"),
        ({"scope": "read push"}, "scope"),
        ({"scope": "read bogus"}, "scope"),
        ({"code_challenge": "x" * 43, "code_challenge_method": "plain"}, "S256"),
        ({"code_challenge": "short", "code_challenge_method": "S256"}, "malformed"),
        ({"response_type": "token"}, "response type"),
    ],
)
async def test_authorize_errors_are_pages_not_redirects(
    env: Env, change: dict[str, str], fragment: str
) -> None:
    app = await register(env.client)
    response = await env.client.get("/oauth/authorize", params=authorize_params(app, **change))
    assert response.status_code == 400
    assert "location" not in response.headers
    assert response.headers["content-type"].startswith("text/html")
    assert fragment.lower() in response.text.lower()


async def test_wrong_password_shows_the_form_again(env: Env) -> None:
    app = await register(env.client)
    response = await authorize(env.client, app, password="wrong password!")
    assert response.status_code == 401
    assert "location" not in response.headers
    assert "Invalid username, e-mail address or password." in response.text
    form = parse_form(response.text)
    assert form.inputs["username"] == "alice" and form.inputs["password"] == ""
    assert await env.sql("SELECT id FROM oauth_authorization_codes") == []
    # the form it shows again works
    retry = {**form.inputs, "password": PASSWORD, "decision": "approve"}
    assert code_of(await env.client.post("/oauth/authorize", data=retry))

    unknown = await authorize(env.client, app, username="nobody")
    assert unknown.status_code == 401


async def test_authorization_code_flow(env: Env) -> None:
    app = await register(env.client)
    response = await authorize(env.client, app)
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK
    query = parse_qs(location.query)
    assert query["state"] == ["xyz 123"]
    code = code_of(response)

    token = await exchange(env.client, app, code)
    assert token.status_code == 200, token.text
    body = token.json()
    assert body["token_type"] == "Bearer" and body["scope"] == "read write"
    assert isinstance(body["created_at"], int) and body["access_token"]
    assert token.headers["cache-control"] == "no-store"

    me = await env.client.get("/api/test/whoami", headers=bearer(body["access_token"]))
    assert me.status_code == 200 and me.json()["username"] == "alice"
    verified = await env.client.get("/api/v1/apps/verify_credentials", headers=bearer(body["access_token"]))
    assert verified.status_code == 200
    assert verified.json()["name"] == "Test <App>" and verified.json()["id"] == app["id"]
    assert "client_secret" not in verified.json()

    assert_invalid_grant(await exchange(env.client, app, code))  # single use


async def test_redirect_keeps_the_registered_query(env: Env) -> None:
    app = await register(env.client, redirect_uris="https://app.example/cb?from=fedisora")
    response = await authorize(env.client, app, redirect_uri="https://app.example/cb?from=fedisora")
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["from"] == ["fedisora"] and query["code"] and query["state"] == ["xyz 123"]


async def test_deny_redirects_with_access_denied(env: Env) -> None:
    app = await register(env.client)
    form = parse_form((await env.client.get("/oauth/authorize", params=authorize_params(app))).text)
    response = await env.client.post("/oauth/authorize", data={**form.inputs, "decision": "deny"})
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["error"] == ["access_denied"] and "code" not in query


async def test_oob_shows_the_code(env: Env) -> None:
    app = await register(env.client)
    response = await authorize(env.client, app, redirect_uri=OOB)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    code = parse_form(response.text).inputs["code"]
    token = await exchange(env.client, app, code, redirect_uri=OOB)
    assert token.status_code == 200, token.text


async def test_form_token_is_bound_to_cookie_and_parameters(env: Env) -> None:
    app = await register(env.client)
    form = parse_form((await env.client.get("/oauth/authorize", params=authorize_params(app))).text)
    fields = {**form.inputs, "username": "alice", "password": PASSWORD, "decision": "approve"}

    widened = await env.client.post("/oauth/authorize", data={**fields, "scope": "read write follow"})
    assert widened.status_code == 400 and "location" not in widened.headers

    forged = await env.client.post("/oauth/authorize", data={**fields, "form_token": "1.abc"})
    assert forged.status_code == 400

    async with httpx.AsyncClient(transport=env.client._transport, base_url=BASE) as other:
        no_cookie = await other.post("/oauth/authorize", data=fields)
    assert no_cookie.status_code == 400 and "location" not in no_cookie.headers
    assert await env.sql("SELECT id FROM oauth_authorization_codes") == []

    assert code_of(await env.client.post("/oauth/authorize", data=fields))


# ---- token endpoint --------------------------------------------------------------------------


async def test_pkce(env: Env) -> None:
    app = await register(env.client)
    challenge = {"code_challenge": s256(VERIFIER), "code_challenge_method": "S256"}
    code = code_of(await authorize(env.client, app, **challenge))
    assert_invalid_grant(await exchange(env.client, app, code))  # no verifier
    assert_invalid_grant(await exchange(env.client, app, code, code_verifier="w" * 50))
    ok = await exchange(env.client, app, code, code_verifier=VERIFIER)
    assert ok.status_code == 200, ok.text
    assert_invalid_grant(await exchange(env.client, app, code, code_verifier=VERIFIER))


async def test_expired_code_and_redirect_mismatch(env: Env) -> None:
    app = await register(env.client)
    code = code_of(await authorize(env.client, app))
    assert_invalid_grant(await exchange(env.client, app, code, redirect_uri=OOB))
    await env.sql("UPDATE oauth_authorization_codes SET expires_at = :t", t=utcnow() - timedelta(seconds=1))
    assert_invalid_grant(await exchange(env.client, app, code))


async def test_code_belongs_to_its_app(env: Env) -> None:
    app, other = await register(env.client), await register(env.client)
    code = code_of(await authorize(env.client, app))
    assert_invalid_grant(await exchange(env.client, other, code))
    assert (await exchange(env.client, app, code)).status_code == 200


async def test_client_authentication(env: Env) -> None:
    app = await register(env.client)
    code = code_of(await authorize(env.client, app))
    bad = await exchange(env.client, app, code, client_secret="not the secret")
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
    # HTTP Basic (client_secret_basic) works too
    basic = base64.b64encode(f"{app['client_id']}:{app['client_secret']}".encode()).decode()
    ok = await env.client.post(
        "/oauth/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert ok.status_code == 200, ok.text
    unsupported = await env.client.post("/oauth/token", data={"grant_type": "implicit"})
    assert unsupported.status_code == 400 and unsupported.json()["error"] == "unsupported_grant_type"
    missing = await env.client.post("/oauth/token", data={})
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"


async def test_password_grant(env: Env) -> None:
    app = await register(env.client)
    for username in ("alice", "ALICE", "alice@example.com"):
        response = await env.client.post("/oauth/token", data={
            "grant_type": "password", "username": username, "password": PASSWORD,
            "client_id": app["client_id"], "client_secret": app["client_secret"],
            "scope": "read write",
        })  # fmt: skip
        assert response.status_code == 200, (username, response.text)
        assert response.json()["scope"] == "read write"
        me = await env.client.get("/api/test/whoami", headers=bearer(response.json()["access_token"]))
        assert me.json()["username"] == "alice"
    wrong = await env.client.post("/oauth/token", data={
        "grant_type": "password", "username": "alice", "password": "nope nope nope",
        "client_id": app["client_id"], "client_secret": app["client_secret"],
    })  # fmt: skip
    assert_invalid_grant(wrong)
    too_wide = await env.client.post("/oauth/token", data={
        "grant_type": "password", "username": "alice", "password": PASSWORD, "scope": "push",
        "client_id": app["client_id"], "client_secret": app["client_secret"],
    })  # fmt: skip
    assert too_wide.status_code == 400 and too_wide.json()["error"] == "invalid_scope"
    [(last_login,)] = await env.sql(
        "SELECT last_login_at FROM users WHERE email = 'Alice@Example.com'"
    )
    assert last_login is not None


async def test_client_credentials_token_has_no_user(env: Env) -> None:
    app = await register(env.client)
    response = await env.client.post("/oauth/token", data={
        "grant_type": "client_credentials", "scope": "read",
        "client_id": app["client_id"], "client_secret": app["client_secret"],
    })  # fmt: skip
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    [(user_id,)] = await env.sql("SELECT user_id FROM oauth_tokens")
    assert user_id is None

    verified = await env.client.get("/api/v1/apps/verify_credentials", headers=bearer(token))
    assert verified.status_code == 200 and verified.json()["name"] == "Test <App>"
    me = await env.client.get("/api/test/whoami", headers=bearer(token))
    assert me.status_code == 422
    assert me.json() == {"error": "This method requires an authenticated user"}
    maybe = await env.client.get("/api/test/maybe", headers=bearer(token))
    assert maybe.json() == {"user": None, "app": True}

    write = await env.client.post("/oauth/token", data={
        "grant_type": "client_credentials", "scope": "push",
        "client_id": app["client_id"], "client_secret": app["client_secret"],
    })  # fmt: skip
    assert write.status_code == 400 and write.json()["error"] == "invalid_scope"


# ---- authenticating requests -----------------------------------------------------------------


async def password_token(env: Env, app: dict[str, Any], scope: str = "read", username: str = "alice") -> str:
    response = await env.client.post("/oauth/token", data={
        "grant_type": "password", "username": username, "password": PASSWORD, "scope": scope,
        "client_id": app["client_id"], "client_secret": app["client_secret"],
    })  # fmt: skip
    assert response.status_code == 200, response.text
    return response.json()["access_token"]  # type: ignore[no-any-return]


async def test_authenticate_errors_and_token_sources(env: Env) -> None:
    app = await register(env.client)
    missing = await env.client.get("/api/test/whoami")
    assert missing.status_code == 401 and missing.json() == {"error": "The access token is invalid"}
    bogus = await env.client.get("/api/test/whoami", headers=bearer("bogus"))
    assert bogus.status_code == 401
    assert (await env.client.get("/api/test/maybe")).json() == {"user": None, "app": False}
    assert (await env.client.get("/api/test/maybe", headers=bearer("bogus"))).status_code == 401

    narrow = await password_token(env, app, scope="write:statuses")
    out = await env.client.get("/api/test/whoami", headers=bearer(narrow))
    assert out.status_code == 403
    assert out.json() == {"error": "This action is outside the authorized scopes"}
    assert (await env.client.get("/api/test/maybe", headers=bearer(narrow))).status_code == 403

    token = await password_token(env, app, scope="read:accounts read:statuses")
    by_query = await env.client.get("/api/test/whoami", params={"access_token": token})
    assert by_query.status_code == 200 and by_query.json()["username"] == "alice"
    assert (await env.client.get("/api/test/maybe", headers=bearer(token))).json()["user"] == "alice"


async def test_last_used_at_is_written_at_most_once_a_minute(env: Env) -> None:
    app = await register(env.client)
    token = await password_token(env, app)
    [(before,)] = await env.sql("SELECT last_used_at FROM oauth_tokens")
    assert before is None
    await env.client.get("/api/test/whoami", headers=bearer(token))
    [(first,)] = await env.sql("SELECT last_used_at FROM oauth_tokens")
    assert first is not None
    await env.client.get("/api/test/whoami", headers=bearer(token))
    [(second,)] = await env.sql("SELECT last_used_at FROM oauth_tokens")
    assert second == first
    await env.sql("UPDATE oauth_tokens SET last_used_at = :t", t=utcnow() - timedelta(minutes=2))
    await env.client.get("/api/test/whoami", headers=bearer(token))
    [(third,)] = await env.sql("SELECT last_used_at FROM oauth_tokens")
    assert str(third) != str(first)


async def test_suspended_account_token_is_invalid(env: Env) -> None:
    app = await register(env.client)
    token = await password_token(env, app)
    assert (await env.client.get("/api/test/whoami", headers=bearer(token))).status_code == 200
    await env.sql("UPDATE actors SET suspended_at = :t WHERE username = 'alice'", t=utcnow())
    assert (await env.client.get("/api/test/whoami", headers=bearer(token))).status_code == 401
    refused = await authorize(env.client, app)
    assert refused.status_code == 401 and "suspended" in refused.text


async def test_revoke(env: Env) -> None:
    app, other = await register(env.client), await register(env.client)
    token = await password_token(env, app)
    assert (await env.client.get("/api/test/whoami", headers=bearer(token))).status_code == 200

    foreign = await env.client.post("/oauth/revoke", data={
        "token": token, "client_id": other["client_id"], "client_secret": other["client_secret"],
    })  # fmt: skip
    assert foreign.status_code == 403 and foreign.json()["error"] == "unauthorized_client"
    bad_client = await env.client.post("/oauth/revoke", data={
        "token": token, "client_id": app["client_id"], "client_secret": "wrong",
    })  # fmt: skip
    assert bad_client.status_code == 401
    assert (await env.client.get("/api/test/whoami", headers=bearer(token))).status_code == 200

    for _ in range(2):  # idempotent
        done = await env.client.post("/oauth/revoke", data={
            "token": token, "client_id": app["client_id"], "client_secret": app["client_secret"],
        })  # fmt: skip
        assert done.status_code == 200 and done.json() == {}
    assert (await env.client.get("/api/test/whoami", headers=bearer(token))).status_code == 401
    verified = await env.client.get("/api/v1/apps/verify_credentials", headers=bearer(token))
    assert verified.status_code == 401


async def test_secrets_are_stored_only_as_digests(env: Env) -> None:
    app = await register(env.client)
    code = code_of(await authorize(env.client, app))
    access = (await exchange(env.client, app, code)).json()["access_token"]
    secrets = {app["client_secret"], code, access}
    rows = []
    for table in ("oauth_applications", "oauth_authorization_codes", "oauth_tokens"):
        rows += await env.sql(f"SELECT * FROM {table}")
    dumped = " ".join(str(value) for row in rows for value in row)
    for secret in secrets:
        assert secret not in dumped
    [(stored,)] = await env.sql("SELECT token_hash FROM oauth_tokens")
    assert len(stored) == 64 and stored != access


async def test_authorization_server_metadata(env: Env) -> None:
    response = await env.client.get("/.well-known/oauth-authorization-server")
    assert response.status_code == 200
    meta = response.json()
    assert meta["issuer"] == f"{BASE}/"
    assert meta["authorization_endpoint"] == f"{BASE}/oauth/authorize"
    assert meta["token_endpoint"] == f"{BASE}/oauth/token"
    assert meta["revocation_endpoint"] == f"{BASE}/oauth/revoke"
    assert meta["app_registration_endpoint"] == f"{BASE}/api/v1/apps"
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["response_types_supported"] == ["code"]
    assert set(meta["grant_types_supported"]) == {"authorization_code", "password", "client_credentials"}
    assert set(meta["token_endpoint_auth_methods_supported"]) == {"client_secret_basic", "client_secret_post"}
    assert {"read", "write", "follow", "push", "profile", "read:statuses"} <= set(meta["scopes_supported"])
    preflight = await env.client.options(
        "/oauth/token", headers={"Origin": "https://web.example", "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code in (200, 204) and preflight.headers["access-control-allow-origin"] == "*"


async def test_reusing_a_code_revokes_the_token_it_gave(env: Env) -> None:
    """RFC 6749 §4.1.2: a code redeemed twice is refused, and the token from its first
    redemption is revoked (the code may have leaked); another app's try changes nothing."""
    app, other = await register(env.client), await register(env.client)
    code = code_of(await authorize(env.client, app))
    first = await exchange(env.client, app, code)
    assert first.status_code == 200, first.text
    token = first.json()["access_token"]
    assert (await env.client.get("/api/v1/accounts/verify_credentials", headers=bearer(token))).status_code == 200

    assert_invalid_grant(await exchange(env.client, other, code))  # not its app: refused, nothing revoked
    assert (await env.client.get("/api/v1/accounts/verify_credentials", headers=bearer(token))).status_code == 200

    assert_invalid_grant(await exchange(env.client, app, code))
    revoked = await env.client.get("/api/v1/accounts/verify_credentials", headers=bearer(token))
    assert revoked.status_code == 401, revoked.text
    assert revoked.json()["error"]
    # a wrong verifier or redirect URI on the replay makes no difference: it is still a replay
    code2 = code_of(await authorize(env.client, app))
    token2 = (await exchange(env.client, app, code2)).json()["access_token"]
    assert_invalid_grant(await exchange(env.client, app, code2, redirect_uri=OOB))
    assert (await env.client.get("/api/v1/accounts/verify_credentials", headers=bearer(token2))).status_code == 401
    # other tokens of the same person and app are untouched
    code3 = code_of(await authorize(env.client, app))
    token3 = (await exchange(env.client, app, code3)).json()["access_token"]
    assert (await env.client.get("/api/v1/accounts/verify_credentials", headers=bearer(token3))).status_code == 200


async def test_two_redemptions_at_once_leave_no_live_token(env: Env) -> None:
    """Whoever redeems first, the other redemption is a replay: one 200, one invalid_grant,
    and the token the 200 carried is revoked (on PostgreSQL the loser's UPDATE waits for
    the winner's commit; either way the order does not matter)."""
    app = await register(env.client)
    for _ in range(3):
        code = code_of(await authorize(env.client, app))
        answers = await asyncio.gather(exchange(env.client, app, code), exchange(env.client, app, code))
        assert sorted(a.status_code for a in answers) == [200, 400], [a.text for a in answers]
        [won] = [a for a in answers if a.status_code == 200]
        [lost] = [a for a in answers if a.status_code == 400]
        assert_invalid_grant(lost)
        me = await env.client.get("/api/v1/accounts/verify_credentials", headers=bearer(won.json()["access_token"]))
        assert me.status_code == 401
