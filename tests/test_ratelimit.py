"""The client API's rate limiting middleware (``fedisora.api.ratelimit``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from fedisora.api.ratelimit import DEFAULT_LIMIT, RateLimitMiddleware
from tests.federation import Fediverse


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def ok(request: Request) -> Response:
    if request.headers.get("authorization") == "Bearer bad":
        return JSONResponse({"error": "The access token is invalid"}, status_code=401)
    return JSONResponse({"ok": True})


async def page(request: Request) -> Response:
    return PlainTextResponse("a page")


def make_app(clock: Clock, limit: int = 3) -> Starlette:
    return Starlette(
        routes=[
            Route("/api/v1/thing", ok),
            Route("/api/v1/streaming/health", ok),
            Route("/about", page),
        ],
        middleware=[Middleware(RateLimitMiddleware, limit=limit, period=300, clock=clock)],
    )


@pytest.fixture
async def setup() -> AsyncIterator[tuple[httpx.AsyncClient, Clock]]:
    clock = Clock(1_699_999_900.0)  # 100 s into a 5-minute window (1_699_999_800 is a multiple of 300)
    transport = httpx.ASGITransport(app=make_app(clock))
    async with httpx.AsyncClient(transport=transport, base_url="https://video.example.org") as client:
        yield client, clock


async def test_headers_and_the_limit(setup: tuple[httpx.AsyncClient, Clock]) -> None:
    client, clock = setup
    reset = datetime.fromtimestamp(1_699_999_800 + 300, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    for remaining in (2, 1, 0):
        response = await client.get("/api/v1/thing")
        assert response.status_code == 200
        assert response.headers["x-ratelimit-limit"] == "3"
        assert response.headers["x-ratelimit-remaining"] == str(remaining)
        assert response.headers["x-ratelimit-reset"] == reset
    refused = await client.get("/api/v1/thing")
    assert refused.status_code == 429
    assert refused.json() == {"error": "Too many requests"}
    assert refused.headers["x-ratelimit-remaining"] == "0"
    assert refused.headers["x-ratelimit-reset"] == reset
    assert refused.headers["retry-after"] == "200"
    # pages and the streaming API are not limited, and carry no headers
    assert (await client.get("/about")).status_code == 200
    assert "x-ratelimit-limit" not in (await client.get("/about")).headers
    assert "x-ratelimit-limit" not in (await client.get("/api/v1/streaming/health")).headers
    # preflights are free
    assert (await client.options("/api/v1/thing")).status_code != 429
    # the next window starts afresh
    clock.now += 200
    again = await client.get("/api/v1/thing")
    assert again.status_code == 200 and again.headers["x-ratelimit-remaining"] == "2"


async def test_tokens_and_addresses_are_counted_apart(setup: tuple[httpx.AsyncClient, Clock]) -> None:
    client, _ = setup
    for _ in range(3):
        assert (await client.get("/api/v1/thing", headers={"Authorization": "Bearer one"})).status_code == 200
    assert (await client.get("/api/v1/thing", headers={"Authorization": "Bearer one"})).status_code == 429
    assert (await client.get("/api/v1/thing", params={"access_token": "one"})).status_code == 429  # the same token
    two = await client.get("/api/v1/thing", headers={"Authorization": "Bearer two"})
    assert two.status_code == 200 and two.headers["x-ratelimit-remaining"] == "2"
    anonymous = await client.get("/api/v1/thing")
    assert anonymous.status_code == 200 and anonymous.headers["x-ratelimit-remaining"] == "2"


async def test_made_up_tokens_do_not_buy_fresh_budgets(setup: tuple[httpx.AsyncClient, Clock]) -> None:
    client, _ = setup
    for _ in range(3):
        assert (await client.get("/api/v1/thing", headers={"Authorization": "Bearer bad"})).status_code == 401
    # this address has now made three requests with tokens that were refused
    assert (await client.get("/api/v1/thing", headers={"Authorization": "Bearer fresh"})).status_code == 429
    assert (await client.get("/api/v1/thing")).status_code == 200  # without a token it has its own budget


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError):
        RateLimitMiddleware(make_app(Clock(0)), limit=0)


async def test_the_app_sends_the_headers(tmp_path: Path) -> None:
    world = Fediverse(tmp_path)
    try:
        instance = await world.add("video.example.org")
        assert instance.client is not None
        response = await instance.client.get("/api/v1/instance")
        assert response.status_code == 200
        assert response.headers["x-ratelimit-limit"] == str(DEFAULT_LIMIT)
        assert response.headers["x-ratelimit-remaining"] == str(DEFAULT_LIMIT - 1)
        assert response.headers["x-ratelimit-reset"].endswith("Z")
        unauthorized = await instance.client.get("/api/v1/notifications")
        assert unauthorized.status_code == 401 and "x-ratelimit-remaining" in unauthorized.headers
        assert "x-ratelimit-limit" not in (await instance.client.get("/.well-known/nodeinfo")).headers
    finally:
        await world.close()
