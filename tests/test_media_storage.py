"""Media storage (content-addressed, atomic), image checks, multipart uploads, and the
``/media`` route: content types, caching, ETags, byte ranges and path traversal."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import struct
import threading
import zlib
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from fedisora.app import create_app
from fedisora.media.images import ImageError, check_image, sniff_image
from fedisora.convert.common import media_url
from fedisora.media.storage import (
    LocalStorage,
    MediaStorage,
    Storage,
    StorageError,
    StorageUnavailable,
    is_safe_relative_path,
    open_storage,
    relative_path,
)
from fedisora.media.uploads import parse_multipart
from instance_config import Config, parse_config, render_config
from instance_config.template import set_value
from tests.asgi import app_client

BASE = "https://video.example.org"


def png(width: int = 3, height: int = 2, rgb: tuple[int, int, int] = (200, 10, 10)) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = (b"\x00" + bytes(rgb) * width) * height
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def jpeg(width: int = 4, height: int = 3) -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof0 + b"\xff\xd9"


def gif(width: int = 5, height: int = 6) -> bytes:
    return b"GIF89a" + struct.pack("<HH", width, height) + b"\x00\x00\x00" + b"\x3b"


def webp_lossless(width: int = 7, height: int = 8) -> bytes:
    bits = (width - 1) | ((height - 1) << 14)
    body = b"\x2f" + bits.to_bytes(4, "little") + b"\x00" * 8
    chunk = b"VP8L" + struct.pack("<I", len(body)) + body
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


# ---- storage ---------------------------------------------------------------------------------


def temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.startswith(".tmp-")]


def test_same_content_same_path(tmp_path: Path) -> None:
    storage = MediaStorage(tmp_path / "media")
    data = png()
    sha = hashlib.sha256(data).hexdigest()
    first = storage.store_bytes(data, "png")
    assert first.path == f"{sha[:2]}/{sha[2:4]}/{sha}.png" == relative_path(sha, "png")
    assert first.sha256 == sha and first.size == len(data)
    assert first.absolute == (tmp_path / "media" / first.path).resolve()
    assert first.absolute.read_bytes() == data
    assert first.absolute.stat().st_mode & 0o777 == 0o644
    again = storage.store_bytes(data, ".PNG")  # the extension is normalised
    assert again == first
    other = storage.store_bytes(data + b"!", "png")
    assert other.path != first.path
    assert storage.resolve(first.path) == first.absolute
    assert storage.url_path(first) == f"/media/{first.path}"
    assert temp_files(storage.root) == []


def test_streamed_store_matches_bytes_store(tmp_path: Path) -> None:
    storage = MediaStorage(tmp_path / "media")
    data = os.urandom(300_000)
    streamed = storage.store_chunks((data[i : i + 65536] for i in range(0, len(data), 65536)), "mp4")
    assert streamed == storage.store_bytes(data, "mp4")
    assert streamed.absolute.read_bytes() == data
    assert temp_files(storage.root) == []


def test_failed_write_leaves_no_temp_file(tmp_path: Path) -> None:
    storage = MediaStorage(tmp_path / "media")

    def broken() -> Iterator[bytes]:
        yield b"some bytes"
        raise OSError("disk on fire")

    with pytest.raises(OSError, match="disk on fire"):
        storage.store_chunks(broken(), "mp4")
    assert temp_files(storage.root) == []
    assert [p for p in storage.root.rglob("*") if p.is_file()] == []


def test_concurrent_writes_of_the_same_file(tmp_path: Path) -> None:
    storage = MediaStorage(tmp_path / "media")
    data = os.urandom(1_000_000)
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda _: storage.store_bytes(data, "webm"), range(32)))
    assert len({r.path for r in results}) == 1
    assert results[0].absolute.read_bytes() == data
    assert temp_files(storage.root) == []
    files = [p for p in storage.root.rglob("*") if p.is_file()]
    assert files == [results[0].absolute]


async def test_concurrent_async_writes(tmp_path: Path) -> None:
    storage = MediaStorage(tmp_path / "media")
    blobs = [os.urandom(50_000) for _ in range(4)]
    results = await asyncio.gather(*(storage.store_bytes_async(blobs[i % 4], "png") for i in range(20)))
    assert len({r.path for r in results}) == 4
    for result in results:
        assert result.absolute.read_bytes() == blobs[[hashlib.sha256(b).hexdigest() for b in blobs].index(result.sha256)]
    assert temp_files(storage.root) == []


@pytest.mark.parametrize("ext", ["", "p/ng", "../x", "png\x00", "a" * 11, "p g"])
def test_bad_extensions(tmp_path: Path, ext: str) -> None:
    with pytest.raises(StorageError):
        MediaStorage(tmp_path).store_bytes(b"x", ext)


@pytest.mark.parametrize(
    "path",
    ["", "..", "../x", "a/../b", "/etc/passwd", ".staging/x", "ab/.tmp-1", "a//b", "a\\b", "a/b\x00", "a b", "a/./b"],
)
def test_unsafe_relative_paths(path: str) -> None:
    assert not is_safe_relative_path(path)


def test_resolve_refuses_links_out_of_the_root(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("secret")
    root = tmp_path / "media"
    root.mkdir()
    (root / "link.txt").symlink_to(tmp_path / "secret.txt")
    (root / "dir").mkdir()
    storage = MediaStorage(root)
    assert storage.resolve("link.txt") is None
    assert storage.resolve("dir") is None
    assert storage.resolve("missing.png") is None


def test_no_partial_file_is_visible_during_a_write(tmp_path: Path) -> None:
    storage = MediaStorage(tmp_path / "media")
    data = os.urandom(200_000)
    sha = hashlib.sha256(data).hexdigest()
    path = relative_path(sha, "mp4")
    halfway, resume = threading.Event(), threading.Event()

    def slow() -> Iterator[bytes]:
        yield data[:100_000]
        halfway.set()
        assert resume.wait(10)
        yield data[100_000:]

    with ThreadPoolExecutor(max_workers=1) as pool:
        writing = pool.submit(storage.store_chunks, slow(), "mp4")
        assert halfway.wait(10)
        # Half the bytes are on disk, but only in a temporary file no reader looks at.
        assert len(temp_files(storage.root)) == 1
        assert not (storage.root / path).exists()
        assert storage.resolve(path) is None and not storage.exists(path) and storage.stat(path) is None
        assert list(storage.paths()) == []
        resume.set()
        stored = writing.result(timeout=10)
    assert stored.path == path
    assert storage.read_bytes(path) == data
    assert list(storage.paths()) == [path]
    assert temp_files(storage.root) == []


def test_local_storage_interface(tmp_path: Path) -> None:
    storage: Storage = LocalStorage(tmp_path / "media")
    assert storage.kind == "local"
    stored = storage.store_bytes(DATA, "mp4")
    info = storage.stat(stored.path)
    assert info is not None
    assert (info.path, info.size, info.etag) == (stored.path, len(DATA), f'"{stored.sha256}"')
    assert storage.size(stored.path) == len(DATA) and storage.size("ab/cd/missing.mp4") is None
    assert storage.read_bytes(stored.path) == DATA
    assert storage.read_bytes(stored.path, 10, 20) == DATA[10:20]
    assert storage.read_bytes(stored.path, 1000, 5000) == DATA[1000:]
    assert storage.read_bytes(stored.path, 2000) == b""
    assert [len(c) for c in storage.iter_range(stored.path, 0, 1000, chunk_size=300)] == [300, 300, 300, 100]
    with pytest.raises(FileNotFoundError):
        storage.read_bytes("../instance.toml")
    with storage.local_copy(stored.path) as local:
        assert local == stored.absolute and local.read_bytes() == DATA
    assert storage.public_url(stored.path) is None
    other = storage.store_bytes(b"other", "png")
    assert sorted(storage.paths()) == sorted([stored.path, other.path])
    storage.check()
    assert storage.delete(other.path) and not storage.exists(other.path)
    assert list(storage.paths()) == [stored.path]


async def test_local_storage_async(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "media")
    stored = await storage.store_bytes_async(DATA, "webm")
    assert await storage.exists_async(stored.path)
    assert (await storage.stat_async(stored.path)) == storage.stat(stored.path)
    assert await storage.read_bytes_async(stored.path, 5, 9) == DATA[5:9]
    chunks = [c async for c in storage.iter_range_async(stored.path, 100, 612, chunk_size=200)]
    assert [len(c) for c in chunks] == [200, 200, 112] and b"".join(chunks) == DATA[100:612]
    early = storage.iter_range_async(stored.path)
    async with contextlib.aclosing(early):
        async for _ in early:
            break
    with pytest.raises(FileNotFoundError):
        await storage.open_range_async("ab/cd/missing.webm")
    assert await storage.delete_async(stored.path) is True
    assert await storage.delete_async(stored.path) is False


def test_unwritable_media_dir_fails_the_check(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(StorageUnavailable, match="cannot write to the media directory"):
        LocalStorage(tmp_path / "file" / "media").check()


# ---- images ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "mime", "ext", "size"),
    [
        (png(3, 2), "image/png", "png", (3, 2)),
        (jpeg(4, 3), "image/jpeg", "jpg", (4, 3)),
        (gif(5, 6), "image/gif", "gif", (5, 6)),
        (webp_lossless(7, 8), "image/webp", "webp", (7, 8)),
    ],
)
def test_real_images_are_recognised(data: bytes, mime: str, ext: str, size: tuple[int, int]) -> None:
    info = check_image(data, 10_000)
    assert (info.mime_type, info.ext, (info.width, info.height)) == (mime, ext, size)


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n" + b"this is not really a png at all" * 3,  # the signature alone
        b"\x89PNG\r\n\x1a\n",
        b"<html><body>hello</body></html>",
        b"GIF89",
        b"\xff\xd8\xff" + b"\x00" * 20,
        b"RIFF\x00\x00\x00\x00WEBPVP8Z" + b"\x00" * 30,
        b"%PDF-1.7\n" + b"\x00" * 50,
    ],
)
def test_fake_images_are_refused(data: bytes) -> None:
    assert sniff_image(data) is None
    with pytest.raises(ImageError, match="PNG, JPEG, GIF or WebP"):
        check_image(data, 10_000)


def test_image_limits() -> None:
    data = png(40, 40)
    assert check_image(data, len(data)).width == 40
    with pytest.raises(ImageError, match=f"at most {len(data) - 1} bytes"):
        check_image(data, len(data) - 1, what="Avatar")
    with pytest.raises(ImageError, match="empty"):
        check_image(b"", 100)
    with pytest.raises(ImageError, match="dimensions"):
        check_image(png(0, 2), 10_000)
    with pytest.raises(ImageError, match="dimensions"):
        check_image(gif(20000, 5), 10_000)


# ---- multipart -------------------------------------------------------------------------------


def test_multipart_keeps_binary_bytes_exactly() -> None:
    blob = b"\r\n--\r\n\x00\xff" + os.urandom(5000) + b"\r\n"
    request = httpx.Request(
        "POST",
        "https://x.example/",
        data={"display_name": "Zoë", "tags[]": ["a", "b"]},
        files={"avatar": ("a.png", blob, "image/png"), "header": ("", b"", "application/octet-stream")},
    )
    body = request.read()
    form = parse_multipart(request.headers["content-type"], body)
    assert form.fields == {"display_name": "Zoë", "tags": ["a", "b"]}
    assert form.files["avatar"].data == blob
    assert form.files["avatar"].filename == "a.png"
    assert form.files["avatar"].content_type == "image/png"
    assert form.files["header"].data == b""


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data", b"--x\r\n\r\nhello\r\n--x--"),  # no boundary parameter
        ("multipart/form-data; boundary=x", b"no delimiter here"),
        ("multipart/form-data; boundary=x", b'--x\r\nContent-Disposition: form-data; name="a"\r\n\r\ntruncated'),
    ],
)
def test_malformed_multipart(content_type: str, body: bytes) -> None:
    with pytest.raises(ValueError):
        parse_multipart(content_type, body)


# ---- the /media route ------------------------------------------------------------------------


def make_config(tmp_path: Path, **media: Any) -> Config:
    text = render_config("video.example.org", database_url=f"sqlite+aiosqlite:///{tmp_path}/unused.db")
    for key, value in media.items():
        text = set_value(text, "media", key, value)
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "instance.toml"
    path.write_text(text)
    return parse_config(path.read_text(), path=path, env={})


@pytest.fixture
async def media_env(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, MediaStorage, Config]]:
    config = make_config(tmp_path)
    app = create_app(config, run_workers=False, check_database=False)
    async with app_client(app, base_url=BASE) as client:
        yield client, MediaStorage.from_config(config), config


DATA = bytes(range(256)) * 4  # 1024 bytes, each position recognisable


def test_open_storage_and_urls_for_the_local_backend(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    storage = open_storage(config)
    assert isinstance(storage, LocalStorage) and storage.root == config.media_dir
    assert MediaStorage.from_config(config) is storage is open_storage(config)
    stored = storage.store_bytes(png(), "png")
    assert media_url(config, stored.path) == f"{BASE}/media/{stored.path}"
    assert media_url(config, str(stored.absolute)) == f"{BASE}/media/{stored.path}"
    # s3_public_url is only used with the S3 backend
    other = make_config(tmp_path / "other", s3_public_url="https://cdn.example.net")
    assert media_url(other, stored.path) == f"{BASE}/media/{stored.path}"


async def test_serves_stored_files(media_env: tuple[httpx.AsyncClient, MediaStorage, Config]) -> None:
    client, storage, config = media_env
    assert storage.root == config.media_dir
    image = storage.store_bytes(png(), "png")
    response = await client.get(f"/media/{image.path}")
    assert response.status_code == 200
    assert response.content == png()
    assert response.headers["content-type"] == "image/png"
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["etag"] == f'"{image.sha256}"'
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["content-length"] == str(len(png()))
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "last-modified" in response.headers

    for ext, mime in (("jpg", "image/jpeg"), ("gif", "image/gif"), ("webp", "image/webp"),
                      ("mp4", "video/mp4"), ("webm", "video/webm"), ("bin", "application/octet-stream")):  # fmt: skip
        stored = storage.store_bytes(DATA + ext.encode(), ext)
        answer = await client.get(f"/media/{stored.path}")
        assert answer.status_code == 200 and answer.headers["content-type"] == mime

    head = await client.head(f"/media/{image.path}")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(png()))
    assert (await client.get("/media/ab/cd/" + "0" * 64 + ".png")).status_code == 404


async def test_range_requests(media_env: tuple[httpx.AsyncClient, MediaStorage, Config]) -> None:
    client, storage, _ = media_env
    stored = storage.store_bytes(DATA, "mp4")
    url = f"/media/{stored.path}"
    size = len(DATA)

    first = await client.get(url, headers={"Range": "bytes=0-9"})
    assert first.status_code == 206
    assert first.headers["content-range"] == f"bytes 0-9/{size}"
    assert first.headers["content-length"] == "10"
    assert first.content == DATA[:10]
    assert first.headers["content-type"] == "video/mp4"
    assert first.headers["cache-control"] == "public, max-age=31536000, immutable"

    middle = await client.get(url, headers={"Range": "bytes=100-355"})
    assert middle.status_code == 206 and middle.content == DATA[100:356]

    open_ended = await client.get(url, headers={"Range": "bytes=1000-"})
    assert open_ended.status_code == 206
    assert open_ended.headers["content-range"] == f"bytes 1000-{size - 1}/{size}"
    assert open_ended.content == DATA[1000:]

    suffix = await client.get(url, headers={"Range": "bytes=-24"})
    assert suffix.status_code == 206
    assert suffix.headers["content-range"] == f"bytes {size - 24}-{size - 1}/{size}"
    assert suffix.content == DATA[-24:]

    past_end = await client.get(url, headers={"Range": "bytes=1000-99999"})
    assert past_end.status_code == 206 and past_end.content == DATA[1000:]

    for unsatisfiable in (f"bytes={size}-", f"bytes={size + 10}-{size + 20}"):
        answer = await client.get(url, headers={"Range": unsatisfiable})
        assert answer.status_code == 416, unsatisfiable
        assert answer.headers["content-range"] == f"bytes */{size}"

    several = await client.get(url, headers={"Range": "bytes=0-1, 10-11"})
    assert several.status_code == 206
    assert several.headers["content-type"].startswith("multipart/byteranges; boundary=")
    assert DATA[0:2] in several.content and DATA[10:12] in several.content

    for malformed in ("bytes=abc", "items=0-5", "bytes=5-1"):
        answer = await client.get(url, headers={"Range": malformed})
        assert answer.status_code in (200, 416), malformed
        if answer.status_code == 200:
            assert answer.content == DATA

    head = await client.head(url, headers={"Range": "bytes=0-9"})
    assert head.status_code == 206 and head.content == b""
    assert head.headers["content-range"] == f"bytes 0-9/{size}"


async def test_conditional_requests(media_env: tuple[httpx.AsyncClient, MediaStorage, Config]) -> None:
    client, storage, _ = media_env
    stored = storage.store_bytes(DATA, "webm")
    url = f"/media/{stored.path}"
    etag = (await client.get(url)).headers["etag"]
    assert etag == f'"{stored.sha256}"'

    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        cached = await client.get(url, headers={"If-None-Match": header})
        assert cached.status_code == 304, header
        assert cached.content == b""
        assert cached.headers["etag"] == etag
        assert cached.headers["cache-control"] == "public, max-age=31536000, immutable"
    changed = await client.get(url, headers={"If-None-Match": '"something-else"'})
    assert changed.status_code == 200 and changed.content == DATA

    last_modified = (await client.get(url)).headers["last-modified"]
    assert (await client.get(url, headers={"If-Modified-Since": last_modified})).status_code == 304
    assert (await client.get(url, headers={"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"})).status_code == 200
    assert (await client.get(url, headers={"If-Modified-Since": "not a date"})).status_code == 200

    # If-Range: the range only while the file is still the one the client has.
    same = await client.get(url, headers={"Range": "bytes=0-9", "If-Range": etag})
    assert same.status_code == 206 and same.content == DATA[:10]
    other = await client.get(url, headers={"Range": "bytes=0-9", "If-Range": '"old"'})
    assert other.status_code == 200 and other.content == DATA


async def raw_get(client: httpx.AsyncClient, app: Any, path: str) -> int:
    """GET with ``path`` as the server would decode it (no client-side normalisation)."""
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    scope = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"}, "http_version": "1.1",
        "method": "GET", "scheme": "https", "path": path, "raw_path": path.encode("latin-1", "replace"),
        "root_path": "", "query_string": b"", "headers": [(b"host", b"video.example.org")],
        "server": ("video.example.org", 443), "client": ("127.0.0.1", 1234), "state": {},
    }  # fmt: skip
    await app(scope, receive, send)
    return statuses[0]


async def test_path_traversal_is_refused(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    assert (tmp_path / "instance.toml").is_file()
    assert config.media_dir == (tmp_path / "media").resolve()
    app = create_app(config, run_workers=False, check_database=False)
    async with app_client(app, base_url=BASE) as client:
        storage = MediaStorage.from_config(config)
        stored = storage.store_bytes(png(), "png")
        (storage.root / "ab").mkdir(exist_ok=True)
        (storage.root / ".staging").mkdir(exist_ok=True)
        (storage.root / ".staging" / ".tmp-leftover").write_bytes(b"half written")
        (storage.root / "escape.png").symlink_to(tmp_path / "instance.toml")
        assert await raw_get(client, app, f"/media/{stored.path}") == 200
        for path in (
            "/media/../instance.toml",
            "/media/ab/../../instance.toml",
            "/media/..",
            "/media//etc/passwd",
            "/media/" + str(tmp_path / "instance.toml"),
            "/media/.staging/.tmp-leftover",
            "/media/escape.png",
            "/media/ab",
            "/media/ab\\..\\..\\instance.toml",
        ):
            assert await raw_get(client, app, path) == 404, path
        # a NUL never reaches the file system: the app refuses it at the door
        assert await raw_get(client, app, "/media/x\x00.png") == 400
        for url in (
            "/media/../instance.toml",
            "/media/%2e%2e/instance.toml",
            "/media/..%2finstance.toml",
            "/media/%2E%2E%2Finstance.toml",
            "/media/ab/%2e%2e/%2e%2e/instance.toml",
            "/media/%252e%252e/instance.toml",
        ):
            response = await client.get(url)
            assert response.status_code == 404, url
            assert b"domain" not in response.content
