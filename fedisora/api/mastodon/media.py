"""Media uploads in the Mastodon client API: ``POST /api/v2/media`` (and the deprecated
``POST /api/v1/media``), ``GET /api/v1/media/:id`` and ``PUT /api/v1/media/:id``.

As on Mastodon, every endpoint needs the ``write:media`` scope and only the
uploader sees an attachment (anyone else gets 404).  The upload is checked
(its own bytes decide the type: mp4/m4v, webm, mov; jpeg, png, webp, gif) and
staged under ``<media_dir>/.uploads/``; then:

- a still image is processed at once (in a worker thread) and answered 200 with
  its ``url``;
- a video or a GIF (which becomes a ``gifv`` video) is processed by the
  ``process_media`` background job, and answered 202 with ``url: null``.  The
  deprecated v1 endpoint does the same for videos (Mastodon would wait).

``GET`` answers 206 while the file is processing, 200 when it is ready, and 422
with the reason once processing failed.  ``PUT`` changes ``description``,
``focus`` and ``thumbnail`` (status codes as ``GET``).  Besides Mastodon's
fields, the entity carries ``fedisora: {state, progress, error}``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import mmap
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from ... import convert
from ...db.locking import lock_row
from ...db.models import Actor, MediaAttachment, MediaState, MediaType
from ...errors import APIError
from ...jobs import queue
from ...media import jobs
from ...media.sizes import size_meta
from ...media.storage import MediaStorage
from ...media.uploads import Form, Upload, parse_multipart, read_form
from ...state import AppState
from .auth import Auth, authenticate, checked_form, request_params, text_param
from .statuses import CORS, endpoint, parse_id

__all__ = ["routes", "MAX_DESCRIPTION_LENGTH", "parse_focus"]

log = logging.getLogger(__name__)

SCOPE = "write:media"
NOT_FOUND = "Record not found"
MAX_DESCRIPTION_LENGTH = 1500  # Mastodon's
UPLOAD_MARGIN = 1024 * 1024  # form fields, a thumbnail's share and multipart framing
FILE_TYPE_ERROR = "Validation failed: File content type is invalid"
BLANK_FILE = "Validation failed: File can't be blank"
FOCUS_ERROR = "Validation failed: Focus must be two numbers between -1.0 and 1.0, as x,y"
# What clients may say about a file, passed to the processor only as a hint.
DECLARED_TYPES = {
    "video/mp4", "video/x-m4v", "video/m4v", "video/webm", "video/quicktime",
    "image/jpeg", "image/png", "image/webp", "image/gif",
}


def _state(request: Request) -> AppState:
    return request.app.state.fedisora  # type: ignore[no-any-return]


def _me(auth: Auth) -> Actor:
    if auth.actor is None:
        raise APIError(422, "This method requires an authenticated user")
    return auth.actor


def _megabytes(limit: int) -> str:
    return f"{limit / (1024 * 1024):g} MB" if limit >= 1024 * 1024 else f"{limit} bytes"


def parse_focus(value: str | None) -> tuple[float, float] | None:
    """``"x,y"`` with both in -1.0..1.0 (Mastodon's focal point); ``None`` for absent/empty."""
    if value is None or not value.strip():
        return None
    parts = value.split(",")
    if len(parts) != 2:
        raise APIError(422, FOCUS_ERROR)
    try:
        x, y = (float(part.strip()) for part in parts)
    except ValueError:
        raise APIError(422, FOCUS_ERROR) from None
    if not (math.isfinite(x) and math.isfinite(y) and -1.0 <= x <= 1.0 and -1.0 <= y <= 1.0):
        raise APIError(422, FOCUS_ERROR)
    return x, y


def _description(params: dict[str, Any]) -> str | None:
    text = text_param(params, "description")
    if text is None:
        return None
    if len(text) > MAX_DESCRIPTION_LENGTH:
        raise APIError(
            422, f"Validation failed: Description is too long (maximum is {MAX_DESCRIPTION_LENGTH} characters)"
        )
    return text


def _file(files: dict[str, Upload], name: str) -> Upload | None:
    upload = files.get(name)
    if upload is None or (not upload.data and not upload.filename):
        return None
    return upload


SPOOL_CHUNK = 1024 * 1024


class _MappedBody:
    """A spooled request body, memory-mapped, with the few ``bytes`` methods that
    :func:`~fedisora.media.uploads.parse_multipart` uses (slices are copied out)."""

    def __init__(self, mapped: mmap.mmap) -> None:
        self.mapped = mapped

    def startswith(self, prefix: bytes) -> bool:
        return self.mapped[: len(prefix)] == prefix

    def find(self, sub: bytes, start: int = 0) -> int:
        return self.mapped.find(sub, start)

    def __getitem__(self, index: slice) -> bytes:
        return self.mapped[index]

    def __len__(self) -> int:
        return len(self.mapped)


def _parse_spooled(path: Path, content_type: str) -> Form:
    """Split the multipart body spooled at ``path`` (in a worker thread: a 100 MB body
    is searched without holding up the event loop, and held in memory only once)."""
    with open(path, "rb") as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            raise ValueError("empty multipart body")
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            return parse_multipart(content_type, _MappedBody(mapped))  # type: ignore[arg-type]


async def _read_spooled_form(request: Request, max_bytes: int, directory: Path) -> Form:
    """Like :func:`read_form` (413 past ``max_bytes``, 400 when malformed), but the body
    goes to a temporary file under ``directory`` first instead of piling up in memory."""
    length = request.headers.get("content-length")
    if length is not None and length.strip().isdigit() and int(length) > max_bytes:
        raise APIError(413, "Request body is too large")
    await anyio.to_thread.run_sync(lambda: directory.mkdir(parents=True, exist_ok=True))
    fd, name = tempfile.mkstemp(dir=directory, prefix=".body-")
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            size = 0
            pending = bytearray()
            async for chunk in request.stream():
                size += len(chunk)
                if size > max_bytes:
                    raise APIError(413, "Request body is too large")
                pending += chunk
                if len(pending) >= SPOOL_CHUNK:
                    await anyio.to_thread.run_sync(out.write, bytes(pending))
                    pending.clear()
            if pending:
                await anyio.to_thread.run_sync(out.write, bytes(pending))
        try:
            return await anyio.to_thread.run_sync(
                _parse_spooled, path, request.headers.get("content-type", "")
            )
        except (ValueError, UnicodeError, LookupError) as exc:
            raise APIError(400, "Error while parsing request body") from exc
    finally:
        await anyio.to_thread.run_sync(_discard, path)


async def _form(
    request: Request, max_bytes: int, *, spool_to: Path | None = None
) -> tuple[dict[str, Any], dict[str, Upload]]:
    """Fields and files of a multipart body; other bodies give their fields only."""
    mime = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if mime == "multipart/form-data":
        if spool_to is not None:
            form: Form = await _read_spooled_form(request, max_bytes, spool_to)
        else:
            form = await read_form(request, max_bytes=max_bytes)
        params: dict[str, Any] = {k: v for k, v in request.query_params.items()}
        params.update(checked_form(form.fields))
        return params, form.files
    return await request_params(request), {}


def _entity(request: Request, media: MediaAttachment) -> dict[str, Any]:
    return convert.media_attachment(_state(request).config, media)


def _json(data: Any, status_code: int) -> JSONResponse:
    return JSONResponse(data, status_code=status_code, headers=CORS)


# ---- thumbnails ----------------------------------------------------------------------------


@dataclass
class Thumbnail:
    """A custom thumbnail, checked, shrunk and stored, not yet on its row."""

    path: str
    blurhash: str | None
    size: tuple[int, int]

    def apply(self, media: MediaAttachment) -> None:
        media.thumbnail_path = self.path
        media.blurhash = self.blurhash
        meta = dict(media.meta or {})
        if (small := size_meta(*self.size)) is not None:
            meta["small"] = small
        media.meta = meta


async def _store_thumbnail(state: AppState, upload: Upload) -> Thumbnail:
    """Check, shrink and store a custom thumbnail (422 if it is not an image)."""
    from ...media import processing

    limit = state.config.media.max_image_bytes
    if len(upload.data) > limit:
        raise APIError(422, f"Validation failed: Thumbnail file size must be less than {_megabytes(limit)}")
    if not upload.data:
        raise APIError(422, "Validation failed: Thumbnail can't be blank")
    try:
        jpeg, size, blurhash = await anyio.to_thread.run_sync(processing.make_thumbnail, upload.data)
    except processing.MediaRejected as exc:
        raise APIError(422, f"Validation failed: Thumbnail {exc}") from None
    except Exception:  # a decoder choking on a hostile file is still bad input
        raise APIError(422, "Validation failed: Thumbnail content type is invalid") from None
    stored = await MediaStorage.from_config(state.config).store_bytes_async(jpeg, "jpg")
    return Thumbnail(stored.path, blurhash, (int(size[0]), int(size[1])))


# ---- upload ----------------------------------------------------------------------------------


def _stage(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as out:
        out.write(data)


def _kind_of(path: Path, data: bytes) -> str | None:
    """``"video"``, ``"gif"``, ``"image"`` or ``None``, from the file's own bytes."""
    from ...media import processing

    kind = processing.sniff(path)
    if kind == "image" and data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    return kind


async def _upload(request: Request) -> Response:
    auth = await authenticate(request, scope=SCOPE)
    me = _me(auth)
    state = _state(request)
    config = state.config
    limits = config.media
    params, files = await _form(
        request,
        max(limits.max_video_bytes, limits.max_image_bytes) + 2 * UPLOAD_MARGIN,
        spool_to=Path(config.media_dir) / jobs.UPLOADS_DIR,
    )
    upload = _file(files, "file")
    if upload is None or not upload.data:
        raise APIError(422, BLANK_FILE)
    description = _description(params)
    focus = parse_focus(text_param(params, "focus"))
    thumbnail = _file(files, "thumbnail")

    media = MediaAttachment(
        actor_id=me.id,
        state=MediaState.PROCESSING.value,
        description=description,
        focus_x=focus[0] if focus else None,
        focus_y=focus[1] if focus else None,
    )
    staged = jobs.staging_path(config, media.id)
    kept = False
    try:
        await anyio.to_thread.run_sync(_stage, staged, upload.data)
        try:
            kind = await anyio.to_thread.run_sync(_kind_of, staged, upload.data)
        except Exception:
            kind = None
        if kind is None:
            raise APIError(422, FILE_TYPE_ERROR)
        limit = limits.max_video_bytes if kind == "video" else limits.max_image_bytes
        if len(upload.data) > limit:
            raise APIError(422, f"Validation failed: File file size must be less than {_megabytes(limit)}")
        declared = upload.content_type.split(";", 1)[0].strip().lower()
        media.mime_type = declared if declared in DECLARED_TYPES else None
        media.media_type = {"video": MediaType.VIDEO, "gif": MediaType.GIFV}.get(kind, MediaType.IMAGE).value
        if thumbnail is not None:
            (await _store_thumbnail(state, thumbnail)).apply(media)
        if focus:
            media.meta = {**(media.meta or {}), "focus": {"x": focus[0], "y": focus[1]}}

        background = kind in ("video", "gif")
        async with state.sessions() as session:
            session.add(media)
            if background:
                await jobs.queue_processing(session, media.id)
            await session.commit()
            queue.nudge()  # a local runner starts on it now rather than at its next poll
        kept = True
    finally:
        if not kept:
            await anyio.to_thread.run_sync(_discard, staged)
            if media.thumbnail_path:
                await jobs.delete_unused(state.engine, config, {media.thumbnail_path})

    if background:
        return _json(await _reload(state, media.id), 202)

    # A still image: process it now (in a thread), as Mastodon does.
    try:
        outcome = await jobs.run_processing(state.engine, config, media.id)
    except Exception:
        log.exception("processing the image upload %s failed", media.id)
        outcome = MediaState.FAILED.value
    fresh = await _reload(state, media.id)
    if outcome != MediaState.READY.value:
        reason = (fresh or {}).get("fedisora", {}).get("error") or jobs.GENERIC_FAILURE
        await _delete_row(state, media.id)
        raise APIError(422, f"Validation failed: {reason}")
    return _json(fresh, 200)


def _discard(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


async def _reload(state: AppState, media_id: int) -> dict[str, Any] | None:
    async with state.sessions() as session:
        media = await session.get(MediaAttachment, media_id)
        return convert.media_attachment(state.config, media) if media is not None else None


async def _delete_row(state: AppState, media_id: int) -> None:
    """Forget an upload that failed synchronously (and its files, when unused)."""
    async with state.sessions() as session:
        media = await session.get(MediaAttachment, media_id)
        if media is None:
            return
        paths = {p for p in (media.file_path, media.thumbnail_path) if p}
        await session.delete(media)
        await session.commit()
    await jobs.delete_unused(state.engine, state.config, paths)


async def upload_v2(request: Request) -> Response:
    return await _upload(request)


async def upload_v1(request: Request) -> Response:
    return await _upload(request)


# ---- one attachment -------------------------------------------------------------------------


async def _own(session: Any, me: Actor, raw_id: str) -> MediaAttachment:
    media = await session.get(MediaAttachment, parse_id(raw_id))
    if media is None or media.actor_id != me.id:
        raise APIError(404, NOT_FOUND)
    return media


def _answer(request: Request, media: MediaAttachment) -> Response:
    if media.state == MediaState.FAILED.value:
        raise APIError(422, media.error or jobs.GENERIC_FAILURE)
    code = 206 if media.state == MediaState.PROCESSING.value else 200
    return _json(_entity(request, media), code)


async def get_media(request: Request) -> Response:
    auth = await authenticate(request, scope=SCOPE)
    me = _me(auth)
    state = _state(request)
    async with state.sessions() as session:
        media = await _own(session, me, request.path_params["id"])
        return _answer(request, media)


async def update_media(request: Request) -> Response:
    auth = await authenticate(request, scope=SCOPE)
    me = _me(auth)
    state = _state(request)
    media_id = parse_id(request.path_params["id"])
    params, files = await _form(request, state.config.media.max_image_bytes + UPLOAD_MARGIN)
    async with state.sessions() as session:
        media = await _own(session, me, str(media_id))
        if media.state == MediaState.FAILED.value:
            raise APIError(422, media.error or jobs.GENERIC_FAILURE)
    description = _description(params)
    focus = parse_focus(text_param(params, "focus"))
    upload = _file(files, "thumbnail")
    thumbnail = await _store_thumbnail(state, upload) if upload is not None else None

    try:
        async with state.sessions() as session:
            # The processing job may finish meanwhile (it locks the row too): lock, then read.
            await lock_row(session, MediaAttachment, media_id)
            media = await _own(session, me, str(media_id))
            if "description" in params:
                media.description = description or None
            if focus is not None:
                media.focus_x, media.focus_y = focus
                media.meta = {**(media.meta or {}), "focus": {"x": focus[0], "y": focus[1]}}
            replaced = media.thumbnail_path
            if thumbnail is not None:
                thumbnail.apply(media)
            session.add(media)
            await session.commit()
            await session.refresh(media)
    except BaseException:
        if thumbnail is not None:  # stored for a row that did not take it
            await jobs.delete_unused(state.engine, state.config, {thumbnail.path})
        raise
    if replaced and replaced != media.thumbnail_path:
        await jobs.delete_unused(state.engine, state.config, {replaced})
    return _answer(request, media)


routes: list[BaseRoute] = [
    endpoint("/api/v1/media", {"POST": upload_v1}),
    endpoint("/api/v2/media", {"POST": upload_v2}),
    endpoint("/api/v1/media/{id}", {"GET": get_media, "PUT": update_media}),
]
