"""activitypub.client and activitypub.guard, against httpx.MockTransport (no network)."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
import time
from collections.abc import AsyncIterator, Callable, Generator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from activitypub import guard
from activitypub.client import (
    AP_ACCEPT,
    FederationClient,
    FetchError,
    GoneError,
    NotFoundError,
    parse_retry_after,
)
from activitypub.guard import UnsafeURL, check_url, resolve_and_check

AP = {"content-type": "application/activity+json"}
UA = "fedisora/0.1 (+https://local.example)"

Handler = Callable[[httpx.Request], Any]


def make_client(handler: Handler, **kwargs: Any) -> FederationClient:
    kwargs.setdefault("resolve_dns", False)
    return FederationClient(user_agent=UA, transport=httpx.MockTransport(handler), **kwargs)


class HeaderAuth(httpx.Auth):
    """Stands in for the HTTP-signature auth: adds a header to each request."""

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Signature"] = f'keyId="k",target="{request.url}"'
        yield request


# -- fetch -------------------------------------------------------------------


async def test_fetch_sends_accept_user_agent_and_auth() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, headers=AP, json={"id": str(request.url), "type": "Note"})

    async with make_client(handler) as client:
        doc = await client.fetch_document("https://remote.example/notes/1", auth=HeaderAuth())
    assert doc.data == {"id": "https://remote.example/notes/1", "type": "Note"}
    assert doc.url_final == "https://remote.example/notes/1"
    assert doc.status == 200
    (request,) = seen
    assert request.method == "GET"
    assert request.headers["accept"] == AP_ACCEPT
    assert request.headers["user-agent"] == UA
    assert request.headers["signature"] == 'keyId="k",target="https://remote.example/notes/1"'


@pytest.mark.parametrize(
    "content_type",
    ["application/activity+json", 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
     "application/json; charset=utf-8", "application/jrd+json"],
)
async def test_fetch_json_content_types_accepted(content_type: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": content_type}, content=b'{"a": 1}')

    async with make_client(handler) as client:
        assert await client.fetch_json("https://remote.example/x") == {"a": 1}


async def test_redirects_followed_up_to_limit() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        n = int(request.url.path.rsplit("/", 1)[1])
        if n < 3:
            return httpx.Response(302, headers={"location": f"/hop/{n + 1}"})
        return httpx.Response(200, headers=AP, json={"n": n})

    async with make_client(handler, max_redirects=3) as client:
        doc = await client.fetch_document("https://remote.example/hop/0")
        assert doc.data == {"n": 3}
        assert doc.url_final == "https://remote.example/hop/3"
    async with make_client(handler, max_redirects=2) as client:
        with pytest.raises(FetchError, match="too many redirects") as info:
            await client.fetch_json("https://remote.example/hop/0")
        assert info.value.status is None


async def test_redirect_across_hosts_keeps_auth_per_request() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "a.example":
            return httpx.Response(301, headers={"location": "https://b.example/actor"})
        return httpx.Response(200, headers=AP, json={"id": "https://b.example/actor"})

    async with make_client(handler) as client:
        doc = await client.fetch_document("https://a.example/actor", auth=HeaderAuth())
    assert doc.url_final == "https://b.example/actor"
    assert 'target="https://b.example/actor"' in seen[1].headers["signature"]


@pytest.mark.parametrize(
    "target",
    ["http://127.0.0.1/admin", "https://127.0.0.1/x", "https://[::1]/x", "https://10.0.0.7/",
     "https://169.254.169.254/latest/meta-data", "https://localhost/x", "https://[::ffff:192.168.1.1]/"],
)
async def test_redirect_to_private_address_refused(target: str) -> None:
    requested: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requested.append(str(request.url))
        if request.url.host == "remote.example":
            return httpx.Response(302, headers={"location": target})
        return httpx.Response(200, headers=AP, json={})

    async with make_client(handler) as client:
        with pytest.raises(FetchError, match="unsafe url"):
            await client.fetch_json("https://remote.example/start")
    assert requested == ["https://remote.example/start"]


async def test_http_refused_unless_allowed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=AP, json={"ok": True})

    async with make_client(handler) as client:
        with pytest.raises(FetchError, match="scheme"):
            await client.fetch_json("http://remote.example/x")
        with pytest.raises(FetchError, match="scheme"):
            await client.post_activity("http://remote.example/inbox", b"{}", auth=None)
    async with make_client(handler, allow_http=True) as client:
        assert await client.fetch_json("http://remote.example/x") == {"ok": True}


async def test_private_target_allowed_when_configured() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=AP, json={"ok": True})

    async with make_client(handler, allow_http=True, allow_private=True) as client:
        assert await client.fetch_json("http://127.0.0.1:8000/x") == {"ok": True}


class ChunkSource:
    """An endless body that counts how many chunks were pulled from it."""

    def __init__(self, chunk: int = 64 * 1024) -> None:
        self.chunk = chunk
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            self.pulled += 1
            yield b" " * self.chunk


async def test_oversized_body_refused_by_content_length() -> None:
    source = ChunkSource()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={**AP, "content-length": str(100 * 1024 * 1024)}, content=source)

    async with make_client(handler, max_fetch_bytes=1024 * 1024) as client:
        with pytest.raises(FetchError, match="too large") as info:
            await client.fetch_json("https://remote.example/big")
    assert info.value.status == 200
    assert source.pulled == 0


async def test_oversized_body_refused_while_streaming() -> None:
    source = ChunkSource()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=AP, content=source)

    async with make_client(handler, max_fetch_bytes=1024 * 1024) as client:
        with pytest.raises(FetchError, match="too large"):
            await client.fetch_json("https://remote.example/big")
    # 1 MiB / 64 KiB = 16 chunks; one more trips the cap, nothing beyond.
    assert 16 < source.pulled <= 18


async def test_html_refused() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/html"}, content=b'{"a": 1}')

    async with make_client(handler) as client:
        with pytest.raises(FetchError, match="content type"):
            await client.fetch_json("https://remote.example/page")


@pytest.mark.parametrize("body", [b"[1, 2]", b'"x"', b"null", b"not json", b"\xff\xfe"])
async def test_non_object_json_refused(body: bytes) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=AP, content=body)

    async with make_client(handler) as client:
        with pytest.raises(FetchError, match="JSON"):
            await client.fetch_json("https://remote.example/x")


@pytest.mark.parametrize(
    ("status", "exc_type"),
    [(404, NotFoundError), (410, GoneError), (500, FetchError), (401, FetchError)],
)
async def test_status_errors(status: int, exc_type: type[FetchError]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers={"retry-after": "12"}, text="nope")

    async with make_client(handler) as client:
        with pytest.raises(exc_type) as info:
            await client.fetch_json("https://remote.example/x")
    assert type(info.value) is exc_type
    assert info.value.status == status
    assert info.value.retry_after == 12.0
    assert info.value.url == "https://remote.example/x"


async def test_fetch_timeout_is_total_and_quick() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200, headers=AP, json={})

    async with make_client(handler, request_timeout=0.2) as client:
        start = time.monotonic()
        with pytest.raises(FetchError, match="timed out") as info:
            await client.fetch_json("https://slow.example/x")
        assert time.monotonic() - start < 0.2 + 0.5
    assert info.value.status is None


async def test_slow_trickling_body_hits_total_timeout() -> None:
    async def trickle() -> AsyncIterator[bytes]:
        yield b"{"
        for _ in range(100):
            await asyncio.sleep(0.05)
            yield b" "
        yield b"}"

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=AP, content=trickle())

    async with make_client(handler, request_timeout=0.3) as client:
        start = time.monotonic()
        with pytest.raises(FetchError, match="timed out"):
            await client.fetch_json("https://slow.example/x")
        assert time.monotonic() - start < 0.3 + 0.5


async def test_transport_error_becomes_fetch_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with make_client(handler) as client:
        with pytest.raises(FetchError, match="ConnectError") as info:
            await client.fetch_json("https://down.example/x")
        assert info.value.status is None
        with pytest.raises(FetchError, match="ConnectError"):
            await client.post_activity("https://down.example/inbox", b"{}", auth=None)


async def test_resolve_dns_used_by_default_without_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, int]] = []

    async def fake_resolve(host: str, port: int, *, allow_private: bool) -> None:
        calls.append((host, port))
        raise UnsafeURL(f"{host} resolves to 10.0.0.1")

    monkeypatch.setattr("activitypub.client.resolve_and_check", fake_resolve)
    async with FederationClient(user_agent=UA) as client:
        assert client.resolve_dns is True
        with pytest.raises(FetchError, match="unsafe url"):
            await client.fetch_json("https://rebind.example/x")
    assert calls == [("rebind.example", 443)]
    async with make_client(lambda r: httpx.Response(200), resolve_dns=None) as client:
        assert client.resolve_dns is False


# -- post --------------------------------------------------------------------


async def test_post_activity_reports_status_and_numeric_retry_after() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(429, headers={"retry-after": "120"}, text="slow down " * 1000)

    body = json.dumps({"type": "Create"}).encode()
    async with make_client(handler) as client:
        result = await client.post_activity("https://remote.example/inbox", body, auth=HeaderAuth())
    assert result.status == 429
    assert result.retry_after == 120.0
    assert result.body_excerpt.startswith("slow down")
    assert len(result.body_excerpt) <= 2048
    (request,) = seen
    assert request.method == "POST"
    assert request.content == body
    assert request.headers["content-type"] == "application/activity+json"
    assert request.headers["user-agent"] == UA
    assert "signature" in request.headers


async def test_post_activity_http_date_retry_after() -> None:
    when = datetime.now(UTC) + timedelta(minutes=10)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, headers={"retry-after": format_datetime(when, usegmt=True)})

    async with make_client(handler) as client:
        result = await client.post_activity("https://remote.example/inbox", b"{}", auth=None)
    assert result.status == 503
    assert result.retry_after is not None
    assert 590 <= result.retry_after <= 600


async def test_post_activity_does_not_follow_redirects() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(308, headers={"location": "https://other.example/inbox"})

    async with make_client(handler) as client:
        result = await client.post_activity("https://remote.example/inbox", b"{}", auth=None)
    assert result.status == 308
    assert result.location == "https://other.example/inbox"
    assert result.retry_after is None
    assert seen == ["https://remote.example/inbox"]


async def test_post_activity_reads_only_a_bounded_excerpt() -> None:
    source = ChunkSource(chunk=1024)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(202, content=source)

    async with make_client(handler) as client:
        result = await client.post_activity("https://remote.example/inbox", b"{}", auth=None)
    assert result.status == 202
    assert len(result.body_excerpt) == 2048
    assert source.pulled <= 3


async def test_post_timeout() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(202)

    async with make_client(handler, request_timeout=0.2) as client:
        start = time.monotonic()
        with pytest.raises(FetchError, match="timed out") as info:
            await client.post_activity("https://slow.example/inbox", b"{}", auth=None)
        assert time.monotonic() - start < 0.7
    assert info.value.status is None


async def test_post_to_private_inbox_refused() -> None:
    def handler(request: httpx.Request) -> httpx.Response:  # pragma: no cover - must not be called
        raise AssertionError("request sent")

    async with make_client(handler) as client:
        with pytest.raises(FetchError, match="unsafe url") as info:
            await client.post_activity("https://192.168.0.10/inbox", b"{}", auth=None)
    assert info.value.status is None


async def test_per_host_concurrency_limit() -> None:
    active: dict[str, int] = {}
    peak: dict[str, int] = {}

    async def handler(request: httpx.Request) -> httpx.Response:
        host = request.url.host
        active[host] = active.get(host, 0) + 1
        peak[host] = max(peak.get(host, 0), active[host])
        await asyncio.sleep(0.02)
        active[host] -= 1
        return httpx.Response(202)

    async with make_client(handler, per_host_concurrency=2) as client:
        posts = [client.post_activity("https://a.example/inbox", b"{}", auth=None) for _ in range(10)]
        posts += [client.post_activity("https://b.example/inbox", b"{}", auth=None) for _ in range(10)]
        results = await asyncio.gather(*posts)
        assert not client._slots  # semaphores released once idle
    assert [r.status for r in results] == [202] * 20
    assert peak == {"a.example": 2, "b.example": 2}


# -- Retry-After ---------------------------------------------------------------


def test_parse_retry_after() -> None:
    now = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after(" 0 ", now) == 0.0
    assert parse_retry_after("Wed, 01 Jan 2025 12:05:00 GMT", now) == 300.0
    assert parse_retry_after("Wed, 01 Jan 2025 11:00:00 GMT", now) == 0.0
    for bad in (None, "", "-5", "soon", "nan", "inf"):
        assert parse_retry_after(bad, now) is None


# -- guard ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/", "https://127.0.0.1/", "https://127.1/", "https://2130706433/",
        "https://0x7f000001/", "https://0177.0.0.1/", "https://0.0.0.0/", "https://10.1.2.3/",
        "https://172.16.0.1/", "https://192.168.1.1:8443/", "https://169.254.169.254/",
        "https://100.64.0.1/", "https://224.0.0.1/", "https://240.0.0.1/", "https://255.255.255.255/",
        "https://[::1]/", "https://[::]/", "https://[fe80::1]/", "https://[fc00::1]/", "https://[fd12:3456::1]/",
        "https://[ff02::1]/", "https://[::ffff:127.0.0.1]/", "https://[::ffff:10.0.0.1]/",
        "https://[2002:7f00:1::]/", "https://[2001:db8::1]/",
        "https://localhost/", "https://LOCALHOST./", "https://app.localhost/",
        "ftp://remote.example/", "file:///etc/passwd", "gopher://remote.example/",
        "https://user:pass@remote.example/", "https://user@remote.example/",
        "https:///nohost", "https://remote.example:99999/", "https://remote.example:0/",
        "https://exa mple.com/", "https://remote.example\\@evil.example/", "not a url",
    ],
)
def test_guard_refuses(url: str) -> None:
    with pytest.raises(UnsafeURL):
        check_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://mastodon.social/users/Gargron", "https://remote.example:8443/inbox",
        "https://8.8.8.8/", "https://[2001:4860:4860::8888]/", "https://[::ffff:8.8.8.8]/",
        "https://xn--bcher-kva.example/", "https://bücher.example/", "https://host_name.example/",
        "https://remote.example./x", "https://1.1.1.1:443/?q=127.0.0.1",
    ],
)
def test_guard_allows(url: str) -> None:
    check_url(url)


def test_guard_options() -> None:
    check_url("http://remote.example/", allow_http=True)
    check_url("http://127.0.0.1:8000/", allow_http=True, allow_private=True)
    check_url("https://localhost/", allow_private=True)
    with pytest.raises(UnsafeURL, match="scheme"):
        check_url("http://127.0.0.1/", allow_private=True)
    assert str(UnsafeURL("x")) == "unsafe url: x"


def _fake_getaddrinfo(addresses: list[str]) -> Callable[..., Any]:
    async def getaddrinfo(host: str, port: int, **kwargs: Any) -> list[Any]:
        out = []
        for addr in addresses:
            family = socket.AF_INET6 if ":" in addr else socket.AF_INET
            sockaddr = (addr, port, 0, 0) if family == socket.AF_INET6 else (addr, port)
            out.append((family, socket.SOCK_STREAM, 6, "", sockaddr))
        return out

    return getaddrinfo


@pytest.mark.parametrize(
    ("addresses", "ok"),
    [
        (["93.184.216.34"], True),
        (["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"], True),
        (["93.184.216.34", "10.0.0.1"], False),
        (["127.0.0.1"], False),
        (["fe80::1%eth0"], False),
        (["::ffff:192.168.0.1"], False),
    ],
)
async def test_resolve_and_check(monkeypatch: pytest.MonkeyPatch, addresses: list[str], ok: bool) -> None:
    loop = asyncio.get_running_loop()
    monkeypatch.setattr(loop, "getaddrinfo", _fake_getaddrinfo(addresses))
    if ok:
        await resolve_and_check("remote.example", 443, allow_private=False)
    else:
        with pytest.raises(UnsafeURL, match="non-public"):
            await resolve_and_check("remote.example", 443, allow_private=False)
    await resolve_and_check("remote.example", 443, allow_private=True)


async def test_resolve_and_check_literals_skip_dns() -> None:
    await resolve_and_check("8.8.8.8", 443, allow_private=False)
    with pytest.raises(UnsafeURL):
        await resolve_and_check("127.0.0.1", 443, allow_private=False)
    assert guard.is_public_address(ipaddress.ip_address("1.1.1.1"))
    assert not guard.is_public_address(ipaddress.ip_address("::ffff:127.0.0.1"))
