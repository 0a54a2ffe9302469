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

The counters live in memory, in each process: with several ``fedisora serve``
processes behind a load balancer a client gets up to ``limit`` requests per
window from each.  Counters of past windows are dropped as windows pass.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["RateLimitMiddleware", "DEFAULT_LIMIT", "DEFAULT_PERIOD"]

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
    ``exempt``).  ``clock`` is for tests."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: int = DEFAULT_LIMIT,
        period: int = DEFAULT_PERIOD,
        prefixes: tuple[str, ...] = ("/api/",),
        exempt: tuple[str, ...] = ("/api/v1/streaming",),
        clock: Callable[[], float] = time.time,
    ) -> None:
        if limit < 1 or period < 1:
            raise ValueError("limit and period must be positive")
        self.app = app
        self.limit = limit
        self.period = period
        self.prefixes = prefixes
        self.exempt = exempt
        self.clock = clock
        self._window = -1
        self._counts: dict[str, int] = {}

    def _count(self, key: str, window: int, add: int = 1) -> int:
        if window != self._window:  # a new window: every counter starts again
            self._window = window
            self._counts = {}
        count = self._counts.get(key, 0) + add
        self._counts[key] = count
        return count

    def _peek(self, key: str, window: int) -> int:
        return self._counts.get(key, 0) if window == self._window else 0

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
        ip = client[0] if client else "unknown"
        token = _token_of(scope)
        now = self.clock()
        window = int(now // self.period)
        reset = (window + 1) * self.period
        if token is not None:
            key = "token:" + hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()
            refused_ip = self._peek("badtoken:" + ip, window) >= self.limit
        else:
            key = "ip:" + ip
            refused_ip = False
        count = self._count(key, window)
        remaining = max(0, self.limit - count)
        headers: list[tuple[bytes, bytes]] = [
            (b"x-ratelimit-limit", str(self.limit).encode()),
            (b"x-ratelimit-remaining", str(remaining).encode()),
            (b"x-ratelimit-reset", _reset_text(reset).encode()),
        ]
        if count > self.limit or refused_ip:
            retry = max(1, int(reset - now + 0.999))
            await send(
                {
                    "type": "http.response.start",
                    "status": 429,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(TOO_MANY)).encode()),
                        (b"retry-after", str(retry).encode()),
                        *headers,
                    ],
                }
            )
            await send({"type": "http.response.body", "body": TOO_MANY})
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                if message.get("status") == 401 and token is not None and window == self._window:
                    self._count("badtoken:" + ip, window)
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v) for n, v in headers if n not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def counters(self) -> dict[str, Any]:
        """The current window's counters (for tests and debugging)."""
        return {"window": self._window, "counts": dict(self._counts)}
