"""Content-addressed local file storage under ``config.media_dir``.

A file is stored once, at ``ab/cd/<sha256>.<ext>`` where ``abcd…`` is the
SHA-256 of its bytes, so the same content always lands at the same path and
a stored file never changes (the ``/media`` route may cache it forever).

Writes are atomic: the bytes go to a temporary file in the target directory
(``.tmp-…``, never served), which is flushed, fsynced and then moved into
place with :func:`os.replace`; the directory is fsynced too.  Concurrent
writers of the same content each write their own temporary file and the last
rename wins, with identical bytes.  A reader therefore sees either no file or
the whole file.

The functions here do blocking disk I/O; async code calls the ``*_async``
variants, which run them in a worker thread.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import anyio.to_thread

from instance_config import Config

__all__ = [
    "MediaStorage",
    "StoredFile",
    "StorageError",
    "relative_path",
    "is_safe_relative_path",
]

_EXT_RE = re.compile(r"^[a-z0-9]{1,10}$")
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
# One path segment that may be served: no leading dot (so no "..", no ".tmp-" files).
_SEGMENT_RE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$")
MAX_DEPTH = 8
FILE_MODE = 0o644
TEMP_PREFIX = ".tmp-"


class StorageError(ValueError):
    """A bad extension or path given to the storage."""


@dataclass(frozen=True)
class StoredFile:
    """A stored file: ``path`` is relative to the media dir (``ab/cd/<sha>.<ext>``)."""

    path: str
    absolute: Path
    sha256: str
    size: int


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


class MediaStorage:
    """Stores and finds files under ``root`` (the instance's media directory)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()

    @classmethod
    def from_config(cls, config: Config) -> MediaStorage:
        return cls(config.media_dir)

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
        staging = self.root / ".staging"
        staging.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(dir=staging, prefix=TEMP_PREFIX)
        temp = Path(temp_name)
        digest = hashlib.sha256()
        size = 0

        def hashed() -> Iterable[bytes]:
            nonlocal size
            for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                yield chunk

        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in hashed():
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

        def chunks() -> Iterable[bytes]:
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

    async def store_bytes_async(self, data: bytes, ext: str) -> StoredFile:
        return await anyio.to_thread.run_sync(self.store_bytes, data, ext)

    async def store_file_async(self, source: Path, ext: str) -> StoredFile:
        return await anyio.to_thread.run_sync(self.store_file, source, ext)

    async def delete_async(self, path: str) -> bool:
        return await anyio.to_thread.run_sync(self.delete, path)

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

    def url_path(self, stored: StoredFile) -> str:
        """The path part of the public URL (``/media/ab/cd/….png``)."""
        return f"/media/{stored.path}"
