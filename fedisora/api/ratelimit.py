"""Rate limiting of the client API, the way Mastodon does it (docs.joinmastodon.org/api/rate-limits).

A fixed window (by default 300 requests per 5 minutes, windows aligned to the
epoch like Rack::Attack's) per access token, or per client IP for requests
without one.  Every ``/api/`` answer carries::

    X-RateLimit-Limit: 300
    X-RateLimit-Remaining: 299
    X-RateLimit-Reset: 2026-11-25T08:35:00.000000Z

and a request past the limit is answered ``429 {"error": "Too many requests"}``
(with ``Retry-After``) without reaching the endpoint.  The streaming API
(``/api/v1/streaming``) is not limited: its connections are long-lived.

A token is counted by a hash of its text, without a database lookup.  So that
made-up tokens cannot buy fresh budgets, answers ``401`` to a request with a
token also count against the client IP, and once that IP has made ``limit``
such requests in the window, its requests with tokens are refused too.

A client IP is counted by :func:`fedisora.counters.address_key` (an IPv6
address by its /64).  The counts are kept by a :class:`fedisora.counters.FixedWindow`
in a :class:`~fedisora.counters.CounterStore`; by default in memory, in each
process: with several ``fedisora serve`` processes behind a load balancer a
client gets up to ``limit`` requests per window from each, until a shared
store takes its place.  Counters of past windows are dropped as windows pass.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..counters import CounterStore, FixedWindow, Hit, address_key

__all__ = [
    "RateLimitMiddleware",
    "DEFAULT_LIMIT",
    "DEFAULT_PERIOD",
    "TOO_MANY",
    "limit_headers",
    "too_many_headers",
]

DEFAULT_LIMIT = 300
DEFAULT_PERIOD = 300  # seconds
TOO_MANY = json.dumps({"error": "Too many requests"}).encode()


def _reset_text(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _token_of(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").strip().partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    query = scope.get("query_string", b"").decode("latin-1")
    if "access_token=" in query:
        for key, value in parse_qsl(query):
            if key == "access_token" and value:
                return value
    return None


class RateLimitMiddleware:
    """ASGI middleware: ``limit`` requests per ``period`` seconds per token (or client IP)
    on paths starting with one of ``prefixes`` (except those starting with one of
    ``exempt``).  ``store`` holds the counts (in this process by default); ``clock`` is
    for tests."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: int = DEFAULT_LIMIT,
        period: int = DEFAULT_PERIOD,
        prefixes: tuple[str, ...] = ("/api/",),
        exempt: tuple[str, ...] = ("/api/v1/streaming",),
        store: CounterStore | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app = app
        self.counter = FixedWindow("api", limit=limit, period=period, store=store, clock=clock)
        self.limit = limit
        self.prefixes = prefixes
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if (
            scope["type"] != "http"
            or scope.get("method") == "OPTIONS"
            or not path.startswith(self.prefixes)
            or path.startswith(self.exempt)
        ):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        ip = address_key(client[0] if client else None)
        token = _token_of(scope)
        now = self.counter.clock()
        if token is not None:
            key = "token:" + hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()
            refused_ip = (await self.counter.peek("badtoken:" + ip, now=now)).count >= self.limit
        else:
            key = "ip:" + ip
            refused_ip = False
        hit = await self.counter.hit(key, now=now)
        headers = limit_headers(hit)
        if hit.limited or refused_ip:
            await send_too_many(send, hit, headers)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                if message.get("status") == 401 and token is not None:
                    await self.counter.add("badtoken:" + ip, self.counter.window(now))
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in headers if n not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def limit_headers(hit: Hit) -> list[tuple[bytes, bytes]]:
    """Mastodon's ``X-RateLimit-*`` headers for a counted hit."""
    return [
        (b"x-ratelimit-limit", str(hit.limit).encode()),
        (b"x-ratelimit-remaining", str(hit.remaining).encode()),
        (b"x-ratelimit-reset", _reset_text(hit.reset).encode()),
    ]


def too_many_headers(hit: Hit) -> dict[str, str]:
    """The headers of a ``429``: ``Retry-After`` and the ``X-RateLimit-*`` ones."""
    return {"Retry-After": str(hit.retry_after), **{n.decode(): v.decode() for n, v in limit_headers(hit)}}


async def send_too_many(send: Send, hit: Hit, headers: list[tuple[bytes, bytes]]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(TOO_MANY)).encode()),
                (b"retry-after", str(hit.retry_after).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": TOO_MANY})
