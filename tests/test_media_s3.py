"""The S3 storage backend against a real S3-compatible HTTP server (moto's server, started
on a free loopback port), and the ``/media`` route and ``fedisora media`` commands with it."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.config
import httpx
import pytest

from fedisora.app import create_app
from fedisora.cli import main as cli
from fedisora.convert.common import media_url
from fedisora.media.s3 import S3Storage
from fedisora.media.storage import (
    LocalStorage,
    MediaStorage,
    StorageError,
    StorageUnavailable,
    open_storage,
    relative_path,
)
from instance_config import Config, ConfigError, parse_config, render_config
from instance_config.template import set_value
from tests.asgi import app_client

BASE = "https://video.example.org"
DATA = bytes(range(256)) * 4  # 1024 bytes, each position recognisable
KEYS = {"s3_access_key": "test-access", "s3_secret_key": "test-secret"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3-compatible server in its own process (so its threads and warnings stay
    out of the test process)."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{endpoint}/moto-api/", timeout=2, trust_env=False).status_code < 500:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the S3 test server did not start")
            time.sleep(0.2)
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=10)


def make_config(tmp_path: Path, **media: Any) -> Config:
    text = render_config("video.example.org", database_url=f"sqlite+aiosqlite:///{tmp_path}/unused.db")
    for key, value in media.items():
        text = set_value(text, "media", key, value)
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "instance.toml"
    path.write_text(text)
    return parse_config(path.read_text(), path=path, env={})


def s3_config(
    tmp_path: Path, endpoint: str, *, public_url: str = "", create: bool = True, **media: Any
) -> Config:
    bucket = f"media-{uuid.uuid4().hex[:12]}"
    config = make_config(
        tmp_path, backend="s3", s3_endpoint=endpoint, s3_bucket=bucket, s3_public_url=public_url, **KEYS, **media
    )
    if create:
        storage = open_storage(config)
        assert isinstance(storage, S3Storage)
        storage.client.create_bucket(Bucket=bucket)
    return config


@pytest.fixture
def storage(tmp_path: Path, s3_endpoint: str) -> S3Storage:
    store = open_storage(s3_config(tmp_path, s3_endpoint))
    assert isinstance(store, S3Storage)
    return store


def staged(store: S3Storage) -> list[Path]:
    return list(store.staging_dir.glob("*")) if store.staging_dir.exists() else []


# ---- the backend -----------------------------------------------------------------------------


def test_open_storage_picks_the_backend(tmp_path: Path, s3_endpoint: str) -> None:
    config = s3_config(tmp_path, s3_endpoint, create=False)
    store = open_storage(config)
    assert isinstance(store, S3Storage) and store.kind == "s3"
    assert store.bucket == config.media.s3_bucket
    assert open_storage(config) is store  # one client per settings
    assert MediaStorage.from_config(config) is store  # the old entry point follows the config
    local = open_storage(make_config(tmp_path / "other"))
    assert isinstance(local, LocalStorage) and local.kind == "local"


def test_store_read_and_delete(storage: S3Storage) -> None:
    stored = storage.store_bytes(DATA, ".MP4")
    sha = hashlib.sha256(DATA).hexdigest()
    assert stored.path == relative_path(sha, "mp4") == f"{sha[:2]}/{sha[2:4]}/{sha}.mp4"
    assert (stored.sha256, stored.size, stored.absolute) == (sha, len(DATA), None)
    assert storage.exists(stored.path) and storage.size(stored.path) == len(DATA)

    head = storage.client.head_object(Bucket=storage.bucket, Key=stored.path)
    assert head["ContentType"] == "video/mp4"
    assert head["CacheControl"] == "public, max-age=31536000, immutable"
    assert head["Metadata"] == {"sha256": sha}

    info = storage.stat(stored.path)
    assert info is not None and info.size == len(DATA) and info.etag == f'"{sha}"'
    assert abs(info.modified - time.time()) < 300

    assert storage.read_bytes(stored.path) == DATA
    assert storage.read_bytes(stored.path, 10, 20) == DATA[10:20]
    assert storage.read_bytes(stored.path, 1000) == DATA[1000:]
    assert storage.read_bytes(stored.path, 1000, 5000) == DATA[1000:]  # clipped to the file
    assert storage.read_bytes(stored.path, 2000) == b""
    assert storage.read_bytes(stored.path, 5, 5) == b""
    assert b"".join(storage.iter_range(stored.path, 0, None, chunk_size=100)) == DATA

    assert storage.store_bytes(DATA, "mp4") == stored  # idempotent
    assert storage.delete(stored.path) is True
    assert not storage.exists(stored.path) and storage.stat(stored.path) is None
    assert storage.delete(stored.path) is False
    with pytest.raises(FileNotFoundError):
        storage.read_bytes(stored.path)
    for unsafe in ("../x", ".staging/x", "", "a//b"):
        assert not storage.exists(unsafe)
        with pytest.raises(FileNotFoundError):
            storage.read_bytes(unsafe)


def test_a_key_prefix_keeps_media_in_their_own_folder_of_a_shared_bucket(tmp_path: Path, s3_endpoint: str) -> None:
    config = s3_config(tmp_path, s3_endpoint, public_url="https://cdn.example.net", s3_prefix="/sites/video/")
    assert config.media.s3_prefix == "sites/video/"
    store = open_storage(config)
    assert isinstance(store, S3Storage)
    store.client.put_object(Bucket=store.bucket, Key="backups/db.sql", Body=b"not ours")
    store.client.put_object(Bucket=store.bucket, Key="ab/cd/other.mp4", Body=b"not ours either")

    stored = store.store_bytes(DATA, "mp4")
    streamed = store.store_chunks([b"second ", b"file"], "webm")
    sha = hashlib.sha256(DATA).hexdigest()
    assert stored.path == relative_path(sha, "mp4")  # what rows keep: no prefix
    head = store.client.head_object(Bucket=store.bucket, Key=f"sites/video/{stored.path}")
    assert head["ContentLength"] == len(DATA)
    assert store.read_bytes(stored.path, 0, 10) == DATA[:10] and store.size(streamed.path) == 11
    with store.local_copy(stored.path) as copy:
        assert copy.read_bytes() == DATA
    assert store.public_url(stored.path) == f"https://cdn.example.net/sites/video/{stored.path}"
    assert media_url(config, stored.path) == store.public_url(stored.path)  # the URLs handed out
    assert sorted(store.paths()) == sorted([stored.path, streamed.path])  # only ours
    assert not store.exists("ab/cd/other.mp4")
    assert store.delete(stored.path) and not store.exists(stored.path)
    assert store.client.head_object(Bucket=store.bucket, Key="backups/db.sql")["ContentLength"] == 8

    for bad in ("../up", "a/../b", "spaces here", "a//b"):
        with pytest.raises(ConfigError, match="s3_prefix"):
            make_config(tmp_path / "bad", s3_prefix=bad)


def test_streamed_and_file_stores_match(storage: S3Storage, tmp_path: Path) -> None:
    data = os.urandom(300_000)
    streamed = storage.store_chunks((data[i : i + 65536] for i in range(0, len(data), 65536)), "webm")
    assert streamed == storage.store_bytes(data, "webm")
    source = tmp_path / "upload.bin"
    source.write_bytes(data)
    assert storage.store_file(source, "webm") == streamed
    assert source.read_bytes() == data  # the source is left as is
    assert storage.read_bytes(streamed.path) == data
    assert staged(storage) == []
    assert list(storage.paths()) == [streamed.path]


def test_large_files_go_up_in_parts(storage: S3Storage, tmp_path: Path) -> None:
    from boto3.s3.transfer import TransferConfig

    storage.transfer = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024)
    data = os.urandom(11 * 1024 * 1024 + 123)
    source = tmp_path / "big.mp4"
    source.write_bytes(data)
    stored = storage.store_file(source, "mp4")
    head = storage.client.head_object(Bucket=storage.bucket, Key=stored.path)
    assert head["ETag"].strip('"').endswith("-3")  # three parts, put together on completion
    assert head["ContentType"] == "video/mp4"
    assert head["CacheControl"] == "public, max-age=31536000, immutable"
    assert stored.size == len(data) and storage.read_bytes(stored.path) == data
    assert storage.read_bytes(stored.path, 5 * 1024 * 1024 - 10, 5 * 1024 * 1024 + 10) == data[
        5 * 1024 * 1024 - 10 : 5 * 1024 * 1024 + 10
    ]
    with storage.local_copy(stored.path) as copy:
        assert copy.suffix == ".mp4" and copy.read_bytes() == data
    assert not copy.exists()
    assert staged(storage) == []


def test_failed_upload_leaves_nothing(storage: S3Storage) -> None:
    def broken() -> Iterator[bytes]:
        yield b"some bytes"
        raise OSError("disk on fire")

    with pytest.raises(OSError, match="disk on fire"):
        storage.store_chunks(broken(), "mp4")
    assert list(storage.paths()) == []
    assert staged(storage) == []
    with pytest.raises(StorageError):
        storage.store_bytes(b"x", "p/ng")


def test_missing_bucket_and_unreachable_store(tmp_path: Path, s3_endpoint: str) -> None:
    missing = open_storage(s3_config(tmp_path, s3_endpoint, create=False))
    with pytest.raises(StorageUnavailable, match="bucket check failed .*bucket 'media-"):
        missing.check()
    with pytest.raises(StorageUnavailable, match="upload failed"):
        missing.store_bytes(DATA, "png")

    dead = f"http://127.0.0.1:{free_port()}"
    client = boto3.session.Session(
        aws_access_key_id="a", aws_secret_access_key="b", region_name="us-east-1"
    ).client(
        "s3",
        endpoint_url=dead,
        config=botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=2),
    )
    down = S3Storage("media", endpoint_url=dead, staging_dir=tmp_path / "staging", client=client)
    with pytest.raises(StorageUnavailable, match=f"at {dead}"):
        down.check()
    with pytest.raises(StorageUnavailable):
        down.exists(relative_path("0" * 64, "png"))


# ---- the /media route ------------------------------------------------------------------------


@pytest.fixture
async def proxied(tmp_path: Path, s3_endpoint: str) -> AsyncIterator[tuple[httpx.AsyncClient, S3Storage, Config]]:
    config = s3_config(tmp_path, s3_endpoint)
    store = open_storage(config)
    assert isinstance(store, S3Storage)
    app = create_app(config, run_workers=False, check_database=False)
    async with app_client(app, base_url=BASE) as client:
        yield client, store, config


async def test_media_redirects_to_the_public_url(tmp_path: Path, s3_endpoint: str) -> None:
    config = s3_config(tmp_path, s3_endpoint, public_url="https://cdn.example.net/media/")
    store = open_storage(config)
    stored = await store.store_bytes_async(DATA, "mp4")
    assert store.public_url(stored.path) == f"https://cdn.example.net/media/{stored.path}"
    assert media_url(config, stored.path) == f"https://cdn.example.net/media/{stored.path}"
    app = create_app(config, run_workers=False, check_database=False)
    async with app_client(app, base_url=BASE) as client:
        response = await client.get(f"/media/{stored.path}", headers={"Range": "bytes=0-9"})
        assert response.status_code == 302
        assert response.headers["location"] == f"https://cdn.example.net/media/{stored.path}"
        assert response.headers["cache-control"] == "public, max-age=3600"
        for unsafe in ("/media/%2e%2e/instance.toml", "/media/.staging/x"):
            assert (await client.get(unsafe)).status_code == 404


async def test_media_streams_through_without_a_public_url(
    proxied: tuple[httpx.AsyncClient, S3Storage, Config],
) -> None:
    client, store, config = proxied
    stored = await store.store_bytes_async(DATA, "mp4")
    url = f"/media/{stored.path}"
    size = len(DATA)
    assert media_url(config, stored.path) == f"{BASE}/media/{stored.path}"

    whole = await client.get(url)
    assert whole.status_code == 200 and whole.content == DATA
    assert whole.headers["content-type"] == "video/mp4"
    assert whole.headers["content-length"] == str(size)
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert whole.headers["etag"] == f'"{stored.sha256}"'
    assert whole.headers["x-content-type-options"] == "nosniff"
    last_modified = whole.headers["last-modified"]

    first = await client.get(url, headers={"Range": "bytes=0-9"})
    assert first.status_code == 206 and first.content == DATA[:10]
    assert first.headers["content-range"] == f"bytes 0-9/{size}"
    assert first.headers["content-length"] == "10"
    assert first.headers["content-type"] == "video/mp4"

    open_ended = await client.get(url, headers={"Range": "bytes=1000-"})
    assert open_ended.status_code == 206 and open_ended.content == DATA[1000:]
    assert open_ended.headers["content-range"] == f"bytes 1000-{size - 1}/{size}"

    suffix = await client.get(url, headers={"Range": "bytes=-24"})
    assert suffix.status_code == 206 and suffix.content == DATA[-24:]
    assert suffix.headers["content-range"] == f"bytes {size - 24}-{size - 1}/{size}"

    for unsatisfiable in (f"bytes={size}-", f"bytes={size + 10}-{size + 20}"):
        answer = await client.get(url, headers={"Range": unsatisfiable})
        assert answer.status_code == 416 and answer.headers["content-range"] == f"bytes */{size}"

    several = await client.get(url, headers={"Range": "bytes=0-1, 10-11"})
    assert several.status_code == 206
    content_type = several.headers["content-type"]
    assert content_type.startswith("multipart/byteranges; boundary=")
    boundary = content_type.split("boundary=")[1]
    assert several.headers["content-length"] == str(len(several.content))
    assert several.content == (
        f"--{boundary}\r\nContent-Type: video/mp4\r\nContent-Range: bytes 0-1/{size}\r\n\r\n".encode()
        + DATA[0:2]
        + f"\r\n--{boundary}\r\nContent-Type: video/mp4\r\nContent-Range: bytes 10-11/{size}\r\n\r\n".encode()
        + DATA[10:12]
        + f"\r\n--{boundary}--".encode()
    )

    malformed = await client.get(url, headers={"Range": "items=0-5"})
    assert malformed.status_code == 200 and malformed.content == DATA

    head = await client.head(url, headers={"Range": "bytes=0-9"})
    assert head.status_code == 206 and head.content == b""
    assert head.headers["content-range"] == f"bytes 0-9/{size}" and head.headers["content-length"] == "10"

    etag = whole.headers["etag"]
    for header in (etag, f"W/{etag}", "*"):
        cached = await client.get(url, headers={"If-None-Match": header})
        assert cached.status_code == 304 and cached.content == b""
        assert cached.headers["etag"] == etag
    assert (await client.get(url, headers={"If-Modified-Since": last_modified})).status_code == 304
    same = await client.get(url, headers={"Range": "bytes=0-9", "If-Range": etag})
    assert same.status_code == 206 and same.content == DATA[:10]
    other = await client.get(url, headers={"Range": "bytes=0-9", "If-Range": '"old"'})
    assert other.status_code == 200 and other.content == DATA

    assert (await client.get("/media/ab/cd/" + "0" * 64 + ".mp4")).status_code == 404
    assert (await client.get("/media/%2e%2e/instance.toml")).status_code == 404

    big = await store.store_bytes_async(os.urandom(700_000), "webm")
    streamed = await client.get(f"/media/{big.path}", headers={"Range": "bytes=100000-650000"})
    assert streamed.status_code == 206
    assert streamed.content == (await store.read_bytes_async(big.path))[100000:650001]


async def test_store_down_is_a_503(tmp_path: Path, s3_endpoint: str) -> None:
    config = make_config(
        tmp_path, backend="s3", s3_endpoint=f"http://127.0.0.1:{free_port()}", s3_bucket="media", **KEYS
    )
    store = open_storage(config)
    assert isinstance(store, S3Storage)
    store.client = boto3.session.Session(
        aws_access_key_id="a", aws_secret_access_key="b", region_name="us-east-1"
    ).client(
        "s3",
        endpoint_url=config.media.s3_endpoint,
        config=botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=2),
    )
    app = create_app(config, run_workers=False, check_database=False)
    async with app_client(app, base_url=BASE) as client:
        response = await client.get(f"/media/{relative_path('0' * 64, 'mp4')}")
        assert response.status_code == 503
        assert b"media store is unavailable" in response.content


# ---- fedisora media check | migrate ----------------------------------------------------------


@pytest.fixture
def cli_main() -> Any:
    """``fedisora`` in process (``media`` is one of its command groups)."""
    return cli.main


def test_media_check_command(
    tmp_path: Path, s3_endpoint: str, capsys: pytest.CaptureFixture[str], cli_main: Any
) -> None:
    config = s3_config(tmp_path, s3_endpoint)
    assert cli_main(["media", "check", "--config", str(config.path)]) == 0
    out = capsys.readouterr().out
    assert f"ok: S3 bucket {config.media.s3_bucket!r} at {s3_endpoint}" in out
    assert list(open_storage(config).paths()) == []  # the probe is gone

    missing = s3_config(tmp_path / "b", s3_endpoint, create=False)
    assert cli_main(["media", "check", "--config", str(missing.path)]) == 1
    assert "bucket check failed" in capsys.readouterr().err


def test_migrating_a_media_directory_to_s3(
    tmp_path: Path, s3_endpoint: str, capsys: pytest.CaptureFixture[str], cli_main: Any
) -> None:
    local_config = make_config(tmp_path)
    local = LocalStorage(local_config.media_dir)
    files = [local.store_bytes(DATA + bytes([i]), ext) for i, ext in enumerate(("png", "mp4", "webm"))]
    damaged = local.store_bytes(b"will be damaged", "jpg")
    assert damaged.absolute is not None
    damaged.absolute.write_bytes(b"damaged!")
    (local.root / ".staging").mkdir(exist_ok=True)
    (local.root / ".staging" / ".tmp-half").write_bytes(b"half written")

    # The S3 settings are filled in while the backend is still local.
    bucket = f"media-{uuid.uuid4().hex[:12]}"
    text = (tmp_path / "instance.toml").read_text()
    for key, value in {"s3_endpoint": s3_endpoint, "s3_bucket": bucket, **KEYS}.items():
        text = set_value(text, "media", key, value)
    (tmp_path / "instance.toml").write_text(text)
    s3_settings = parse_config(text, path=tmp_path / "instance.toml", env={})
    target = S3Storage.for_config(s3_settings)
    target.client.create_bucket(Bucket=bucket)
    args = ["media", "migrate", "--config", str(tmp_path / "instance.toml")]

    assert cli_main([*args, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would copy 4 file(s)" in out and list(target.paths()) == []

    assert cli_main(args) == 1  # the damaged file is reported, the others copied
    out = capsys.readouterr().out
    assert f"failed: {damaged.path}: " in out and "does not match its name" in out
    assert "copied 3 file(s)" in out and "1 failed" in out
    assert 'next: set [media] backend = "s3"' in out
    assert sorted(target.paths()) == sorted(f.path for f in files)
    for stored in files:
        assert target.read_bytes(stored.path) == local.read_bytes(stored.path)
        head = target.client.head_object(Bucket=bucket, Key=stored.path)
        assert head["CacheControl"] == "public, max-age=31536000, immutable"
    assert target.client.head_object(Bucket=bucket, Key=files[1].path)["ContentType"] == "video/mp4"

    damaged.absolute.unlink()
    assert cli_main([*args, "--delete-local"]) == 0
    out = capsys.readouterr().out
    assert "copied 0 file(s) (0 bytes), 3 already in the bucket, removed 3 local file(s)" in out
    assert list(local.paths()) == []
    assert sorted(target.paths()) == sorted(f.path for f in files)


def test_media_commands_with_the_local_backend(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cli_main: Any
) -> None:
    config = make_config(tmp_path)
    assert cli_main(["media", "check", "--config", str(config.path)]) == 0
    assert f"ok: local storage in {config.media_dir}: write, read" in capsys.readouterr().out
    assert list(LocalStorage(config.media_dir).paths()) == []
    assert cli_main(["media", "migrate", "--config", str(config.path)]) == 1
    assert "set [media] s3_endpoint and s3_bucket" in capsys.readouterr().err


async def test_bad_s3_settings_are_a_clear_error(tmp_path: Path) -> None:
    config = make_config(tmp_path, backend="s3", s3_endpoint="not a url", s3_bucket="media", **KEYS)
    with pytest.raises(StorageUnavailable, match="bad \\[media\\] S3 settings \\('not a url'\\)"):
        open_storage(config)
    app = create_app(config, run_workers=False, check_database=False)
    async with app_client(app, base_url=BASE) as client:
        assert (await client.get(f"/media/{relative_path('0' * 64, 'mp4')}")).status_code == 503
