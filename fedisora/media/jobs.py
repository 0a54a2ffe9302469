"""Processing uploaded media in the background, and forgetting uploads nobody posted.

An upload (``POST /api/v2/media``) writes the raw file to the staging area
``<media_dir>/.uploads/<media id>`` (a dot directory: never served), creates a
``processing`` :class:`MediaAttachment` row and queues a ``process_media`` job.
The job (:func:`process_media`) runs :func:`fedisora.media.processing.process_file`
in a worker thread -- a video never blocks the event loop -- while a small task
copies its progress to the row about once a second.  The result and its
thumbnail go to the content-addressed storage, the row becomes ``ready`` and the
staging file is removed.  A file the processor refuses
(:class:`~fedisora.media.processing.MediaRejected`) makes the row ``failed``
with the reason, without retrying; any other error is retried by the queue, and
when the last attempt fails the row is marked ``failed`` too.

:func:`cleanup_unattached` (run by the hourly maintenance job) deletes local
media that were never attached to a post within ``[media] unattached_hours``,
with their files -- unless another row (or an avatar or header) uses the same
content-addressed file.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import functools
import shutil
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import anyio.to_thread
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from instance_config import Config

from ..db.engine import make_sessionmaker
from ..db.locking import lock_row
from ..db.models import Actor, MediaAttachment, MediaState, utcnow
from ..jobs import queue
from ..jobs.runner import JobContext
from ..attestations.vocabulary import AI_SOURCE_TYPES
from .sniff import sniff_file
from .storage import MediaStorage

__all__ = [
    "PROCESS_MEDIA",
    "MAX_ATTEMPTS",
    "UPLOADS_DIR",
    "staging_path",
    "work_dir",
    "queue_processing",
    "process_media",
    "run_processing",
    "cleanup_unattached",
    "focus_meta",
    "delete_unused",
    "delete_unused_quietly",
]

log = logging.getLogger(__name__)

PROCESS_MEDIA = "process_media"
MAX_ATTEMPTS = 5
UPLOADS_DIR = ".uploads"
PROGRESS_INTERVAL = 1.0  # seconds between progress writes
GENERIC_FAILURE = "Error processing uploaded media"
LOST_UPLOAD = "The uploaded file is gone; upload it again"
CLEANUP_BATCH = 200


def staging_path(config: Config, media_id: int) -> Path:
    """Where the raw upload of ``media_id`` waits for processing (never served)."""
    return Path(config.media_dir) / UPLOADS_DIR / str(media_id)


def work_dir(config: Config, media_id: int) -> Path:
    """Scratch directory of one processing run."""
    return Path(config.media_dir) / UPLOADS_DIR / f"{media_id}.work"


def focus_meta(media: MediaAttachment) -> dict[str, float] | None:
    if media.focus_x is None or media.focus_y is None:
        return None
    return {"x": media.focus_x, "y": media.focus_y}


async def queue_processing(target: queue.Target, media_id: int) -> None:
    """Queue the ``process_media`` job for ``media_id`` (once, however often it is called)."""
    await queue.enqueue(
        target,
        PROCESS_MEDIA,
        {"media_id": str(media_id)},
        priority=5,
        max_attempts=MAX_ATTEMPTS,
        dedupe_key=f"{PROCESS_MEDIA}:{media_id}",
    )


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink()


async def _remove_async(*paths: Path) -> None:
    for path in paths:
        await anyio.to_thread.run_sync(_remove, path)


async def _set_fields(engine: AsyncEngine, media_id: int, **values: Any) -> bool:
    table = MediaAttachment.__table__  # type: ignore[attr-defined]
    async with engine.begin() as conn:
        result = await conn.execute(
            sa.update(table).where(table.c.id == media_id).values(updated_at=utcnow(), **values)
        )
    return bool(result.rowcount)


async def _mark_failed(engine: AsyncEngine, media_id: int, reason: str) -> None:
    table = MediaAttachment.__table__  # type: ignore[attr-defined]
    async with engine.begin() as conn:
        await conn.execute(
            sa.update(table)
            .where(table.c.id == media_id, table.c.state == MediaState.PROCESSING.value)
            .values(state=MediaState.FAILED.value, error=reason[:2000], progress=0.0, updated_at=utcnow())
        )


async def _referenced(session: AsyncSession, path: str) -> bool:
    """Whether any media row, avatar or header uses the stored ``path``."""
    query = select(MediaAttachment.id).where(
        sa.or_(col(MediaAttachment.file_path) == path, col(MediaAttachment.thumbnail_path) == path)
    )
    if (await session.exec(query.limit(1))).first() is not None:
        return True
    pattern = "%/" + path  # the content address, whatever the base URL (S3 public URLs too)
    used = await session.exec(
        select(Actor.id)
        .where(sa.or_(col(Actor.icon_url).like(pattern), col(Actor.header_url).like(pattern)))
        .limit(1)
    )
    return used.first() is not None


async def delete_unused(engine: AsyncEngine, config: Config, paths: set[str]) -> int:
    """Delete each stored file of ``paths`` that nothing references any more."""
    storage = MediaStorage.from_config(config)
    deleted = 0
    sessions = make_sessionmaker(engine)
    async with sessions() as session:
        for path in sorted(paths):
            if not await _referenced(session, path):
                deleted += int(await storage.delete_async(path))
    return deleted


async def delete_unused_quietly(engine: AsyncEngine, config: Config, paths: set[str]) -> None:
    """:func:`delete_unused` when cleaning up after a failure: an error (the store or the
    database being down, likely the very failure being handled) is logged, not raised,
    so it never hides the original one."""
    try:
        await delete_unused(engine, config, paths)
    except Exception:
        log.warning("could not delete unused media files %s", sorted(paths), exc_info=True)


async def run_processing(engine: AsyncEngine, config: Config, media_id: int, *, final_attempt: bool = True) -> str:
    """Process the staged upload of ``media_id`` now; returns the row's new state.

    Used by the job handler and by the synchronous upload paths (small images).
    :class:`~fedisora.media.processing.MediaRejected` marks the row failed; other
    errors (in processing or in storing the result) propagate, after marking the
    row failed when ``final_attempt``.
    """
    from . import processing  # the processor pulls in PyAV/Pillow: load it only when needed

    sessions = make_sessionmaker(engine)
    async with sessions() as session:
        media = await session.get(MediaAttachment, media_id)
        if media is None:
            await _remove_async(staging_path(config, media_id), work_dir(config, media_id))
            return "gone"
        if media.state != MediaState.PROCESSING.value:
            return media.state
        # What the client said it sent ("video/…" or "image/…"), as the processor's hint.
        mime = (media.mime_type or "").lower()
        declared = "video" if mime.startswith("video/") else "image" if mime.startswith("image/") else None
        focus = focus_meta(media)

    source = staging_path(config, media_id)
    if not source.is_file():
        await _mark_failed(engine, media_id, LOST_UPLOAD)
        return MediaState.FAILED.value
    workdir = work_dir(config, media_id)
    await _remove_async(workdir)
    workdir.mkdir(parents=True, exist_ok=True)

    latest: list[float | None] = [None]
    stop = threading.Event()

    def progress(fraction: float) -> None:  # called from the processing thread: just note it
        if stop.is_set():
            raise Interrupted(f"processing of media {media_id} stopped: the job was cancelled")
        try:
            latest[0] = min(1.0, max(0.0, float(fraction)))
        except (TypeError, ValueError):
            pass

    async def write_progress() -> None:
        written: float | None = None
        while True:
            await asyncio.sleep(PROGRESS_INTERVAL)
            value = latest[0]
            if value is not None and value != written:
                try:
                    await _set_fields(engine, media_id, progress=min(value, 0.99))
                    written = value
                except Exception:  # progress is cosmetic; never fail the job for it
                    log.debug("could not store progress of media %s", media_id, exc_info=True)

    limits = processing.MediaLimits.from_config(config.media)
    reporter = asyncio.create_task(write_progress())
    try:
        try:
            result, credentials = await _interruptible(
                stop, _process_blocking, processing, source, workdir, limits, declared, progress, config
            )
        finally:
            reporter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reporter
    except asyncio.CancelledError:  # shutting down: the upload stays staged for the next worker
        await _remove_async(workdir)
        raise
    except processing.MediaRejected as exc:
        reason = str(exc) or "The file could not be processed"
        await _mark_failed(engine, media_id, reason)
        await _remove_async(source, workdir)
        log.info("media %s refused: %s", media_id, reason)
        return MediaState.FAILED.value
    except Exception:
        if final_attempt:
            await _mark_failed(engine, media_id, GENERIC_FAILURE)
            await _remove_async(source, workdir)
        else:
            await _remove_async(workdir)
        raise

    try:
        await _store_result(engine, config, media_id, result, focus=focus, credentials=credentials)
    except Exception:  # the store or the database failed (it removed what it had stored)
        if final_attempt:
            await _mark_failed(engine, media_id, GENERIC_FAILURE)
            await _remove_async(source)
        raise
    finally:
        await _remove_async(workdir)
    await _remove_async(source)
    return MediaState.READY.value


class Interrupted(BaseException):
    """Raised inside the processing thread, at its next progress report, once the job is
    cancelled (a worker shutting down).  A ``BaseException``, so that no ``except
    Exception`` of the media code turns it into a refusal of the file."""


async def _interruptible(stop: threading.Event, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` in a worker thread.  Cancelling the caller sets ``stop`` (which the
    thread's progress callback turns into :class:`Interrupted`) and waits for the thread to
    end before the cancellation goes on, so nothing writes into a work directory being
    removed, and a shutdown waits for one progress tick rather than the whole transcode."""
    future = asyncio.get_running_loop().run_in_executor(None, functools.partial(fn, *args))
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        stop.set()
        with contextlib.suppress(BaseException):
            await future
        raise


def _process_blocking(
    processing: Any, source: Path, workdir: Path, limits: Any, declared: str | None,
    progress: Callable[..., None], config: Config,
) -> tuple[Any, Any]:
    """Process the upload, then carry its C2PA content credentials (if any) over to the
    result: kept as they are when the file is unchanged, re-signed with the upload as
    parent ingredient when it was transcoded or remuxed and we have a signer (loaded
    here, in the worker thread: it reads and checks certificate files)."""
    from . import c2pa

    result = processing.process_file(source, workdir, limits, declared_type=declared, progress=progress)
    signer = _c2pa_signer(config)
    try:
        credentials = c2pa.carry_credentials(
            source,
            (sniff_file(source) or ("application/octet-stream", ""))[0],
            Path(result.path),
            result.mime_type,
            transcoded=result.transcoded,
            remuxed=result.remuxed,
            dst=workdir / f"signed.{result.ext}",
            signer=signer,
        )
    except Exception:  # content credentials never cost a user their upload
        log.warning("could not read or carry the C2PA manifest of %s", source, exc_info=True)
        return result, None
    result.path = credentials.path
    return result, credentials


def _c2pa_signer(config: Config) -> Any:
    """The instance's C2PA signer, or None (no certificate, or a broken one: logged)."""
    from . import c2pa

    try:
        return c2pa.load_signer(config)
    except Exception as exc:
        log.warning("C2PA signing is off: %s", exc)
        return None


def _provenance_fields(credentials: Any) -> dict[str, Any]:
    """``c2pa`` and ``digital_source_type`` for the row from what the upload's manifest said."""
    summary = getattr(credentials, "summary", None)
    if summary is None:
        return {}
    source = summary.digital_source_type
    if summary.ai_generated and source not in AI_SOURCE_TYPES:
        source = "trainedAlgorithmicMedia"  # some manifest in the chain declares generation
    info = summary.to_json()
    info["resigned"] = bool(credentials.resigned)
    info["lost"] = bool(credentials.lost)
    return {"c2pa": info, "digital_source_type": source}


async def _store_result(
    engine: AsyncEngine, config: Config, media_id: int, result: Any, *, focus: dict[str, float] | None,
    credentials: Any = None,
) -> None:
    """Store the processed file and its thumbnail, and make the row ``ready``.  A custom
    thumbnail the uploader gave (before or during processing) is kept.  When this fails
    (the store or the database), the files it stored and nothing uses are deleted again."""
    storage = MediaStorage.from_config(config)
    stored_paths: set[str] = set()
    try:
        stored = await storage.store_file_async(Path(result.path), result.ext)
        stored_paths.add(stored.path)
        thumb_path: str | None = None
        if result.thumbnail:
            thumb_path = (await storage.store_bytes_async(result.thumbnail, "jpg")).path
            stored_paths.add(thumb_path)
        media = await _make_ready(engine, media_id, result, stored, thumb_path, focus, credentials)
    except Exception:
        if stored_paths:
            await delete_unused_quietly(engine, config, stored_paths)
        raise
    if media is None:
        # Deleted (or finished elsewhere) meanwhile: do not leave our files behind.
        await delete_unused(engine, config, stored_paths)
    elif thumb_path and media.thumbnail_path != thumb_path:
        await delete_unused(engine, config, {thumb_path})


async def _make_ready(
    engine: AsyncEngine, media_id: int, result: Any, stored: Any, thumb_path: str | None,
    focus: dict[str, float] | None, credentials: Any,
) -> MediaAttachment | None:
    """Put the stored result on the row, still ``processing``, and make it ``ready``; the
    row, or ``None`` when it is gone or no longer processing."""
    sessions = make_sessionmaker(engine)
    async with sessions() as session:
        # The owner may change the thumbnail, focus or description meanwhile
        # (PUT /api/v1/media/:id, which locks the row too): lock, then read.
        await lock_row(session, MediaAttachment, media_id)
        media = await session.get(MediaAttachment, media_id, populate_existing=True)
        if media is None or media.state != MediaState.PROCESSING.value:
            media = None
        else:
            custom = media.thumbnail_path is not None
            meta = dict(result.meta or {})  # the processor's, "small" included
            old_small = (media.meta or {}).get("small")
            if custom and isinstance(old_small, dict):
                meta["small"] = old_small
            focus = focus_meta(media) or focus
            if focus is not None:
                meta["focus"] = focus
            media.state = MediaState.READY.value
            media.media_type = result.media_type
            media.mime_type = result.mime_type
            media.file_path = stored.path
            media.size_bytes = stored.size
            media.sha256 = stored.sha256
            media.meta = meta
            media.progress = 1.0
            media.error = None
            for key, value in _provenance_fields(credentials).items():
                setattr(media, key, value)
            if not custom:
                media.thumbnail_path = thumb_path
                media.blurhash = result.blurhash
            session.add(media)
            await session.commit()
    return media


async def process_media(ctx: JobContext, *, config: Config) -> None:
    """The ``process_media`` job: payload ``{"media_id": "<id>"}``."""
    raw = ctx.payload.get("media_id")
    try:
        media_id = int(str(raw))
    except ValueError:
        log.warning("process_media job %s without a usable media id: %r", ctx.job.id, raw)
        return
    final = ctx.job.attempts >= ctx.job.max_attempts
    await run_processing(ctx.engine, config, media_id, final_attempt=final)
    await ctx.progress(1.0)


async def cleanup_unattached(
    engine: AsyncEngine, config: Config, older_than: timedelta | None = None
) -> int:
    """Delete local media never attached to a post, created more than ``older_than``
    (default ``[media] unattached_hours``) ago, with their files and staging leftovers.
    A stored file is kept while another row, avatar or header uses it.  Returns how
    many rows went."""
    if older_than is None:
        older_than = timedelta(hours=config.media.unattached_hours)
    cutoff = utcnow() - older_than
    sessions = make_sessionmaker(engine)
    total = 0
    while True:
        async with sessions() as session:
            rows = (
                await session.exec(
                    select(MediaAttachment)
                    .where(
                        col(MediaAttachment.status_id).is_(None),
                        col(MediaAttachment.remote_url).is_(None),
                        col(MediaAttachment.created_at) < cutoff,
                    )
                    .order_by(col(MediaAttachment.id))
                    .limit(CLEANUP_BATCH)
                )
            ).all()
            if not rows:
                break
            ids = [row.id for row in rows]
            paths = {p for row in rows for p in (row.file_path, row.thumbnail_path) if p}
            table = MediaAttachment.__table__  # type: ignore[attr-defined]
            # Only rows still unattached: a post may have taken one since we looked.
            conn = await session.connection()
            deleted = await conn.execute(
                sa.delete(table)
                .where(table.c.id.in_(ids), table.c.status_id.is_(None))
                .returning(table.c.id)
            )
            gone = {row[0] for row in deleted.all()}
            await session.commit()
        await delete_unused(engine, config, paths)
        for media_id in gone:
            await _remove_async(staging_path(config, media_id), work_dir(config, media_id))
        total += len(gone)
        if len(rows) < CLEANUP_BATCH:
            break
    await _sweep_staging(engine, config, cutoff)
    if total:
        log.info("removed %d unattached media", total)
    return total


def _stale_staging(directory: Path, cutoff: datetime) -> list[Path]:
    """Entries of the staging directory last changed before ``cutoff``."""
    if not directory.is_dir():
        return []
    stale = []
    for entry in directory.iterdir():
        try:
            changed = datetime.fromtimestamp(entry.lstat().st_mtime, tz=timezone.utc)
        except OSError:
            continue
        if changed < cutoff:
            stale.append(entry)
    return stale


async def _sweep_staging(engine: AsyncEngine, config: Config, cutoff: datetime) -> None:
    """Remove what a crash left in the staging directory: request bodies being spooled
    and uploads (or scratch directories) whose media row no longer exists."""
    directory = Path(config.media_dir) / UPLOADS_DIR
    stale = await anyio.to_thread.run_sync(_stale_staging, directory, cutoff)
    if not stale:
        return
    by_id: dict[int, list[Path]] = {}
    for entry in stale:
        stem = entry.name.removesuffix(".work")
        if stem.isdigit():
            by_id.setdefault(int(stem), []).append(entry)
        else:
            await _remove_async(entry)  # a spooled body or temporary file
    if not by_id:
        return
    sessions = make_sessionmaker(engine)
    async with sessions() as session:
        known = set(
            (await session.exec(select(MediaAttachment.id).where(col(MediaAttachment.id).in_(list(by_id))))).all()
        )
    for media_id, entries in by_id.items():
        if media_id not in known:
            await _remove_async(*entries)
