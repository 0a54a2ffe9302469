"""The S3-compatible storage backend (AWS S3, MinIO, Garage, Ceph RGW, Cloudflare R2 …).

Objects are stored under the same content addresses as on disk
(``ab/cd/<sha256>.<ext>``), after ``[media] s3_prefix`` when one is set (a
bucket shared with other data), with their ``Content-Type`` and
``Cache-Control: public, max-age=31536000, immutable`` set, so a bucket (or a
CDN in front of it) can serve them to browsers directly.  An upload is atomic
by nature: an object is visible only once its PUT, or the last step of its
multipart upload, has completed.  Content is hashed before upload (the hash is
the key), so storing the same bytes twice uploads them once.

It uses boto3 (the ``s3`` extra: ``pip install 'fedisora[s3]'``), which is
blocking: async code calls the ``*_async`` methods of :class:`Storage`, which
run it in worker threads.  Requests are signed with SigV4 and use path-style
addressing (``<endpoint>/<bucket>/<key>``), which every S3-compatible server
understands.  Failures of the store raise :class:`StorageUnavailable`.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from instance_config import Config

from .storage import (
    CACHE_CONTROL,
    CHUNK_SIZE,
    STAGING,
    TEMP_PREFIX,
    ObjectInfo,
    Storage,
    StorageError,
    StorageUnavailable,
    StoredFile,
    _check_ext,
    _SHA_RE,
    content_type_for,
    etag_for,
    hash_file,
    is_safe_relative_path,
    relative_path,
)

try:
    import boto3
    import boto3.exceptions
    import botocore.config
    import botocore.exceptions
    from boto3.s3.transfer import TransferConfig
except ImportError as exc:  # pragma: no cover - depends on the installation
    raise StorageUnavailable(
        "[media] backend = 's3' needs boto3: install fedisora with the s3 extra "
        "(pip install 'fedisora[s3]')"
    ) from exc

__all__ = ["S3Storage"]

MULTIPART_THRESHOLD = 64 * 1024 * 1024
MULTIPART_CHUNK = 16 * 1024 * 1024
_MISSING = {"404", "NoSuchKey", "NotFound"}
_ERRORS = (
    botocore.exceptions.BotoCoreError,
    botocore.exceptions.ClientError,
    boto3.exceptions.Boto3Error,  # what the transfer manager raises for a failed upload
)


def _code(error: botocore.exceptions.ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class S3Storage(Storage):
    """Content-addressed storage in one bucket of an S3-compatible object store."""

    kind = "s3"

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str,
        region: str = "us-east-1",
        access_key: str = "",
        secret_key: str = "",
        public_url: str = "",
        prefix: str = "",
        staging_dir: Path,
        client: Any = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.endpoint_url = endpoint_url
        self.public_base = public_url.strip().rstrip("/") or None
        self.staging_dir = Path(staging_dir)
        if client is None:
            client = self._make_client(endpoint_url, region, access_key, secret_key)
        self.client = client
        self.transfer = TransferConfig(
            multipart_threshold=MULTIPART_THRESHOLD, multipart_chunksize=MULTIPART_CHUNK
        )

    @staticmethod
    def _make_client(endpoint_url: str, region: str, access_key: str, secret_key: str) -> Any:
        try:
            session = boto3.session.Session(
                aws_access_key_id=access_key or None,  # None: the usual AWS credential chain
                aws_secret_access_key=secret_key or None,
                region_name=region or None,
            )
            client = session.client(
                "s3",
                endpoint_url=endpoint_url or None,
                config=botocore.config.Config(
                    signature_version="s3v4",
                    s3={"addressing_style": "path"},
                    retries={"max_attempts": 4, "mode": "standard"},
                    connect_timeout=10,
                    read_timeout=60,
                    max_pool_connections=32,
                    # Newer boto3 adds CRC checksums to every upload by default, which
                    # several S3-compatible servers refuse; send them only when required.
                    request_checksum_calculation="when_required",
                    response_checksum_validation="when_required",
                ),
            )
        except (ValueError, botocore.exceptions.BotoCoreError) as exc:
            raise StorageUnavailable(f"bad [media] S3 settings ({endpoint_url!r}): {exc}") from exc
        return client

    @classmethod
    def for_config(cls, config: Config) -> S3Storage:
        media = config.media
        return cls(
            media.s3_bucket,
            endpoint_url=media.s3_endpoint,
            region=media.s3_region,
            access_key=media.s3_access_key,
            secret_key=media.s3_secret_key,
            public_url=media.s3_public_url,
            prefix=media.s3_prefix,
            staging_dir=config.media_dir / STAGING,
        )

    def __repr__(self) -> str:
        return f"S3Storage(bucket={self.bucket!r}, prefix={self.prefix!r}, endpoint={self.endpoint_url!r})"

    def _key(self, path: str) -> str:
        """The object key of a storage path (the path after the bucket's prefix)."""
        return self.prefix + path

    # ---- errors --------------------------------------------------------------------------

    def _failed(self, action: str, error: Exception) -> StorageUnavailable:
        if isinstance(error, botocore.exceptions.ClientError):
            reason = f"{_code(error)}: {error.response.get('Error', {}).get('Message', '')}".rstrip(": ")
        else:
            reason = str(error)
        return StorageUnavailable(
            f"S3 {action} failed (bucket {self.bucket!r} at {self.endpoint_url or 'AWS'}): {reason}"
        )

    # ---- writing -------------------------------------------------------------------------

    def _extra(self, key: str, sha: str) -> dict[str, Any]:
        return {
            "ContentType": content_type_for(key),
            "CacheControl": CACHE_CONTROL,
            "Metadata": {"sha256": sha},
        }

    def store_bytes(self, data: bytes, ext: str) -> StoredFile:
        ext = _check_ext(ext)
        sha = hashlib.sha256(data).hexdigest()
        key = relative_path(sha, ext)
        if self._size_of(key) != len(data):
            md5 = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
            try:
                self.client.put_object(
                    Bucket=self.bucket, Key=self._key(key), Body=data, ContentMD5=md5, **self._extra(key, sha)
                )
            except _ERRORS as exc:
                raise self._failed("upload", exc) from exc
        return StoredFile(key, None, sha, len(data))

    def store_file(self, source: Path, ext: str, *, chunk_size: int = 1024 * 1024) -> StoredFile:
        """Hash ``source``, then upload it (in parts when large) unless already stored."""
        ext = _check_ext(ext)
        sha, size = hash_file(source, chunk_size)
        key = relative_path(sha, ext)
        if self._size_of(key) != size:
            try:
                self.client.upload_file(
                    str(source), self.bucket, self._key(key), ExtraArgs=self._extra(key, sha), Config=self.transfer
                )
            except _ERRORS as exc:
                raise self._failed("upload", exc) from exc
        return StoredFile(key, None, sha, size)

    def copy_in(self, path: str, source: Path) -> None:
        """Upload the local file ``source`` as ``path`` (moving a media directory to S3).
        A content-addressed name must match the content: :class:`StorageError` otherwise."""
        if not is_safe_relative_path(path):
            raise StorageError(f"not a storable path: {path!r}")
        sha, _ = hash_file(source)
        stem = Path(path).stem
        if _SHA_RE.match(stem) and stem != sha:
            raise StorageError(f"{path}: its content does not match its name (damaged file?)")
        try:
            self.client.upload_file(
                str(source), self.bucket, self._key(path), ExtraArgs=self._extra(path, sha), Config=self.transfer
            )
        except _ERRORS as exc:
            raise self._failed("upload", exc) from exc

    def store_chunks(self, chunks: Iterable[bytes], ext: str) -> StoredFile:
        """Spool ``chunks`` to a temporary file under the staging directory (the key is
        known only at the end), then upload that."""
        ext = _check_ext(ext)
        self.staging_dir.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(dir=self.staging_dir, prefix=TEMP_PREFIX)
        temp = Path(temp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
            return self.store_file(temp, ext)
        finally:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()

    def delete(self, path: str) -> bool:
        if self._size_of(path) is None:
            return False
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(path))
        except _ERRORS as exc:
            raise self._failed("delete", exc) from exc
        return True

    # ---- reading -------------------------------------------------------------------------

    def _head(self, key: str) -> dict[str, Any] | None:
        if not is_safe_relative_path(key):
            return None
        try:
            return dict(self.client.head_object(Bucket=self.bucket, Key=self._key(key)))
        except botocore.exceptions.ClientError as exc:
            if _code(exc) in _MISSING:
                return None
            raise self._failed("HEAD", exc) from exc
        except botocore.exceptions.BotoCoreError as exc:
            raise self._failed("HEAD", exc) from exc

    def _size_of(self, key: str) -> int | None:
        head = self._head(key)
        return None if head is None else int(head["ContentLength"])

    def stat(self, path: str) -> ObjectInfo | None:
        head = self._head(path)
        if head is None:
            return None
        fallback = str(head.get("ETag", "")).strip('"') or "0"
        modified = head["LastModified"].timestamp()
        return ObjectInfo(path, int(head["ContentLength"]), modified, etag_for(path, fallback))

    def iter_range(
        self, path: str, start: int = 0, end: int | None = None, *, chunk_size: int = CHUNK_SIZE
    ) -> Iterator[bytes]:
        if not is_safe_relative_path(path):
            raise FileNotFoundError(path)
        start = max(start, 0)
        if end is not None and end <= start:
            return iter(())
        wanted = f"bytes={start}-" if end is None else f"bytes={start}-{end - 1}"
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self._key(path), Range=wanted)
        except botocore.exceptions.ClientError as exc:
            if _code(exc) in _MISSING:
                raise FileNotFoundError(path) from None
            if _code(exc) == "InvalidRange":  # starts at or past the end
                return iter(())
            raise self._failed("GET", exc) from exc
        except botocore.exceptions.BotoCoreError as exc:
            raise self._failed("GET", exc) from exc
        return self._stream(response["Body"], chunk_size)

    def _stream(self, body: Any, chunk_size: int) -> Iterator[bytes]:
        try:
            for chunk in body.iter_chunks(chunk_size):
                if chunk:
                    yield chunk
        except (botocore.exceptions.BotoCoreError, OSError) as exc:
            raise self._failed("GET", exc) from exc
        finally:
            body.close()

    @contextlib.contextmanager
    def local_copy(self, path: str) -> Iterator[Path]:
        if self._head(path) is None:
            raise FileNotFoundError(path)
        self.staging_dir.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(
            dir=self.staging_dir, prefix=TEMP_PREFIX, suffix=Path(path).suffix
        )
        os.close(fd)
        temp = Path(temp_name)
        try:
            try:
                self.client.download_file(self.bucket, self._key(path), str(temp), Config=self.transfer)
            except _ERRORS as exc:
                raise self._failed("download", exc) from exc
            yield temp
        finally:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()

    def public_url(self, path: str) -> str | None:
        return None if self.public_base is None else f"{self.public_base}/{self._key(path)}"

    def paths(self) -> Iterator[str]:
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix)
            for page in pages:
                for item in page.get("Contents", []):
                    path = item["Key"][len(self.prefix) :]
                    if item["Key"].startswith(self.prefix) and is_safe_relative_path(path):
                        yield path
        except _ERRORS as exc:
            raise self._failed("listing", exc) from exc

    def check(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except _ERRORS as exc:
            raise self._failed("bucket check", exc) from exc
