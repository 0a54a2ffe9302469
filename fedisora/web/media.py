"""``GET /media/{path}``: stored media files (see :mod:`fedisora.media.storage`).

Files are content-addressed and never change, so they are cached for a year
(``immutable``) with a strong ETag: the file's SHA-256 when its name is one.
``If-None-Match`` (and ``If-Modified-Since``) give 304.  Byte ranges
(``Range``, ``If-Range``): 206 with ``Content-Range`` for one range,
``multipart/byteranges`` for several, 416 when unsatisfiable; a malformed
``Range`` header is ignored (RFC 9110 §14.2) and the whole file sent.

Where the file comes from depends on the storage backend:

- local disk: Starlette's ``FileResponse`` serves the file;
- S3 with ``[media] s3_public_url``: a 302 redirect to ``<s3_public_url>/<s3_prefix><path>``
  (URLs handed out before a move to S3 keep working);
- S3 without it: the bytes are streamed through this server, each range read
  from the store with a ranged GET.  A store that fails answers 503.

Only plain relative paths of servable segments are looked up (no ``..``, no
dot files such as the storage's temporary files), and on disk the resolved
file must lie inside the media directory: anything else is a 404.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import AsyncIterator
from email.utils import formatdate, parsedate_to_datetime

import anyio.to_thread
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    MalformedRangeHeader,
    RangeNotSatisfiable,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import BaseRoute, Route

from ..media.storage import (
    CACHE_CONTROL,
    CONTENT_TYPES,
    LocalStorage,
    ObjectInfo,
    Storage,
    StorageUnavailable,
    content_type_for,
    is_safe_relative_path,
    open_storage,
)
from ..state import AppState

__all__ = ["routes", "CONTENT_TYPES", "content_type_for"]

#: How long a browser or proxy may remember where ``/media/<path>`` redirects to.
REDIRECT_CACHE_CONTROL = "public, max-age=3600"
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")


class MediaFileResponse(FileResponse):
    """A FileResponse that ignores a malformed ``Range`` header instead of answering 400."""

    @classmethod
    def _parse_range_header(cls, http_range: str, file_size: int) -> list[tuple[int, int]]:
        try:
            return super()._parse_range_header(http_range, file_size)
        except MalformedRangeHeader:
            return []


def _etag_matches(header: str, etag: str) -> bool:
    """``If-None-Match``: ``*`` or any listed tag equal to ``etag`` (weak comparison)."""
    if header.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == bare for tag in header.split(","))


def _not_modified_since(header: str, mtime: float) -> bool:
    try:
        since = parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError):
        return False
    return since is not None and int(mtime) <= since.timestamp()


def _not_modified(request: Request, etag: str, mtime: float) -> bool:
    if_none_match = request.headers.get("if-none-match")
    if_modified_since = request.headers.get("if-modified-since")
    return (if_none_match is not None and _etag_matches(if_none_match, etag)) or (
        if_none_match is None
        and if_modified_since is not None
        and _not_modified_since(if_modified_since, mtime)
    )


def _base_headers() -> dict[str, str]:
    return {
        "Cache-Control": CACHE_CONTROL,
        "Access-Control-Allow-Origin": "*",
        "X-Content-Type-Options": "nosniff",
    }


def _not_modified_response(headers: dict[str, str], etag: str, mtime: float) -> Response:
    return Response(
        status_code=304,
        headers={**headers, "ETag": etag, "Last-Modified": formatdate(mtime, usegmt=True)},
    )


async def serve_media(request: Request) -> Response:
    state: AppState = request.app.state.fedisora
    path: str = request.path_params["path"]
    try:
        storage = open_storage(state.config)
    except StorageUnavailable:  # S3 configured without boto3, or unusable S3 settings
        raise _unavailable() from None
    if isinstance(storage, LocalStorage):
        return await _serve_local(request, storage, path)
    if not is_safe_relative_path(path):
        raise HTTPException(404)
    public = storage.public_url(path)
    if public is not None:
        return RedirectResponse(
            public,
            status_code=302,
            headers={"Cache-Control": REDIRECT_CACHE_CONTROL, "Access-Control-Allow-Origin": "*"},
        )
    return await _serve_from_store(request, storage, path)


async def _serve_local(request: Request, storage: LocalStorage, path: str) -> Response:
    found = await anyio.to_thread.run_sync(storage.resolve, path)
    if found is None:
        raise HTTPException(404)
    try:
        stat_result = await anyio.to_thread.run_sync(os.stat, found)
    except OSError:
        raise HTTPException(404) from None
    headers = _base_headers()
    if _SHA_RE.match(found.stem):
        headers["ETag"] = f'"{found.stem}"'
    response = MediaFileResponse(
        found, headers=headers, media_type=content_type_for(found), stat_result=stat_result
    )
    etag = response.headers["etag"]
    if _not_modified(request, etag, stat_result.st_mtime):
        return _not_modified_response(headers, etag, stat_result.st_mtime)
    return response


# ---- streaming from an object store ------------------------------------------------------


def _unavailable() -> HTTPException:
    return HTTPException(503, "The media store is unavailable; try again later.")


async def _serve_from_store(request: Request, storage: Storage, path: str) -> Response:
    try:
        info = await storage.stat_async(path)
    except OSError:
        raise _unavailable() from None
    if info is None:
        raise HTTPException(404)
    headers = _base_headers()
    last_modified = formatdate(info.modified, usegmt=True)
    if _not_modified(request, info.etag, info.modified):
        return _not_modified_response(headers, info.etag, info.modified)
    headers.update(
        {"ETag": info.etag, "Last-Modified": last_modified, "Accept-Ranges": "bytes"}
    )
    content_type = content_type_for(path)
    head_only = request.method == "HEAD"

    ranges: list[tuple[int, int]] = []
    http_range = request.headers.get("range")
    if_range = request.headers.get("if-range")
    if http_range is not None and (if_range is None or if_range in (info.etag, last_modified)):
        try:
            ranges = MediaFileResponse._parse_range_header(http_range, info.size)
        except RangeNotSatisfiable:
            return Response(
                status_code=416,
                headers={**headers, "Content-Range": f"bytes */{info.size}"},
            )

    if not ranges:
        headers["Content-Length"] = str(info.size)
        return await _stream(storage, info, [(0, info.size)], 200, headers, content_type, head_only)
    if len(ranges) == 1:
        start, end = ranges[0]
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{info.size}"
        headers["Content-Length"] = str(end - start)
        return await _stream(storage, info, ranges, 206, headers, content_type, head_only)
    boundary = secrets.token_hex(13)
    parts = [
        (
            f"--{boundary}\r\nContent-Type: {content_type}\r\n"
            f"Content-Range: bytes {start}-{end - 1}/{info.size}\r\n\r\n"
        ).encode("latin-1")
        for start, end in ranges
    ]
    closing = f"--{boundary}--".encode("latin-1")
    length = sum(len(p) + (end - start) + 2 for p, (start, end) in zip(parts, ranges)) + len(closing)
    headers["Content-Length"] = str(length)
    return await _stream(
        storage, info, ranges, 206, headers, f"multipart/byteranges; boundary={boundary}",
        head_only, parts=parts, closing=closing,
    )  # fmt: skip


async def _stream(
    storage: Storage,
    info: ObjectInfo,
    ranges: list[tuple[int, int]],
    status: int,
    headers: dict[str, str],
    media_type: str,
    head_only: bool,
    *,
    parts: list[bytes] | None = None,
    closing: bytes | None = None,
) -> Response:
    if head_only:
        return Response(status_code=status, headers=headers, media_type=media_type)
    # The first read starts before the status is sent, so a failing store is a clean 503.
    try:
        first = await storage.open_range_async(info.path, *ranges[0])
    except FileNotFoundError:
        raise HTTPException(404) from None
    except OSError:
        raise _unavailable() from None

    async def body() -> AsyncIterator[bytes]:
        for index, (start, end) in enumerate(ranges):
            if parts is not None:
                yield parts[index]
            sent = start
            chunks = first if index == 0 else await storage.open_range_async(info.path, start, end)
            async with contextlib.aclosing(chunks):
                async for chunk in chunks:
                    sent += len(chunk)
                    yield chunk
            if sent != end:  # the object changed or vanished: end the response short
                raise OSError(f"{info.path}: the store gave {sent - start} of {end - start} bytes")
            if parts is not None:
                yield b"\r\n"
        if closing is not None:
            yield closing

    return StreamingResponse(body(), status_code=status, headers=headers, media_type=media_type)


routes: list[BaseRoute] = [Route("/media/{path:path}", serve_media, methods=["GET", "HEAD"])]
