"""The app on a fresh instance, in process: pages, health, NodeInfo, host-meta, errors."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from starlette.routing import Route
import httpx

from fedisora import __version__
from fedisora.accounts.service import create_account, ensure_instance_actor
from fedisora.app import create_app
from fedisora.db.migrate import DatabaseNotCurrent
from fedisora.state import AppState
from instance_config import Config, parse_config, render_config
from tests.asgi import app_client


def make_config(tmp_path: Path, database_url: str, **kwargs: object) -> Config:
    path = tmp_path / "instance.toml"
    path.write_text(render_config("video.example.org", database_url=database_url, **kwargs))  # type: ignore[arg-type]
    return parse_config(path.read_text(), path=path, env={})


async def add_accounts(config: Config, *usernames: str) -> None:
    state = AppState.open(config)
    try:
        async with state.sessions() as session:
            await ensure_instance_actor(session, config)
            for name in usernames:
                await create_account(session, config, name)
            await session.commit()
    finally:
        await state.close()


@pytest.fixture
async def config(tmp_path: Path, migrated_url: str) -> Config:
    config = make_config(tmp_path, migrated_url, name="Clip <Club>")
    await add_accounts(config, "alice", "bob")
    return config


@pytest.fixture
async def client(config: Config) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(create_app(config, run_workers=False)) as c:
        yield c


async def test_landing_page_names_the_instance(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<h1>Clip &lt;Club&gt;</h1>" in response.text  # escaped, never raw HTML
    assert "<dt>People</dt><dd>2</dd>" in response.text


async def test_healthz_checks_the_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": __version__, "database": "ok"}


async def test_healthz_reports_an_unreachable_database(tmp_path: Path) -> None:
    config = make_config(tmp_path, "postgresql+asyncpg://nobody@127.0.0.1:1/none")
    async with app_client(create_app(config, run_workers=False, check_database=False)) as client:
        response = await client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "version": __version__, "database": "unavailable"}


async def test_nodeinfo_discovery_and_documents(client: httpx.AsyncClient) -> None:
    index = await client.get("/.well-known/nodeinfo")
    assert index.status_code == 200
    assert index.headers["access-control-allow-origin"] == "*"
    links = {link["rel"]: link["href"] for link in index.json()["links"]}
    assert links == {
        "http://nodeinfo.diaspora.software/ns/schema/2.0": "https://video.example.org/nodeinfo/2.0",
        "http://nodeinfo.diaspora.software/ns/schema/2.1": "https://video.example.org/nodeinfo/2.1",
    }
    for version in ("2.0", "2.1"):
        response = await client.get(f"/nodeinfo/{version}")
        assert response.status_code == 200
        assert f"schema/{version}#" in response.headers["content-type"]
        doc = response.json()
        assert doc["version"] == version
        assert doc["software"] == {"name": "fedisora", "version": __version__}
        assert doc["protocols"] == ["activitypub"]
        assert doc["openRegistrations"] is False
        assert doc["usage"]["users"]["total"] == 2  # the instance actor is not a user
        assert doc["usage"]["localPosts"] == 0
        assert doc["metadata"]["nodeName"] == "Clip <Club>"
    assert (await client.get("/nodeinfo/1.0")).json() == {
        "error": "NodeInfo version 1.0 is not served; use 2.0 or 2.1"
    }


async def test_host_meta_xrd_and_json(client: httpx.AsyncClient) -> None:
    xrd = await client.get("/.well-known/host-meta")
    assert xrd.status_code == 200
    assert xrd.headers["content-type"].startswith("application/xrd+xml")
    link = ET.fromstring(xrd.content).find("{http://docs.oasis-open.org/ns/xri/xrd-1.0}Link")
    assert link is not None
    assert link.get("rel") == "lrdd"
    template = "https://video.example.org/.well-known/webfinger?resource={uri}"
    assert link.get("template") == template
    as_json = await client.get("/.well-known/host-meta", headers={"Accept": "application/json"})
    assert as_json.json() == {"links": [{"rel": "lrdd", "template": template}]}
    assert (await client.get("/.well-known/host-meta.json")).json()["links"][0]["template"] == template


async def test_unknown_routes_json_for_api_html_elsewhere(client: httpx.AsyncClient) -> None:
    api = await client.get("/api/v1/nothing-here")
    assert api.status_code == 404
    assert api.json() == {"error": "Record not found"}
    page = await client.get("/no/such/page")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "<h1>404</h1>" in page.text
    wrong_method = await client.post("/healthz")
    assert wrong_method.status_code == 405
    assert wrong_method.json() == {"error": "Method Not Allowed"}


async def test_unexpected_errors_never_show_a_traceback(config: Config) -> None:
    async def broken(request: object) -> None:
        raise RuntimeError("secret internals /etc/passwd")

    app = create_app(config, run_workers=False)
    app.router.routes.append(Route("/api/v1/broken", broken))
    app.router.routes.append(Route("/broken", broken))
    async with app_client(app) as client:
        api = await client.get("/api/v1/broken")
        page = await client.get("/broken")
    assert api.status_code == 500
    assert api.json() == {"error": "Internal server error"}
    assert page.status_code == 500
    assert "secret internals" not in page.text and "Traceback" not in page.text


async def test_app_refuses_a_database_that_is_behind(tmp_path: Path, database_url: str) -> None:
    config = make_config(tmp_path, database_url)  # empty: never migrated
    with pytest.raises(DatabaseNotCurrent):
        async with app_client(create_app(config)):
            pass


async def test_cors_for_browser_apps(client: httpx.AsyncClient) -> None:
    preflight = await client.options(
        "/api/v1/timelines/home",
        headers={"Origin": "https://elk.zone", "Access-Control-Request-Method": "GET",
                 "Access-Control-Request-Headers": "authorization"},
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    error = await client.get("/api/v1/timelines/home", headers={"Origin": "https://elk.zone"})
    assert error.status_code == 401
    assert error.headers["access-control-allow-origin"] == "*"
