"""Local copies of remote media: fetch, check, store, expire, fetch again.

Remote posts keep their media as ``remote_url`` (and ``thumbnail_remote_url``);
the client API shows the remote URL until we hold a copy.  The
``cache_remote_media`` job (queued when a remote post is stored) copies the
file:

- through the app's guarded :class:`~activitypub.client.FederationClient`
  (SSRF guard on every hop, redirect limit, a total deadline, unsigned GET);
- at most ``[media] max_remote_bytes``, and at most what is left of the origin
  domain's ``remote_domain_quota_bytes`` (the sum of ``size_bytes`` of the
  copies we hold for that ``remote_domain``, the domain of the posting actor);
- only when its first bytes are those of a media file (MP4/QuickTime,
  WebM/Matroska, Ogg, MP3, WAV, or a PNG/JPEG/GIF/WebP/AVIF image);
- into the content-addressed :class:`~fedisora.media.storage.Storage` (any backend),
  setting ``file_path``, ``size_bytes``, ``sha256``, ``cached_at``.

The thumbnail is copied the same way (an image, at most ``max_image_bytes``);
a thumbnail that cannot be fetched or is refused never fails the video (a
store that fails does: the files stored so far are deleted again, unless used).  A failure never touches the
status: the row keeps its ``remote_url`` and records why in ``error``
(``"temporary: …"`` for timeouts, connection errors and 5xx, which the job
tries again with back-off, :data:`CACHE_ATTEMPTS` tries in all; anything else is final).

Expiry (:func:`expire_remote_media`, run by the hourly maintenance job) drops
copies older than ``remote_cache_days``: ``file_path``/``thumbnail_path`` are
cleared (the API falls back to the remote URLs) and the files are deleted
unless another row still points at the same content.  ``cached_at`` stays, so
the row is known as *expired*.  When such a status is shown again by the
client API, :func:`request_copies` queues a new fetch (also for rows whose last
try failed temporarily, at most once per :data:`RETRY_TEMPORARY_AFTER`).

``[media] remote_cache = false`` turns all of this off: jobs do nothing and
media stay remote-URL-only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import anyio.to_thread
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub.client import FetchError
from instance_config import Config

from ..db.models import Actor, MediaAttachment, utcnow
from ..jobs import queue
from ..jobs.runner import RetryLater
from .jobs import delete_unused, delete_unused_quietly
from .sniff import sniff_media
from .storage import Storage

if TYPE_CHECKING:
    from ..jobs.runner import JobContext
    from ..state import AppState

__all__ = [
    "CACHE_REMOTE_MEDIA",
    "RETRY_TEMPORARY_AFTER",
    "cache_remote_media",
    "cache_media",
    "enqueue_cache",
    "expire_remote_media",
    "needs_copy",
    "request_copies",
    "sniff_media",
    "wait_for_requests",
]

log = logging.getLogger(__name__)

CACHE_REMOTE_MEDIA = "cache_remote_media"
TEMPORARY = "temporary: "
# A temporary failure (timeout, 5xx, 429…) is tried again by the job itself, with
# the queue's back-off (about 30 s, 1 min, 2 min); after that, a view of the status asks again.
CACHE_ATTEMPTS = 4
RETRY_TEMPORARY_AFTER = timedelta(hours=1)
MIN_FETCH_SECONDS = 120.0  # a whole video may take longer than one JSON fetch
SNIFF_BYTES = 64 * 1024
EXPIRE_BATCH = 500

def _host(url: str | None) -> str | None:
    try:
        host = urlsplit(url or "").hostname
    except ValueError:
        return None
    return host.lower() if host else None


def needs_copy(config: Config, media: MediaAttachment, now: datetime | None = None) -> bool:
    """Whether showing ``media`` should queue a fetch: a remote row without a local
    copy whose copy expired, or whose last try failed temporarily long enough ago."""
    if not config.media.remote_cache or not media.remote_url or media.file_path:
        return False
    if media.error:
        if not media.error.startswith(TEMPORARY):
            return False
        changed = media.updated_at
        if changed is not None and changed.tzinfo is None:
            changed = changed.replace(tzinfo=(now or utcnow()).tzinfo)
        return changed is None or changed <= (now or utcnow()) - RETRY_TEMPORARY_AFTER
    return media.cached_at is not None  # had a copy: it expired


async def enqueue_cache(target: queue.Target, media_id: int) -> None:
    """Queue the copy of one remote media (at most one pending job per media)."""
    await queue.enqueue(
        target,
        CACHE_REMOTE_MEDIA,
        {"media_id": media_id},
        max_attempts=CACHE_ATTEMPTS,
        dedupe_key=f"{CACHE_REMOTE_MEDIA}:{media_id}",
    )


_requests: set[asyncio.Task[None]] = set()


async def _enqueue_all(engine: AsyncEngine, ids: list[int]) -> None:
    try:
        for media_id in ids:
            await enqueue_cache(engine, media_id)
    except Exception:  # pragma: no cover - a busy database: the next view asks again
        log.warning("could not queue remote media re-fetch for %s", ids, exc_info=True)


def request_copies(session: AsyncSession, config: Config, media: Iterable[MediaAttachment]) -> None:
    """Queue fetches for shown media that lost (or never got) their copy; see :func:`needs_copy`.

    Called while a status is converted for the client API.  The jobs are queued
    in a task of their own, on the engine, so a read-only request (which never
    commits) still queues them and a writing one is not blocked by it.
    """
    now = utcnow()
    ids = [m.id for m in media if needs_copy(config, m, now)]
    engine = session.bind
    if not ids or not isinstance(engine, AsyncEngine):
        return
    task = asyncio.get_running_loop().create_task(_enqueue_all(engine, ids))
    _requests.add(task)
    task.add_done_callback(_requests.discard)


async def wait_for_requests() -> None:
    """Until the re-fetch requests made so far are queued (tests, shutdown)."""
    while _requests:
        await asyncio.gather(*list(_requests), return_exceptions=True)


# ---- fetching ----------------------------------------------------------------------------


class _Refused(Exception):
    """The file will not be cached; ``reason`` goes to ``MediaAttachment.error``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _classify(exc: FetchError) -> str:
    status = exc.status
    if (status is None and "too large" not in exc.reason and "unsafe" not in exc.reason) or (
        status is not None and (status >= 500 or status in (408, 429))
    ):
        return f"{TEMPORARY}{exc.reason}"
    return exc.reason


def fetch_timeout(config: Config) -> float:
    """The total deadline for fetching one remote file."""
    return max(config.federation.request_timeout, MIN_FETCH_SECONDS)


async def _download(state: AppState, url: str, max_bytes: int, *, image_only: bool) -> tuple[Path, str, str, int]:
    """Fetch ``url`` into a temporary file; ``(path, mime, ext, size)`` or :class:`_Refused`."""
    staging = Path(state.config.media_dir) / ".staging"
    await anyio.to_thread.run_sync(lambda: staging.mkdir(parents=True, exist_ok=True))
    fd, name = tempfile.mkstemp(dir=staging, prefix=".tmp-remote-")
    path = Path(name)
    try:
        timeout = fetch_timeout(state.config)
        with os.fdopen(fd, "wb") as out:
            try:
                fetched = await state.client.fetch_file(url, out, max_bytes=max_bytes, timeout=timeout)
            except FetchError as exc:
                raise _Refused(_classify(exc)) from None
        if fetched.size == 0:
            raise _Refused("empty file")
        with open(path, "rb") as handle:
            head = handle.read(SNIFF_BYTES)
        kind = sniff_media(head)
        if kind is None or (image_only and not kind[0].startswith("image/")):
            raise _Refused("not a media file" if not image_only else "not an image")
        return path, kind[0], kind[1], fetched.size
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        raise


async def _store(state: AppState, path: Path, ext: str) -> Any:
    storage = Storage.from_config(state.config)
    try:
        return await storage.store_file_async(path, ext)
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


async def _domain_usage(session: AsyncSession, domain: str, except_id: int) -> int:
    query = select(sa.func.coalesce(sa.func.sum(MediaAttachment.size_bytes), 0)).where(
        MediaAttachment.remote_domain == domain,
        MediaAttachment.file_path.is_not(None),  # type: ignore[union-attr]
        MediaAttachment.remote_url.is_not(None),  # type: ignore[union-attr]
        MediaAttachment.id != except_id,
    )
    return int((await session.exec(query)).one())


async def _record(state: AppState, media_id: int, **values: Any) -> None:
    async with state.sessions() as session:
        media = await session.get(MediaAttachment, media_id)
        if media is None:
            return
        for key, value in values.items():
            setattr(media, key, value)
        media.updated_at = utcnow()
        await session.commit()


async def cache_media(state: AppState, media_id: int) -> str:
    """Copy one remote media (and its thumbnail) locally; returns what happened
    (``"cached"``, ``"disabled"``, ``"skipped"`` or the refusal reason)."""
    config = state.config
    if not config.media.remote_cache:
        return "disabled"
    async with state.sessions() as session:
        media = await session.get(MediaAttachment, media_id)
        if media is None or not media.remote_url:
            return "skipped"
        storage = Storage.from_config(config)
        if media.file_path and await storage.exists_async(media.file_path):
            return "skipped"
        domain = media.remote_domain
        if not domain:
            actor = await session.get(Actor, media.actor_id)
            domain = (actor.domain if actor is not None else None) or _host(media.remote_url) or ""
        used = await _domain_usage(session, domain, media.id)
        url, thumbnail_url = media.remote_url, media.thumbnail_remote_url
    quota_left = config.media.remote_domain_quota_bytes - used
    limit = min(config.media.max_remote_bytes, quota_left)
    if limit <= 0:
        await _record(state, media_id, error=f"{domain}: over its remote media quota", remote_domain=domain)
        return "over quota"
    try:
        path, mime, ext, size = await _download(state, url, limit, image_only=False)
    except _Refused as refused:
        reason = refused.reason
        if "too large" in reason and limit < config.media.max_remote_bytes:
            reason = f"{domain}: over its remote media quota ({reason})"
        await _record(state, media_id, error=reason[:1000], remote_domain=domain)
        log.info("remote media %s not cached: %s", media_id, reason)
        return reason
    stored = await _store(state, path, ext)
    thumbnail_path = None
    if thumbnail_url:
        thumb_limit = min(config.media.max_image_bytes, config.media.max_remote_bytes)
        try:
            tpath, _, text, _ = await _download(state, thumbnail_url, thumb_limit, image_only=True)
            thumbnail_path = (await _store(state, tpath, text)).path
        except _Refused as refused:
            log.info("thumbnail of remote media %s not cached: %s", media_id, refused.reason)
        except Exception:  # the store failed: do not leave the file just stored behind
            await delete_unused_quietly(state.engine, config, {stored.path})
            raise
    values: dict[str, Any] = {
        "file_path": stored.path,
        "size_bytes": size,
        "sha256": stored.sha256,
        "cached_at": utcnow(),
        "remote_domain": domain,
        "error": None,
    }
    if thumbnail_path:
        values["thumbnail_path"] = thumbnail_path
    ours = {stored.path, *([thumbnail_path] if thumbnail_path else [])}
    try:
        async with state.sessions() as session:
            media = await session.get(MediaAttachment, media_id)
            if media is not None:
                if not media.mime_type:
                    media.mime_type = mime
                for key, value in values.items():
                    setattr(media, key, value)
                media.updated_at = utcnow()
                await session.commit()
    except Exception:
        await delete_unused_quietly(state.engine, config, ours)
        raise
    if media is None:  # deleted meanwhile: nothing uses what we stored
        await delete_unused(state.engine, config, ours)
        return "skipped"
    return "cached"


async def cache_remote_media(ctx: JobContext, *, state: AppState) -> None:
    """The ``cache_remote_media`` job: ``{"media_id": N}``.  A file that cannot be copied
    is recorded on the row, which keeps its remote URL; a temporary failure is retried
    (:data:`CACHE_ATTEMPTS` tries in all) before the job ends."""
    media_id = ctx.payload.get("media_id")
    if not isinstance(media_id, int):
        return
    outcome = await cache_media(state, media_id)
    if outcome.startswith(TEMPORARY) and ctx.job.attempts < ctx.job.max_attempts:
        raise RetryLater(queue.backoff_delay(ctx.job.attempts), outcome)


# ---- expiry ------------------------------------------------------------------------------


async def expire_remote_media(engine: AsyncEngine, config: Config, *, now: datetime | None = None) -> int:
    """Drop local copies of remote media made more than ``remote_cache_days`` ago
    (all of them when ``remote_cache`` is off); returns how many rows lost their copy.

    Rows keep ``remote_url`` and ``cached_at``; a file is deleted only when no
    other row (media, or an actor's avatar/header) still uses it.
    """
    now = now or utcnow()
    cutoff = now - timedelta(days=config.media.remote_cache_days)
    expired = 0
    dropped: set[str] = set()
    last_id = 0
    while True:
        async with AsyncSession(engine, expire_on_commit=False) as session:
            query = (
                select(MediaAttachment)
                .where(
                    MediaAttachment.id > last_id,
                    MediaAttachment.remote_url.is_not(None),  # type: ignore[union-attr]
                    MediaAttachment.file_path.is_not(None),  # type: ignore[union-attr]
                    MediaAttachment.cached_at.is_not(None),  # type: ignore[union-attr]
                )
                .order_by(MediaAttachment.id)  # type: ignore[arg-type]
                .limit(EXPIRE_BATCH)
            )
            if config.media.remote_cache:  # off: every copy goes
                query = query.where(MediaAttachment.cached_at < cutoff)  # type: ignore[operator]
            rows = list((await session.exec(query)).all())
            paths: set[str] = set()
            for media in rows:
                last_id = media.id
                paths.add(media.file_path or "")
                media.file_path = None
                if media.thumbnail_path and media.thumbnail_remote_url:
                    paths.add(media.thumbnail_path)
                    media.thumbnail_path = None
                media.updated_at = now
                expired += 1
            await session.commit()
            dropped |= {p for p in paths if p}
        if len(rows) < EXPIRE_BATCH:
            break
    deleted = await delete_unused(engine, config, dropped)  # unless something else uses them
    if expired:
        log.info("expired %d remote media copies, deleted %d files", expired, deleted)
    return expired
