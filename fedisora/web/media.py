"""``GET /media/{path}``: stored media files (see :mod:`fedisora.media.storage`).

Files are content-addressed and never change, so they are cached for a year
(``immutable``) with a strong ETag: the file's SHA-256 when its name is one,
else Starlette's size-and-mtime tag.  ``If-None-Match`` (and
``If-Modified-Since``) give 304.  Byte ranges (``Range``, ``If-Range``) are
Starlette's ``FileResponse``: 206 with ``Content-Range`` for one range,
``multipart/byteranges`` for several, 416 when unsatisfiable; a malformed
``Range`` header is ignored (RFC 9110 §14.2) and the whole file sent.

Only plain relative paths of servable segments are looked up (no ``..``, no
dot files such as the storage's temporary files), and the resolved file must
lie inside the media directory: anything else is a 404.
"""

from __future__ import annotations

import os
import re
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path

import anyio.to_thread
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, MalformedRangeHeader, Response
from starlette.routing import BaseRoute, Route

from ..media.storage import MediaStorage
from ..state import AppState

__all__ = ["routes", "CONTENT_TYPES", "content_type_for"]

CACHE_CONTROL = "public, max-age=31536000, immutable"
CONTENT_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "avif": "image/avif",
    "mp4": "video/mp4",
    "m4v": "video/mp4",
    "webm": "video/webm",
    "mov": "video/quicktime",
    "mp3": "audio/mpeg",
    "m4a": "audio/mp4",
    "ogg": "audio/ogg",
    "oga": "audio/ogg",
    "opus": "audio/ogg",
    "wav": "audio/wav",
    "vtt": "text/vtt; charset=utf-8",
}
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")


def content_type_for(path: str | Path) -> str:
    ext = Path(path).suffix.lower().lstrip(".")
    return CONTENT_TYPES.get(ext, "application/octet-stream")


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


async def serve_media(request: Request) -> Response:
    state: AppState = request.app.state.fedisora
    storage = MediaStorage.from_config(state.config)
    path: str = request.path_params["path"]
    found = await anyio.to_thread.run_sync(storage.resolve, path)
    if found is None:
        raise HTTPException(404)
    try:
        stat_result = await anyio.to_thread.run_sync(os.stat, found)
    except OSError:
        raise HTTPException(404) from None
    headers = {
        "Cache-Control": CACHE_CONTROL,
        "Access-Control-Allow-Origin": "*",
        "X-Content-Type-Options": "nosniff",
    }
    if _SHA_RE.match(found.stem):
        headers["ETag"] = f'"{found.stem}"'
    response = MediaFileResponse(
        found, headers=headers, media_type=content_type_for(found), stat_result=stat_result
    )
    etag = response.headers["etag"]
    if_none_match = request.headers.get("if-none-match")
    if_modified_since = request.headers.get("if-modified-since")
    if (if_none_match is not None and _etag_matches(if_none_match, etag)) or (
        if_none_match is None
        and if_modified_since is not None
        and _not_modified_since(if_modified_since, stat_result.st_mtime)
    ):
        return Response(
            status_code=304,
            headers={
                **headers,
                "ETag": etag,
                "Last-Modified": formatdate(stat_result.st_mtime, usegmt=True),
            },
        )
    return response


routes: list[BaseRoute] = [Route("/media/{path:path}", serve_media, methods=["GET", "HEAD"])]
