"""Media storage behind one small interface: the local disk, or an S3-compatible store.

Every backend stores a file once, under the same content address
``ab/cd/<sha256>.<ext>`` where ``abcd…`` is the SHA-256 of its bytes, so the
same content always lands at the same path and a stored file never changes
(it may be cached forever).  :func:`open_storage` picks the backend named by
``[media] backend``; :class:`Storage` is what the rest of the app uses.

The local backend (:class:`LocalStorage`, also known by its old name
:class:`MediaStorage`) keeps files under ``config.media_dir``.  Writes are
atomic: the bytes go to a temporary file in the target directory (``.tmp-…``,
never served), which is flushed, fsynced and then moved into place with
:func:`os.replace`; the directory is fsynced too.  Concurrent writers of the
same content each write their own temporary file and the last rename wins,
with identical bytes.  A reader therefore sees either no file or the whole
file.  The S3 backend lives in :mod:`fedisora.media.s3` (an upload is atomic
there by nature: an object appears only once its PUT or multipart upload
completes).

The methods do blocking I/O; async code calls the ``*_async`` variants, which
run them in a worker thread.  See docs/STORAGE.md for operators.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import tempfile
import threading
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import anyio
import anyio.to_thread

from instance_config import Config

__all__ = [
    "CACHE_CONTROL",
    "CONTENT_TYPES",
    "LocalStorage",
    "MediaStorage",
    "ObjectInfo",
    "Storage",
    "StorageError",
    "StorageUnavailable",
    "StoredFile",
    "content_type_for",
    "is_safe_relative_path",
    "open_storage",
    "public_base_url",
    "relative_path",
]

_EXT_RE = re.compile(r"^[a-z0-9]{1,10}$")
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
# One path segment that may be served: no leading dot (so no "..", no ".tmp-" files).
_SEGMENT_RE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$")
MAX_DEPTH = 8
FILE_MODE = 0o644
TEMP_PREFIX = ".tmp-"
STAGING = ".staging"
CHUNK_SIZE = 256 * 1024

#: Stored files never change: caches may keep them for a year without asking again.
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


def content_type_for(path: str | Path) -> str:
    """The Content-Type a stored file is served with, from its extension."""
    ext = Path(path).suffix.lower().lstrip(".")
    return CONTENT_TYPES.get(ext, "application/octet-stream")


class StorageError(ValueError):
    """A bad extension or path given to the storage."""


class StorageUnavailable(OSError):
    """The storage backend failed (object store unreachable, refused, misconfigured)."""


@dataclass(frozen=True)
class StoredFile:
    """A stored file: ``path`` is its content address (``ab/cd/<sha>.<ext>``), relative to
    the media dir or the bucket; ``absolute`` is the file on this machine's disk for the
    local backend and ``None`` for an object store."""

    path: str
    absolute: Path | None
    sha256: str
    size: int


@dataclass(frozen=True)
class ObjectInfo:
    """What serving a stored file needs to know about it."""

    path: str
    size: int
    modified: float  # POSIX timestamp
    etag: str  # strong and quoted; the SHA-256 for content-addressed names


def _check_ext(ext: str) -> str:
    ext = ext.lower().lstrip(".")
    if not _EXT_RE.match(ext):
        raise StorageError(f"not a usable file extension: {ext!r}")
    return ext


def relative_path(sha256: str, ext: str) -> str:
    """``ab/cd/<sha256>.<ext>`` for a hex SHA-256."""
    if not _SHA_RE.match(sha256):
        raise StorageError("not a hex SHA-256")
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}.{_check_ext(ext)}"


def is_safe_relative_path(path: str) -> bool:
    """Whether ``path`` is a plain relative path of servable segments (no ``..``, no dot
    files, no empty segments, no backslashes or control characters)."""
    if not path or len(path) > 1000:
        return False
    parts = path.split("/")
    return len(parts) <= MAX_DEPTH and all(_SEGMENT_RE.match(p) for p in parts)


def etag_for(path: str, fallback: str) -> str:
    """The strong ETag of a stored file: its SHA-256 when its name is one."""
    stem = Path(path).stem
    return f'"{stem}"' if _SHA_RE.match(stem) else f'"{fallback}"'


def _fsync_dir(directory: Path) -> None:
    """Make a rename durable (not possible on every platform; best effort)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def hash_file(source: Path, chunk_size: int = 1024 * 1024) -> tuple[str, int]:
    """SHA-256 (hex) and size of the file at ``source``."""
    digest = hashlib.sha256()
    size = 0
    with open(source, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def public_base_url(config: Config) -> str | None:
    """Where browsers fetch media from when not through ``/media``: the ``s3_public_url``
    of an S3 backend followed by its ``s3_prefix`` (no trailing slash), else ``None``.
    A stored path's URL is ``<this>/<path>``, as :meth:`S3Storage.public_url
    <fedisora.media.s3.S3Storage.public_url>` gives it."""
    media = config.media
    if media.backend == "s3" and media.s3_public_url.strip():
        prefix = media.s3_prefix.strip("/")
        base = media.s3_public_url.strip().rstrip("/")
        return f"{base}/{prefix}" if prefix else base
    return None


class Storage(ABC):
    """Content-addressed media storage.  Paths are content addresses (``ab/cd/<sha>.<ext>``);
    reading methods accept any relative path and treat an unsafe one as missing."""

    kind: ClassVar[str]

    @classmethod
    def from_config(cls, config: Config) -> Storage:
        """The instance's storage, whichever backend it is configured with."""
        return open_storage(config)

    # ---- the backend's operations ----------------------------------------------------------

    @abstractmethod
    def store_bytes(self, data: bytes, ext: str) -> StoredFile:
        """Store ``data`` (idempotent: the same bytes give the same path)."""

    @abstractmethod
    def store_chunks(self, chunks: Iterable[bytes], ext: str) -> StoredFile:
        """Store the concatenation of ``chunks`` (for files too big to hold in memory)."""

    @abstractmethod
    def store_file(self, source: Path, ext: str, *, chunk_size: int = 1024 * 1024) -> StoredFile:
        """Store a copy of the file at ``source`` (``source`` is left as is)."""

    @abstractmethod
    def delete(self, path: str) -> bool:
        """Remove the stored file at ``path``; False when there was none."""

    @abstractmethod
    def stat(self, path: str) -> ObjectInfo | None:
        """Size, modification time and ETag of the stored file, or ``None`` when missing."""

    @abstractmethod
    def iter_range(
        self, path: str, start: int = 0, end: int | None = None, *, chunk_size: int = CHUNK_SIZE
    ) -> Iterator[bytes]:
        """The bytes ``[start, end)`` of the stored file (``end=None``: to its end), in
        chunks; clipped to the file.  :class:`FileNotFoundError` when it is missing.
        Close the iterator when stopping early."""

    @abstractmethod
    def local_copy(self, path: str) -> contextlib.AbstractContextManager[Path]:
        """A context giving the stored file as a file on this machine's disk, for tools
        that need one (video probing, transcoding): the stored file itself for the local
        backend (do not modify it), a temporary download removed afterwards otherwise."""

    @abstractmethod
    def public_url(self, path: str) -> str | None:
        """The URL browsers may fetch the file from directly, or ``None`` (then ``/media``
        serves it)."""

    @abstractmethod
    def paths(self) -> Iterator[str]:
        """Every stored path (for migrations and housekeeping)."""

    @abstractmethod
    def check(self) -> None:
        """Raise :class:`StorageUnavailable` with a clear reason when the backend cannot be
        written to or read from."""

    # ---- built on those ----------------------------------------------------------------------

    def exists(self, path: str) -> bool:
        return self.stat(path) is not None

    def size(self, path: str) -> int | None:
        info = self.stat(path)
        return None if info is None else info.size

    def read_bytes(self, path: str, start: int = 0, end: int | None = None) -> bytes:
        """The bytes ``[start, end)`` of the stored file (for small files and tests)."""
        iterator = self.iter_range(path, start, end)
        try:
            return b"".join(iterator)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    def url_path(self, stored: StoredFile) -> str:
        """The path part of the instance's own URL for it (``/media/ab/cd/….png``)."""
        return f"/media/{stored.path}"

    # ---- async variants (the blocking work runs in a worker thread) ------------------------

    async def store_bytes_async(self, data: bytes, ext: str) -> StoredFile:
        return await anyio.to_thread.run_sync(self.store_bytes, data, ext)

    async def store_file_async(self, source: Path, ext: str) -> StoredFile:
        return await anyio.to_thread.run_sync(self.store_file, source, ext)

    async def delete_async(self, path: str) -> bool:
        return await anyio.to_thread.run_sync(self.delete, path)

    async def exists_async(self, path: str) -> bool:
        return await anyio.to_thread.run_sync(self.exists, path)

    async def stat_async(self, path: str) -> ObjectInfo | None:
        return await anyio.to_thread.run_sync(self.stat, path)

    async def read_bytes_async(self, path: str, start: int = 0, end: int | None = None) -> bytes:
        return await anyio.to_thread.run_sync(self.read_bytes, path, start, end)

    async def open_range_async(
        self, path: str, start: int = 0, end: int | None = None, *, chunk_size: int = CHUNK_SIZE
    ) -> AsyncIterator[bytes]:
        """Start reading ``[start, end)`` now (so a missing file or a failing store raises
        here, before anything is sent) and return the chunks as an async iterator; use it
        with :func:`contextlib.aclosing` so an early stop closes the file or connection."""
        iterator = await anyio.to_thread.run_sync(
            functools.partial(self.iter_range, path, start, end, chunk_size=chunk_size)
        )
        return iterate_in_thread(iterator)

    async def iter_range_async(
        self, path: str, start: int = 0, end: int | None = None, *, chunk_size: int = CHUNK_SIZE
    ) -> AsyncIterator[bytes]:
        """:meth:`iter_range` for async code (see :meth:`open_range_async`)."""
        chunks = await self.open_range_async(path, start, end, chunk_size=chunk_size)
        async with contextlib.aclosing(chunks):
            async for chunk in chunks:
                yield chunk


async def iterate_in_thread(iterator: Iterator[bytes]) -> AsyncIterator[bytes]:
    """Each ``next(iterator)`` in a worker thread; the iterator is closed at the end."""
    try:
        while True:
            chunk = await anyio.to_thread.run_sync(next, iterator, None)
            if chunk is None:
                return
            yield chunk
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(close)


class LocalStorage(Storage):
    """Stores and finds files under ``root`` (the instance's media directory)."""

    kind = "local"

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()

    # ---- writing -------------------------------------------------------------------------

    def store_bytes(self, data: bytes, ext: str) -> StoredFile:
        """Store ``data`` (idempotent: the same bytes give the same path).  The temporary
        file is made in the target's own directory."""
        ext = _check_ext(ext)
        sha = hashlib.sha256(data).hexdigest()
        rel = relative_path(sha, ext)
        target = self.root / rel
        if not self._already_stored(target, len(data)):
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=TEMP_PREFIX)
            self._write_and_place(fd, Path(temp_name), [data], target)
        return StoredFile(rel, target, sha, len(data))

    def store_chunks(self, chunks: Iterable[bytes], ext: str) -> StoredFile:
        """Store the concatenation of ``chunks`` (for files too big to hold in memory).

        The address is known only at the end, so the bytes go to a temporary file in
        ``<root>/.staging`` (same file system, never served) while being hashed."""
        ext = _check_ext(ext)
        staging = self.root / STAGING
        staging.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(dir=staging, prefix=TEMP_PREFIX)
        temp = Path(temp_name)
        digest = hashlib.sha256()
        size = 0
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            sha = digest.hexdigest()
            rel = relative_path(sha, ext)
            target = self.root / rel
            if self._already_stored(target, size):
                temp.unlink()
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.chmod(temp, FILE_MODE)
                os.replace(temp, target)
                _fsync_dir(target.parent)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
            raise
        return StoredFile(rel, target, sha, size)

    def store_file(self, source: Path, ext: str, *, chunk_size: int = 1024 * 1024) -> StoredFile:
        """Store a copy of the file at ``source`` (read in chunks; ``source`` is left as is)."""

        def chunks() -> Iterator[bytes]:
            with open(source, "rb") as handle:
                while chunk := handle.read(chunk_size):
                    yield chunk

        return self.store_chunks(chunks(), ext)

    def delete(self, path: str) -> bool:
        """Remove the stored file at the relative ``path``; False when there was none."""
        target = self.resolve(path)
        if target is None:
            return False
        with contextlib.suppress(FileNotFoundError):
            target.unlink()
            return True
        return False

    @staticmethod
    def _write_and_place(fd: int, temp: Path, chunks: Iterable[bytes], target: Path) -> None:
        """Write, flush and fsync ``temp`` (open as ``fd``), then rename it onto ``target``."""
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temp, FILE_MODE)
            os.replace(temp, target)  # atomic: same directory
            _fsync_dir(target.parent)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
            raise

    @staticmethod
    def _already_stored(target: Path, size: int) -> bool:
        try:
            return target.is_file() and target.stat().st_size == size
        except OSError:
            return False

    # ---- reading -------------------------------------------------------------------------

    def resolve(self, path: str) -> Path | None:
        """The regular file stored at the relative ``path``, or ``None`` (unsafe path,
        missing, not a regular file, or a link leading outside the media dir)."""
        if not is_safe_relative_path(path):
            return None
        try:
            candidate = (self.root / path).resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        if not candidate.is_relative_to(self.root) or not candidate.is_file():
            return None
        return candidate

    def exists(self, path: str) -> bool:
        return self.resolve(path) is not None

    def stat(self, path: str) -> ObjectInfo | None:
        found = self.resolve(path)
        if found is None:
            return None
        try:
            result = found.stat()
        except OSError:
            return None
        fallback = f"{int(result.st_mtime):x}-{result.st_size:x}"
        return ObjectInfo(path, result.st_size, result.st_mtime, etag_for(path, fallback))

    def iter_range(
        self, path: str, start: int = 0, end: int | None = None, *, chunk_size: int = CHUNK_SIZE
    ) -> Iterator[bytes]:
        found = self.resolve(path)
        if found is None:
            raise FileNotFoundError(path)
        return self._read(found, max(start, 0), end, chunk_size)

    @staticmethod
    def _read(found: Path, start: int, end: int | None, chunk_size: int) -> Iterator[bytes]:
        with open(found, "rb") as handle:
            handle.seek(start)
            left = None if end is None else max(end - start, 0)
            while left is None or left > 0:
                chunk = handle.read(chunk_size if left is None else min(chunk_size, left))
                if not chunk:
                    return
                if left is not None:
                    left -= len(chunk)
                yield chunk

    @contextlib.contextmanager
    def local_copy(self, path: str) -> Iterator[Path]:
        found = self.resolve(path)
        if found is None:
            raise FileNotFoundError(path)
        yield found

    def public_url(self, path: str) -> str | None:
        return None

    def paths(self) -> Iterator[str]:
        if not self.root.is_dir():
            return
        for directory, dirnames, filenames in os.walk(self.root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            base = Path(directory).relative_to(self.root)
            for name in sorted(filenames):
                rel = (base / name).as_posix()
                if is_safe_relative_path(rel) and self.resolve(rel) is not None:
                    yield rel

    def check(self) -> None:
        try:
            staging = self.root / STAGING
            staging.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=staging, prefix=TEMP_PREFIX) as probe:
                probe.write(b"fedisora storage check")
                probe.flush()
        except OSError as exc:
            raise StorageUnavailable(f"cannot write to the media directory {self.root}: {exc}") from exc


#: The local backend's old name; ``MediaStorage(root)`` and ``MediaStorage.from_config``
#: keep working (the latter returns whichever backend the configuration names).
MediaStorage = LocalStorage


def _settings_key(config: Config) -> tuple[object, ...]:
    m = config.media
    return (
        m.backend, str(config.media_dir), m.s3_endpoint, m.s3_bucket, m.s3_region,
        m.s3_access_key, m.s3_secret_key, m.s3_public_url, m.s3_prefix,
    )  # fmt: skip


def open_storage(config: Config) -> Storage:
    """The storage ``[media] backend`` names.  Instances are shared between calls with the
    same settings (an S3 client is costly to make and safe to share between threads)."""
    key = _settings_key(config)
    with _OPEN_LOCK:
        storage = _OPEN.get(key)
        if storage is None:
            if config.media.backend == "s3":
                from .s3 import S3Storage  # needs the `s3` extra

                storage = S3Storage.for_config(config)
            else:
                storage = LocalStorage(config.media_dir)
            while len(_OPEN) >= _OPEN_MAX:
                _OPEN.pop(next(iter(_OPEN)))
            _OPEN[key] = storage
    return storage


_OPEN: dict[tuple[object, ...], Storage] = {}
_OPEN_LOCK = threading.Lock()
_OPEN_MAX = 16
