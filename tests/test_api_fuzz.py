"""No route answers 500 to bad input: every route of the app, fed arbitrary ids,
query parameters and bodies by hypothesis, with and without a valid token, on
SQLite and PostgreSQL.  The input includes what broke it before: NUL characters,
lone surrogates (sent as a client would: UTF-8 with surrogatepass in URLs and
forms, ``\ud800`` escapes in JSON), NaN and JSON nested 100,000 levels deep."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from urllib.parse import quote, urlencode
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.routing import Route

from fedisora.accounts.service import create_account
from fedisora.app import create_app
from fedisora.oauth import apps, tokens
from instance_config import parse_config, render_config
from tests.asgi import app_client

SKIP = {"/api/v1/streaming"}  # long-lived streams are tested in tests/test_api_streaming.py

# Text with NUL, lone surrogates and other unusual code points mixed in.
nasty_text = st.text(
    alphabet=st.one_of(st.characters(exclude_categories=()), st.sampled_from(["\x00", "\ud800", "\udfff", "["])),
    max_size=30,
)
scalars = st.one_of(
    st.text(max_size=30),
    nasty_text,
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(["", "0", "-1", "9" * 25, "true", "null", "../../etc/passwd", "%00", "\x00", "al\x00ice",
                     "\ud800", "a\udfffb", "🎬", "a" * 600, "[" * 5000, "NaN"]),
)
DEEP_JSON = b"[" * 100_000 + b"]" * 100_000
bodies = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20), nasty_text,
              st.sampled_from([float("nan"), float("inf")])),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=8,
)
field_names = st.sampled_from(
    ["status", "visibility", "limit", "max_id", "min_id", "since_id", "id[]", "q", "resolve", "type",
     "types[]", "in_reply_to_id", "media_ids[]", "spoiler_text", "display_name", "note", "locked",
     "acct", "timeline[]", "local", "only_media", "grant_type", "client_id", "scope", "redirect_uris",
     "client_name", "code", "resource", "page", "account_id"]
)


def all_routes(app: object) -> list[tuple[str, str]]:
    found = []
    for route in app.routes:  # type: ignore[attr-defined]
        if isinstance(route, Route) and not any(route.path.startswith(s) for s in SKIP):
            for method in sorted((route.methods or {"GET"}) - {"HEAD"}):
                found.append((method, route.path))
    return found


@pytest.fixture
async def setup(tmp_path: Path, migrated_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, list[tuple[str, str]], str]]:
    path = tmp_path / "instance.toml"
    path.write_text(render_config("fuzz.example", database_url=migrated_url))
    config = parse_config(path.read_text(), path=path, env={})
    app = create_app(config, run_workers=False)
    async with app_client(app, base_url="https://fuzz.example") as client:
        state = app.state.fedisora
        async with state.sessions() as session:
            account = await create_account(session, config, "alice", password="a long password")
            registered = await apps.register_app(
                session, name="fuzz", redirect_uris="urn:ietf:wg:oauth:2.0:oob", scopes="read write follow"
            )
            issued = await tokens.issue_token(
                session, application_id=registered.app.id, user_id=account.user.id, scopes=["read", "write", "follow"]
            )
            await session.commit()
        yield client, all_routes(app), issued.access_token


def encoded(text: str) -> str:
    """``text`` percent-encoded as UTF-8 (lone surrogates as their surrogatepass bytes)."""
    return quote(text, safe="", errors="surrogatepass")


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
async def test_no_route_answers_500(setup: tuple[httpx.AsyncClient, list[tuple[str, str]], str], data: st.DataObject) -> None:
    client, routes, token = setup
    method, template = data.draw(st.sampled_from(routes))
    path = re.sub(r"\{[^}]+\}", lambda _: encoded(data.draw(scalars)) or "x", template)
    params = data.draw(st.dictionaries(field_names, scalars, max_size=4))
    headers = {"Authorization": f"Bearer {token}"} if data.draw(st.booleans()) else {}
    kind = data.draw(st.sampled_from(["none", "json", "form", "junk", "deep"]))
    query = urlencode(params, errors="surrogatepass") if kind != "form" else ""
    kwargs: dict[str, object] = {}
    if method in ("POST", "PUT", "PATCH"):
        if kind == "json":
            kwargs["content"] = json.dumps(data.draw(bodies)).encode()  # NaN as NaN, surrogates as \ud800
            headers["Content-Type"] = "application/json"
        elif kind == "form":
            kwargs["content"] = urlencode(params, errors="surrogatepass").encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif kind == "junk":
            kwargs["content"] = data.draw(st.binary(max_size=200))
            headers["Content-Type"] = data.draw(st.sampled_from(["application/json", "application/activity+json", "text/plain", "multipart/form-data; boundary=x"]))
        elif kind == "deep":
            kwargs["content"] = DEEP_JSON
            headers["Content-Type"] = data.draw(st.sampled_from(["application/json", "application/activity+json"]))
    url = path + (f"?{query}" if query else "")
    response = await client.request(method, url, headers=headers, **kwargs)
    assert response.status_code < 500, f"{method} {url[:300]} → {response.status_code}: {response.text[:300]}"
