"""``/api/v2/media``, ``/api/v1/media`` and ``/api/v1/media/:id`` in process, on SQLite and
PostgreSQL: images processed at once (200), videos in the background job (202, then 206
while processing, 200 when ready), failures (422 with the reason), updates of alt text,
focus and thumbnail, who may see what, scopes, bad and oversized uploads, and the rules
for attaching media to a post."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select

from fedisora.db.models import Job, MediaAttachment, MediaState
from fedisora.media import jobs
from tests.federation import Fediverse, Instance, token_for
from tests.media_samples import make_corrupt, make_gif, make_image, make_video, png

PASSWORD = "correct horse battery staple"
# The fields Mastodon.py's MediaAttachment entity reads.
ENTITY_FIELDS = {"id", "type", "url", "preview_url", "remote_url", "preview_remote_url", "text_url",
                 "meta", "description", "blurhash"}


class Client:
    def __init__(self, instance: Instance, token: str | None) -> None:
        assert instance.client is not None
        self.http: httpx.AsyncClient = instance.client
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def upload(
        self, data: bytes, *, name: str = "file.bin", mime: str = "application/octet-stream",
        version: int = 2, thumbnail: bytes | None = None, **fields: str,
    ) -> httpx.Response:
        files: dict[str, Any] = {"file": (name, data, mime)}
        if thumbnail is not None:
            files["thumbnail"] = ("thumb.png", thumbnail, "image/png")
        return await self.http.post(f"/api/v{version}/media", files=files, data=fields, headers=self.headers)

    async def get(self, media_id: str) -> httpx.Response:
        return await self.http.get(f"/api/v1/media/{media_id}", headers=self.headers)

    async def put(self, media_id: str, *, thumbnail: bytes | None = None, **fields: str) -> httpx.Response:
        if thumbnail is not None:
            return await self.http.put(
                f"/api/v1/media/{media_id}", files={"thumbnail": ("t.png", thumbnail, "image/png")},
                data=fields, headers=self.headers,
            )
        return await self.http.put(f"/api/v1/media/{media_id}", json=fields, headers=self.headers)

    async def post_status(self, text: str, media_ids: list[str]) -> httpx.Response:
        return await self.http.post(
            "/api/v1/statuses", json={"status": text, "media_ids": media_ids}, headers=self.headers
        )


class Env:
    def __init__(self, world: Fediverse, a: Instance, samples: Path) -> None:
        self.world = world
        self.a = a
        self.samples = samples
        self.alice: Client
        self.bob: Client

    def media_dir(self) -> Path:
        return Path(self.a.config.media_dir)

    def jpeg(self, name: str = "photo.jpg", **kwargs: Any) -> bytes:
        return make_image(self.samples / name, "jpeg", width=kwargs.pop("width", 200),
                          height=kwargs.pop("height", 150), **kwargs).read_bytes()

    def mp4(self, name: str = "clip.mp4", **kwargs: Any) -> bytes:
        return make_video(self.samples / name, **kwargs).read_bytes()

    async def settle(self) -> int:
        return await self.world.settle()

    async def row(self, media_id: str) -> MediaAttachment | None:
        async with self.a.state.sessions() as session:
            return await session.get(MediaAttachment, int(media_id))


@pytest.fixture
async def env(tmp_path: Path, database_url: str) -> AsyncIterator[Env]:
    world = Fediverse(tmp_path / "world")
    samples = tmp_path / "samples"
    samples.mkdir()
    try:
        a = await world.add("a.example", database_url)
        for name in ("alice", "bob"):
            await a.create_account(name, password=PASSWORD)
        env = Env(world, a, samples)
        env.alice = Client(a, await token_for(a, "alice"))
        env.bob = Client(a, await token_for(a, "bob"))
        yield env
    finally:
        await world.close()


def staged_files(env: Env) -> list[Path]:
    uploads = env.media_dir() / jobs.UPLOADS_DIR
    return sorted(uploads.iterdir()) if uploads.exists() else []


def stored(env: Env, url: str) -> Path:
    prefix = f"{env.a.config.base_url}/media/"
    assert url.startswith(prefix), url
    return env.media_dir() / url[len(prefix):]


# ---- images: processed at once ------------------------------------------------------------------


async def test_image_upload_is_ready_at_once(env: Env) -> None:
    response = await env.alice.upload(png(160, 120), name="pic.png", mime="image/png",
                                      description="a pink square", focus="0.5,-0.25")
    assert response.status_code == 200, response.text
    media = response.json()
    assert ENTITY_FIELDS <= set(media)
    assert media["type"] == "image" and media["description"] == "a pink square"
    assert media["url"].startswith(f"{env.a.config.base_url}/media/") and media["url"].endswith(".png")
    assert stored(env, media["url"]).is_file()
    assert media["preview_url"] and stored(env, media["preview_url"]).is_file()
    assert media["meta"]["original"]["width"] == 160 and media["meta"]["original"]["height"] == 120
    assert media["meta"]["focus"] == {"x": 0.5, "y": -0.25}
    assert isinstance(media["blurhash"], str) and media["blurhash"]
    assert media["fedisora"] == {"state": "ready", "progress": 1.0, "error": None}
    assert media["remote_url"] is None and media["text_url"] is None
    assert staged_files(env) == []  # the raw upload is gone once processed

    again = await env.alice.get(media["id"])
    assert again.status_code == 200 and again.json()["url"] == media["url"]

    # The deprecated v1 endpoint answers the same way.
    jpeg = env.jpeg()
    v1 = await env.alice.upload(jpeg, name="photo.jpg", mime="image/jpeg", version=1)
    assert v1.status_code == 200, v1.text
    assert v1.json()["type"] == "image" and v1.json()["url"]


async def test_bad_uploads_are_4xx(env: Env) -> None:
    garbage = await env.alice.upload(b"this is not a picture at all" * 10, name="x.png", mime="image/png")
    assert garbage.status_code == 422 and "error" in garbage.json()
    text_file = await env.alice.upload(b"hello", name="notes.txt", mime="text/plain")
    assert text_file.status_code == 422
    empty = await env.alice.upload(b"", name="empty.png", mime="image/png")
    assert empty.status_code == 422
    no_file = await env.alice.http.post("/api/v2/media", data={"description": "x"},
                                        files={"other": ("a", b"a", "image/png")}, headers=env.alice.headers)
    assert no_file.status_code == 422
    as_json = await env.alice.http.post("/api/v2/media", json={"file": "abc"}, headers=env.alice.headers)
    assert as_json.status_code == 422
    broken = await env.alice.http.post(
        "/api/v2/media", content=b"--xyz\r\nnonsense", headers={
            **env.alice.headers, "Content-Type": "multipart/form-data; boundary=xyz"},
    )
    assert broken.status_code == 400
    for focus in ("2,0", "a,b", "0.5", "nan,0", "0,0,0"):
        bad_focus = await env.alice.upload(png(160, 120), name="p.png", mime="image/png", focus=focus)
        assert bad_focus.status_code == 422, focus
    too_long = await env.alice.upload(png(160, 120), name="p.png", mime="image/png", description="x" * 1501)
    assert too_long.status_code == 422
    bad_thumb = await env.alice.upload(env.mp4(), name="c.mp4", mime="video/mp4", thumbnail=b"not an image")
    assert bad_thumb.status_code == 422
    # A truncated image: its header sniffs fine but it does not decode.
    picture = png(160, 120)
    cut = await env.alice.upload(picture[: len(picture) // 2], name="cut.png", mime="image/png")
    assert cut.status_code == 422, cut.text
    async with env.a.state.sessions() as session:
        assert (await session.exec(select(MediaAttachment))).all() == []  # nothing kept
    assert staged_files(env) == []


async def test_size_limits(env: Env) -> None:
    media = env.a.config.media
    media.max_image_bytes = 4096
    media.max_video_bytes = 64 * 1024
    big_image = env.jpeg(width=400, height=300)
    assert len(big_image) > 4096
    too_big_image = await env.alice.upload(big_image, name="big.jpg", mime="image/jpeg")
    assert too_big_image.status_code == 422 and "size" in too_big_image.json()["error"]
    # A body past every limit (plus the margin) is refused before it is read: 413.
    huge = b"\x00" * (64 * 1024 + 3 * 1024 * 1024)
    too_big_body = await env.alice.upload(huge, name="huge.mp4", mime="video/mp4")
    assert too_big_body.status_code == 413 and "error" in too_big_body.json()


# ---- videos: processed in the background --------------------------------------------------------


async def test_video_upload_202_then_ready(env: Env) -> None:
    response = await env.alice.upload(env.mp4(seconds=1.0), name="clip.mp4", mime="video/mp4",
                                      description="a moving box")
    assert response.status_code == 202, response.text
    media = response.json()
    assert ENTITY_FIELDS <= set(media)
    assert media["url"] is None and media["type"] == "video"
    assert media["fedisora"]["state"] == "processing" and media["fedisora"]["error"] is None
    assert len(staged_files(env)) == 1  # waiting, outside the served paths
    async with env.a.state.sessions() as session:
        queued = (await session.exec(select(Job).where(Job.kind == jobs.PROCESS_MEDIA))).all()
    assert len(queued) == 1

    pending = await env.alice.get(media["id"])
    assert pending.status_code == 206 and pending.json()["url"] is None
    # Not ready: it cannot be posted yet (Mastodon's answer and wording).
    early = await env.alice.post_status("too soon", [media["id"]])
    assert early.status_code == 422
    assert early.json()["error"] == "Cannot attach files that have not finished processing. Try again in a moment!"

    assert await env.settle() >= 1
    ready = await env.alice.get(media["id"])
    assert ready.status_code == 200, ready.text
    done = ready.json()
    assert done["type"] == "video" and done["url"].endswith(".mp4")
    assert stored(env, done["url"]).is_file()
    assert done["preview_url"] and done["preview_url"].endswith(".jpg")
    assert done["meta"]["original"]["width"] == 160 and done["meta"]["original"]["height"] == 96
    assert done["blurhash"] and done["description"] == "a moving box"
    assert done["fedisora"] == {"state": "ready", "progress": 1.0, "error": None}
    assert staged_files(env) == []
    row = await env.row(media["id"])
    assert row is not None and row.sha256 and row.size_bytes and row.mime_type == "video/mp4"

    posted = await env.alice.post_status("my first video", [media["id"]])
    assert posted.status_code == 200, posted.text
    attachments = posted.json()["media_attachments"]
    assert [m["id"] for m in attachments] == [media["id"]] and attachments[0]["url"] == done["url"]


async def test_gif_becomes_gifv_in_the_background(env: Env) -> None:
    gif = make_gif(env.samples / "anim.gif").read_bytes()
    response = await env.alice.upload(gif, name="anim.gif", mime="image/gif")
    assert response.status_code == 202, response.text
    await env.settle()
    ready = await env.alice.get(response.json()["id"])
    assert ready.status_code == 200, ready.text
    assert ready.json()["type"] == "gifv"


async def test_failed_processing_is_422_with_the_reason(env: Env) -> None:
    corrupt = make_corrupt(env.samples / "broken.mp4", how="garbled").read_bytes()
    response = await env.alice.upload(corrupt, name="broken.mp4", mime="video/mp4")
    assert response.status_code == 202, response.text  # videos are checked in the background
    media_id = response.json()["id"]
    await env.settle()
    failed = await env.alice.get(media_id)
    assert failed.status_code == 422
    reason = failed.json()["error"]
    assert reason and "Traceback" not in reason
    row = await env.row(media_id)
    assert row is not None and row.state == MediaState.FAILED.value and row.error == reason
    from fedisora import convert

    entity = convert.media_attachment(env.a.config, row)
    assert entity["fedisora"] == {"state": "failed", "progress": 0.0, "error": reason}
    assert entity["url"] is None
    # Not retried: the job is finished, the staging file gone.
    async with env.a.state.sessions() as session:
        job = (await session.exec(select(Job).where(Job.kind == jobs.PROCESS_MEDIA))).one()
    assert job.state == "done"
    assert staged_files(env) == []
    assert (await env.alice.put(media_id, description="x")).status_code == 422
    refused = await env.alice.post_status("broken", [media_id])
    assert refused.status_code == 422


# ---- updates ------------------------------------------------------------------------------------


async def test_update_description_focus_and_thumbnail(env: Env) -> None:
    video = await env.alice.upload(env.mp4(), name="clip.mp4", mime="video/mp4")
    media_id = video.json()["id"]
    # While processing: 206, and a custom thumbnail is kept once the video is ready.
    changed = await env.alice.put(media_id, thumbnail=png(320, 200), description="new words", focus="-1,1")
    assert changed.status_code == 206, changed.text
    body = changed.json()
    assert body["description"] == "new words" and body["meta"]["focus"] == {"x": -1.0, "y": 1.0}
    custom_preview = body["preview_url"]
    assert custom_preview and stored(env, custom_preview).is_file()
    assert body["meta"]["small"]["width"] == 320
    await env.settle()
    ready = await env.alice.get(media_id)
    assert ready.status_code == 200
    assert ready.json()["preview_url"] == custom_preview
    assert ready.json()["meta"]["focus"] == {"x": -1.0, "y": 1.0} and ready.json()["description"] == "new words"

    image = (await env.alice.upload(png(160, 120), name="p.png", mime="image/png")).json()
    updated = await env.alice.put(image["id"], description="alt text", focus="0.1,0.2")
    assert updated.status_code == 200, updated.text
    assert updated.json()["description"] == "alt text"
    assert updated.json()["meta"]["focus"] == {"x": 0.1, "y": 0.2}
    cleared = await env.alice.put(image["id"], description="")
    assert cleared.status_code == 200 and cleared.json()["description"] is None
    assert (await env.alice.put(image["id"], focus="5,5")).status_code == 422
    assert (await env.alice.put(image["id"], thumbnail=b"nope")).status_code == 422


async def test_others_media_is_not_found(env: Env) -> None:
    mine = (await env.alice.upload(png(160, 120), name="p.png", mime="image/png")).json()
    for client in (env.bob,):
        assert (await client.get(mine["id"])).status_code == 404
        assert (await client.put(mine["id"], description="mine now")).status_code == 404
        taken = await client.post_status("stolen", [mine["id"]])
        assert taken.status_code == 422
    for bad in ("999999", "abc", "-1", "99999999999999999999999"):
        response = await env.alice.get(bad)
        assert response.status_code == 404 and response.json() == {"error": "Record not found"}
    row = await env.row(mine["id"])
    assert row is not None and row.description is None


async def test_scopes(env: Env) -> None:
    read_only = Client(env.a, await token_for(env.a, "alice", scopes="read"))
    media_only = Client(env.a, await token_for(env.a, "alice", scopes="write:media"))
    app_only = Client(env.a, await token_for(env.a, None, scopes="write"))
    anonymous = Client(env.a, None)
    picture = png(160, 120)
    assert (await read_only.upload(picture, name="p.png", mime="image/png")).status_code == 403
    assert (await anonymous.upload(picture, name="p.png", mime="image/png")).status_code == 401
    assert (await app_only.upload(picture, name="p.png", mime="image/png")).status_code == 422
    made = await media_only.upload(picture, name="p.png", mime="image/png")
    assert made.status_code == 200
    media_id = made.json()["id"]
    assert (await read_only.get(media_id)).status_code == 403  # Mastodon wants write:media here too
    assert (await anonymous.get(media_id)).status_code == 401
    assert (await media_only.get(media_id)).status_code == 200
    assert (await read_only.put(media_id, description="x")).status_code == 403


# ---- posting with media -------------------------------------------------------------------------


async def test_attachment_rules(env: Env) -> None:
    images = []
    for i in range(5):
        response = await env.alice.upload(png(100 + i, 80), name=f"p{i}.png", mime="image/png")
        assert response.status_code == 200
        images.append(response.json()["id"])
    videos = []
    for i in range(2):
        response = await env.alice.upload(env.mp4(name=f"v{i}.mp4", width=96 + 16 * i), name="v.mp4", mime="video/mp4")
        assert response.status_code == 202
        videos.append(response.json()["id"])
    await env.settle()

    five = await env.alice.post_status("five", images)
    assert five.status_code == 422 and five.json()["error"] == "Cannot attach more than 4 files"
    two_videos = await env.alice.post_status("two videos", videos)
    assert two_videos.status_code == 422
    assert two_videos.json()["error"] == "Cannot attach a video to a post that already contains images"
    mixed = await env.alice.post_status("mixed", [images[0], videos[0]])
    assert mixed.status_code == 422
    four = await env.alice.post_status("four pictures", images[:4])
    assert four.status_code == 200, four.text
    assert [m["id"] for m in four.json()["media_attachments"]] == images[:4]
    again = await env.alice.post_status("again", [images[0]])
    assert again.status_code == 422  # already attached
    one_video = await env.alice.post_status("one video", [videos[1]])
    assert one_video.status_code == 200
    assert one_video.json()["media_attachments"][0]["type"] == "video"
    # The owner can still read an attached file.
    assert (await env.alice.get(videos[1])).status_code == 200


async def test_webm_mov_and_m4v_uploads(env: Env) -> None:
    uploads = [
        (env.mp4("c.webm", codec="vp9", audio=True), "c.webm", "video/webm"),
        (env.mp4("c.mov"), "c.mov", "video/quicktime"),
        (env.mp4("c.m4v"), "c.m4v", "video/x-m4v"),
    ]
    ids = []
    for data, name, mime in uploads:
        response = await env.alice.upload(data, name=name, mime=mime)
        assert response.status_code == 202, (name, response.text)
        ids.append(response.json()["id"])
    await env.settle()
    for media_id, (_, name, _) in zip(ids, uploads, strict=True):
        ready = await env.alice.get(media_id)
        assert ready.status_code == 200, (name, ready.text)
        assert ready.json()["type"] == "video" and ready.json()["url"].endswith(".mp4"), name


async def test_mangled_files_never_500(env: Env) -> None:
    import random

    rng = random.Random(7)
    seeds = [png(160, 120), env.jpeg(), env.mp4("seed.mp4"), make_gif(env.samples / "seed.gif").read_bytes()]
    for i in range(24):
        data = bytearray(rng.choice(seeds))
        if i % 3 == 0:
            data = data[: rng.randrange(1, len(data))]  # truncated
        else:
            for _ in range(rng.randrange(1, 40)):  # flipped bytes after the magic numbers
                data[rng.randrange(16, len(data))] = rng.randrange(256)
        mime = rng.choice(["image/png", "video/mp4", "image/gif", "application/octet-stream"])
        response = await env.alice.upload(bytes(data), name="mangled", mime=mime)
        assert response.status_code in (200, 202, 422), (i, response.status_code, response.text)
    await env.settle()
    async with env.a.state.sessions() as session:
        rows = (await session.exec(select(MediaAttachment))).all()
    for row in rows:
        assert row.state != MediaState.PROCESSING.value  # every job finished, one way or the other
        got = await env.alice.get(str(row.id))
        assert got.status_code == (200 if row.state == MediaState.READY.value else 422), got.text
