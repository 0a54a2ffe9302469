"""Outgoing HTTP for federation: guarded JSON fetches and inbox deliveries.

Why a wrapper around :class:`httpx.AsyncClient` rather than using it directly:

* every URL comes from remote JSON, so each hop (redirects included) passes the
  SSRF guard of :mod:`activitypub.guard`; redirects are therefore followed by
  hand, never by httpx;
* remote servers may be slow or hostile: a total deadline per request
  (``asyncio.timeout`` around connect, headers *and* body, since httpx's
  timeouts are per phase and a server trickling one byte a second never trips
  them), a byte cap on bodies and a per-host concurrency limit;
* callers (the job engine) need structured errors: HTTP status, the parsed
  ``Retry-After`` and a distinct :class:`GoneError` / :class:`NotFoundError`.

The transport is pluggable: the in-process federation harness passes an
``httpx.AsyncBaseTransport`` routing each domain to an ASGI app.  With a
custom transport no DNS lookup is done by default (``resolve_dns=None`` means
"only with the real network transport").

Signing is not done here: pass any ``httpx.Auth`` (e.g. the draft-cavage
``HTTPSignatureAuth`` of :mod:`activitypub.signatures`) per call.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, BinaryIO, TypeVar

import httpx

from activitypub import safejson
from activitypub.guard import UnsafeURL, check_url, resolve_and_check

_T = TypeVar("_T")

__all__ = [
    "AP_ACCEPT",
    "JSON_CONTENT_TYPES",
    "FederationClient",
    "FetchError",
    "FetchedDocument",
    "FetchedFile",
    "GoneError",
    "NotFoundError",
    "PostResult",
    "parse_retry_after",
]

AP_ACCEPT = 'application/activity+json, application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
JSON_CONTENT_TYPES = frozenset(
    {"application/activity+json", "application/ld+json", "application/json", "application/jrd+json"}
)
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
POST_EXCERPT_BYTES = 2048


class FetchError(Exception):
    """A fetch or post failed.

    ``status`` is the HTTP status, or None when no response came (connect,
    TLS, timeout, guard refusal); ``retry_after`` is the parsed
    ``Retry-After`` header in seconds when the response had one.
    """

    def __init__(
        self, url: str, reason: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(f"{url}: {reason}" + (f" (HTTP {status})" if status is not None else ""))
        self.url = url
        self.status = status
        self.reason = reason
        self.retry_after = retry_after

    @property
    def permanent(self) -> bool:
        """Whether asking again cannot help: a URL the guard refuses, too many redirects, a
        4xx answer other than 408/425/429, or a 2xx whose body is not a usable document."""
        if self.status is None:
            return self.reason.startswith(("unsafe url", "too many redirects"))
        return self.status < 500 and self.status not in (408, 425, 429)


class NotFoundError(FetchError):
    """HTTP 404: the object does not exist (or is not visible to us)."""


class GoneError(FetchError):
    """HTTP 410: the object was deleted; callers may treat this as a Delete."""


@dataclass(frozen=True, slots=True)
class FetchedDocument:
    """A successfully fetched JSON object and where it finally came from."""

    url_final: str
    status: int
    content_type: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class FetchedFile:
    """A binary body written to the caller's file: where it came from, its type and size."""

    url_final: str
    status: int
    content_type: str
    size: int


@dataclass(frozen=True, slots=True)
class PostResult:
    """What an inbox answered.  Any status is a result; the caller classifies it.

    ``location`` is set for redirects, which are reported, never followed.
    """

    status: int
    retry_after: float | None
    body_excerpt: str
    location: str | None = None


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delay-seconds or HTTP-date).

    Returns None when absent or unparsable; past dates give 0.0.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if seconds >= 0 and seconds == seconds and seconds != float("inf") else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:  # pragma: no cover - older Pythons returned None
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


class FederationClient:
    """Guarded HTTP client for federation; use as ``async with FederationClient(...)``.

    ``request_timeout`` is a total deadline for one HTTP exchange (each
    redirect hop gets its own); waiting for a per-host slot does not count.
    ``resolve_dns=None`` resolves and checks host names only when no custom
    transport is given.
    """

    def __init__(
        self,
        *,
        user_agent: str,
        connect_timeout: float = 10.0,
        request_timeout: float = 30.0,
        max_fetch_bytes: int = 5 * 1024 * 1024,
        max_redirects: int = 3,
        allow_http: bool = False,
        allow_private: bool = False,
        transport: httpx.AsyncBaseTransport | None = None,
        per_host_concurrency: int = 4,
        resolve_dns: bool | None = None,
    ) -> None:
        if per_host_concurrency < 1:
            raise ValueError("per_host_concurrency must be >= 1")
        self.user_agent = user_agent
        self.request_timeout = request_timeout
        self.max_fetch_bytes = max_fetch_bytes
        self.max_redirects = max_redirects
        self.allow_http = allow_http
        self.allow_private = allow_private
        self.per_host_concurrency = per_host_concurrency
        self.resolve_dns = transport is None if resolve_dns is None else resolve_dns
        self._client = httpx.AsyncClient(
            transport=transport,
            headers={"User-Agent": user_agent},
            timeout=httpx.Timeout(request_timeout, connect=connect_timeout),
            follow_redirects=False,
            trust_env=False,  # no environment proxies: the guard must see the real target
        )
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._slot_users: dict[str, int] = {}

    async def __aenter__(self) -> FederationClient:
        await self._client.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._client.__aexit__(exc_type, exc, tb)

    async def aclose(self) -> None:
        await self._client.aclose()

    # -- internals -----------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _host_slot(self, host: str) -> AsyncIterator[None]:
        """Hold one of ``per_host_concurrency`` slots for ``host``.

        Semaphores are dropped when nobody uses them, so the map does not grow
        with every host we ever talked to.
        """
        sem = self._slots.get(host)
        if sem is None:
            sem = self._slots[host] = asyncio.Semaphore(self.per_host_concurrency)
        self._slot_users[host] = self._slot_users.get(host, 0) + 1
        try:
            async with sem:
                yield
        finally:
            self._slot_users[host] -= 1
            if self._slot_users[host] == 0:
                del self._slot_users[host]
                del self._slots[host]

    async def _check(self, url: httpx.URL) -> None:
        """Guard one hop: the URL itself, then (real network only) its DNS answers."""
        try:
            check_url(url, allow_http=self.allow_http, allow_private=self.allow_private)
        except UnsafeURL as exc:
            raise FetchError(str(url), str(exc)) from None
        if self.resolve_dns:
            port = url.port or (443 if url.scheme == "https" else 80)
            try:
                await resolve_and_check(url.host, port, allow_private=self.allow_private)
            except UnsafeURL as exc:
                raise FetchError(str(url), str(exc)) from None
            except OSError as exc:
                raise FetchError(str(url), f"dns resolution failed: {exc}") from None

    @staticmethod
    def _parse_url(url: str) -> httpx.URL:
        try:
            return httpx.URL(url)
        except (httpx.InvalidURL, TypeError, ValueError) as exc:
            raise FetchError(str(url), f"unsafe url: unparsable url ({exc})") from None

    async def _read_capped(self, response: httpx.Response, limit: int, url: str) -> bytes:
        """Read at most ``limit`` bytes of (decoded) body, else raise."""
        return b"".join([chunk async for chunk in self._capped_chunks(response, limit, url)])

    @staticmethod
    async def _capped_chunks(response: httpx.Response, limit: int, url: str) -> AsyncIterator[bytes]:
        """The (decoded) body in chunks; :class:`FetchError` once it is declared or grows past ``limit``."""
        declared = response.headers.get("content-length", "").strip()
        if declared.isdigit() and int(declared) > limit:
            raise FetchError(url, f"body too large ({declared} bytes declared)", status=response.status_code)
        total = 0
        async for chunk in response.aiter_bytes():
            total += len(chunk)
            if total > limit:
                raise FetchError(url, f"body too large (over {limit} bytes)", status=response.status_code)
            yield chunk

    @staticmethod
    def _status_error(url: str, response: httpx.Response) -> FetchError:
        status = response.status_code
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        cls = GoneError if status == 410 else NotFoundError if status == 404 else FetchError
        return cls(url, f"HTTP {status}", status=status, retry_after=retry_after)

    # -- public API ----------------------------------------------------------

    async def fetch_document(
        self, url: str, *, auth: httpx.Auth | None = None, accept: str = AP_ACCEPT
    ) -> FetchedDocument:
        """GET a JSON object, following at most ``max_redirects`` guarded redirects.

        Raises :class:`FetchError` (or :class:`NotFoundError` / :class:`GoneError`)
        for every failure: guard refusal, network error, timeout, non-2xx,
        oversized body, non-JSON content type, body that is not a JSON object.
        """
        return await self._follow(url, lambda hop: self._fetch_hop(hop, auth=auth, accept=accept))

    async def _follow(self, url: str, hop: Callable[[httpx.URL], Awaitable[_T | httpx.URL]]) -> _T:
        """Run ``hop`` on ``url`` and on each redirect it answers (an ``httpx.URL``), every
        hop checked by the SSRF guard first, at most ``max_redirects`` redirects."""
        current = self._parse_url(url)
        for count in range(self.max_redirects + 1):
            await self._check(current)
            result = await hop(current)
            if not isinstance(result, httpx.URL):
                return result
            if count == self.max_redirects:
                break
            current = result
        raise FetchError(url, f"too many redirects (more than {self.max_redirects})")

    async def _fetch_hop(self, url: httpx.URL, *, auth: httpx.Auth | None, accept: str) -> FetchedDocument | httpx.URL:
        """One GET: a document, or the next URL when the answer is a redirect."""
        text = str(url)
        async with self._host_slot(url.host):
            try:
                async with asyncio.timeout(self.request_timeout):
                    request = self._client.build_request("GET", url, headers={"Accept": accept})
                    response = await self._client.send(request, auth=auth, stream=True, follow_redirects=False)
                    try:
                        return await self._handle_fetch_response(text, response)
                    finally:
                        await response.aclose()
            except TimeoutError:
                raise FetchError(text, f"timed out after {self.request_timeout}s") from None
            except httpx.HTTPError as exc:
                raise FetchError(text, f"{type(exc).__name__}: {exc}") from None

    def _redirect_or_error(self, url: str, response: httpx.Response) -> httpx.URL | None:
        """The redirect target of a 3xx, ``FetchError`` for other non-2xx answers, else None."""
        status = response.status_code
        if status in REDIRECT_STATUSES:
            location = response.headers.get("location")
            if not location:
                raise FetchError(url, "redirect without Location", status=status)
            try:
                return response.url.join(location)
            except (httpx.InvalidURL, TypeError, ValueError):
                raise FetchError(url, f"unsafe url: invalid redirect target {location!r}", status=status) from None
        if not 200 <= status < 300:
            raise self._status_error(url, response)
        return None

    async def _handle_fetch_response(self, url: str, response: httpx.Response) -> FetchedDocument | httpx.URL:
        status = response.status_code
        if (target := self._redirect_or_error(url, response)) is not None:
            return target
        content_type = response.headers.get("content-type", "")
        if _media_type(content_type) not in JSON_CONTENT_TYPES:
            raise FetchError(url, f"not a JSON content type: {content_type!r}", status=status)
        body = await self._read_capped(response, self.max_fetch_bytes, url)
        try:
            data = safejson.loads(body)
        except safejson.JSONRejected as exc:
            raise FetchError(url, f"invalid JSON: {exc.reason}", status=status) from None
        if not isinstance(data, dict):
            raise FetchError(url, f"JSON body is a {type(data).__name__}, not an object", status=status)
        return FetchedDocument(url_final=url, status=status, content_type=content_type, data=data)

    async def fetch_json(
        self, url: str, *, auth: httpx.Auth | None = None, accept: str = AP_ACCEPT
    ) -> dict[str, Any]:
        """Like :meth:`fetch_document`, returning only the JSON object."""
        return (await self.fetch_document(url, auth=auth, accept=accept)).data

    async def fetch_file(
        self,
        url: str,
        dest: BinaryIO,
        *,
        max_bytes: int,
        timeout: float | None = None,
        accept: str = "*/*",
        auth: httpx.Auth | None = None,
    ) -> FetchedFile:
        """GET a binary body (a media file) into ``dest``, streamed, at most ``max_bytes``.

        Same guard, redirect limit and per-host slots as :meth:`fetch_document`;
        ``timeout`` (default ``request_timeout``) is a total deadline for each hop,
        body included.  A declared ``Content-Length`` over the limit is refused
        before reading; a body growing past it is cut off.  Raises
        :class:`FetchError` on any failure; ``dest`` may then hold a partial body,
        which the caller discards.  Nothing is written for a redirect.
        """
        deadline = self.request_timeout if timeout is None else timeout
        return await self._follow(
            url, lambda hop: self._file_hop(hop, dest, max_bytes=max_bytes, timeout=deadline, accept=accept, auth=auth)
        )

    async def _file_hop(
        self, url: httpx.URL, dest: BinaryIO, *, max_bytes: int, timeout: float, accept: str, auth: httpx.Auth | None
    ) -> FetchedFile | httpx.URL:
        text = str(url)
        async with self._host_slot(url.host):
            try:
                async with asyncio.timeout(timeout):
                    # Media are already compressed; identity also keeps bombs out (decoded bytes are counted anyway).
                    request = self._client.build_request(
                        "GET", url, headers={"Accept": accept, "Accept-Encoding": "identity"}
                    )
                    response = await self._client.send(request, auth=auth, stream=True, follow_redirects=False)
                    try:
                        status = response.status_code
                        if (target := self._redirect_or_error(text, response)) is not None:
                            return target
                        size = 0
                        async for chunk in self._capped_chunks(response, max_bytes, text):
                            size += len(chunk)
                            dest.write(chunk)
                        return FetchedFile(text, status, response.headers.get("content-type", ""), size)
                    finally:
                        await response.aclose()
            except TimeoutError:
                raise FetchError(text, f"timed out after {timeout}s") from None
            except httpx.HTTPError as exc:
                raise FetchError(text, f"{type(exc).__name__}: {exc}") from None

    async def post_activity(
        self,
        inbox_url: str,
        body: bytes,
        *,
        auth: httpx.Auth | None,
        content_type: str = "application/activity+json",
    ) -> PostResult:
        """POST ``body`` to an inbox and report the answer, whatever its status.

        Redirects are reported (``location``), never followed: re-posting a
        signed body elsewhere is not something to do silently.  Only the first
        :data:`POST_EXCERPT_BYTES` of the answer are read.  Raises
        :class:`FetchError` with ``status=None`` when no answer came.
        """
        url = self._parse_url(inbox_url)
        await self._check(url)
        async with self._host_slot(url.host):
            try:
                async with asyncio.timeout(self.request_timeout):
                    request = self._client.build_request(
                        "POST", url, content=body, headers={"Content-Type": content_type}
                    )
                    response = await self._client.send(request, auth=auth, stream=True, follow_redirects=False)
                    try:
                        excerpt = b""
                        async for chunk in response.aiter_bytes():
                            excerpt += chunk
                            if len(excerpt) >= POST_EXCERPT_BYTES:
                                break
                    finally:
                        await response.aclose()
            except TimeoutError:
                raise FetchError(inbox_url, f"timed out after {self.request_timeout}s") from None
            except httpx.HTTPError as exc:
                raise FetchError(inbox_url, f"{type(exc).__name__}: {exc}") from None
        location = response.headers.get("location") if response.status_code in REDIRECT_STATUSES else None
        return PostResult(
            status=response.status_code,
            retry_after=parse_retry_after(response.headers.get("retry-after")),
            body_excerpt=excerpt[:POST_EXCERPT_BYTES].decode("utf-8", "replace"),
            location=location,
        )
