"""Video posts over federation: the Note we publish, the media we read, the remote media cache.

Two in-process instances (``a.example``, ``b.example``) talk through the
harness transport, so B's cache job fetches A's files from A's real ``/media``
route.  Real-server documents (tests/data/interop, see SOURCES.md) are
delivered through B's real inbox, signed by a test key.
"""

from __future__ import annotations

import asyncio
import io
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlmodel import select

from activitypub.client import FederationClient, FetchError
from fedisora.db.models import Actor, Job, MediaAttachment, MediaState, Status, utcnow
from fedisora.federation.handlers.posts import choose_video, duration_of, valid_blurhash
from fedisora.federation.remote import resolve_handle
from fedisora.media import remote
from fedisora.media.storage import Storage
from fedisora.processing import follows, posts
from tests.federation import Fediverse, Instance, token_for
from tests.media_samples import make_video
from tests.test_interop_processing import MASTODON_PERSON, Peers, actor_like, fixture

DATA = Path(__file__).parent / "data" / "interop"
AP = {"Accept": "application/activity+json"}
# The start of an MP4 (an ISO BMFF ``ftyp`` box), then filler: enough for the magic-byte check.
MP4 = b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41" + b"\x00\x00\x00\x08free" + bytes(range(256)) * 32
BLURHASH = "UBL_:rOpGG-oBUNG,qRj2so|=eE1w^n4S5NH"


def png(width: int = 64, height: int = 36) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


# --- helpers -------------------------------------------------------------------------------


async def me(instance: Instance, username: str) -> Actor:
    async with instance.state.sessions() as session:
        return (await session.exec(select(Actor).where(Actor.local, Actor.username == username))).one()


async def attach_video(instance: Instance, status: Status, *, data: bytes = MP4, **fields: Any) -> MediaAttachment:
    """A processed (ready) video with a stored file and thumbnail, attached to ``status``."""
    storage = Storage.from_config(instance.config)
    stored = storage.store_bytes(data, "mp4")
    thumb = storage.store_bytes(png(), "png")
    values: dict[str, Any] = dict(
        actor_id=status.actor_id,
        status_id=status.id,
        media_type="video",
        state=MediaState.READY.value,
        mime_type="video/mp4",
        file_path=stored.path,
        thumbnail_path=thumb.path,
        size_bytes=stored.size,
        sha256=stored.sha256,
        description="A red square pulses",
        blurhash=BLURHASH,
        focus_x=0.25,
        focus_y=-0.5,
        meta={"width": 1280, "height": 720, "duration": 4.0},
    )
    values.update(fields)
    async with instance.state.sessions() as session:
        media = MediaAttachment(**values)
        session.add(media)
        await session.commit()
        return media


async def create(instance: Instance, username: str, text: str, **kwargs: Any) -> Status:
    async with instance.state.sessions() as session:
        author = (await session.exec(select(Actor).where(Actor.local, Actor.username == username))).one()
        status = await posts.create_post(session, instance.state, author, text, **kwargs)
        await session.commit()
        return status


async def edit(instance: Instance, status: Status, text: str) -> None:
    async with instance.state.sessions() as session:
        fresh = await session.get(Status, status.id)
        author = await session.get(Actor, status.actor_id)
        assert fresh is not None and author is not None
        await posts.edit_post(session, instance.state, author, fresh, text)
        await session.commit()


async def follow(instance: Instance, username: str, handle: str) -> None:
    async with instance.state.sessions() as session:
        who = (await session.exec(select(Actor).where(Actor.local, Actor.username == username))).one()
        target = await resolve_handle(session, instance.state, handle)
        await follows.follow(session, instance.state, who, target)
        await session.commit()


async def status_by_uri(instance: Instance, uri: str) -> Status:
    async with instance.state.sessions() as session:
        return (await session.exec(select(Status).where(Status.uri == uri))).one()


async def media_of(instance: Instance, status_id: int) -> list[MediaAttachment]:
    async with instance.state.sessions() as session:
        query = select(MediaAttachment).where(MediaAttachment.status_id == status_id).order_by(MediaAttachment.id)
        return list((await session.exec(query)).all())


async def api_status(instance: Instance, token: str, status_id: int) -> dict[str, Any]:
    assert instance.client is not None
    response = await instance.client.get(f"/api/v1/statuses/{status_id}", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def cache_jobs(instance: Instance) -> list[Job]:
    async with instance.state.sessions() as session:
        return list((await session.exec(select(Job).where(Job.kind == remote.CACHE_REMOTE_MEDIA))).all())


@pytest.fixture
async def ab(world: Fediverse) -> tuple[Instance, Instance]:
    a = await world.add("a.example")
    b = await world.add("b.example")
    await a.create_account("alice")
    await b.create_account("bob")
    await follow(b, "bob", "@alice@a.example")
    await world.settle()
    return a, b


async def video_on_b(world: Fediverse, a: Instance, b: Instance, **fields: Any) -> tuple[Status, MediaAttachment, Status]:
    """Alice posts on A, attaches a ready video and edits the post: B gets the ``Update(Note)``
    with the attachment (the Create went out before the media was attached)."""
    post = await create(a, "alice", "night drive #Clip", spoiler_text="flashing lights")
    media = await attach_video(a, post, **fields)
    await edit(a, post, "night drive #Clip (with video)")
    await world.settle()
    return post, media, await status_by_uri(b, post.uri)


# --- what we publish -----------------------------------------------------------------------


async def test_note_publishes_ready_video_with_hashtags_and_content_warning(world: Fediverse) -> None:
    a = await world.add("a.example")
    await a.create_account("alice")
    post = await create(a, "alice", "night drive #Clip #AIvideo", spoiler_text="flashing lights")
    media = await attach_video(a, post)
    # Not published: one still processing, one without a file.
    await attach_video(a, post, state=MediaState.PROCESSING.value, description="processing")
    await attach_video(a, post, file_path=None, description="no file")
    assert a.client is not None
    response = await a.client.get(post.uri, headers=AP)
    assert response.status_code == 200
    note = response.json()
    assert note["type"] == "Note"
    assert note["summary"] == "flashing lights" and note["sensitive"] is True
    base = "https://a.example/media/"
    assert media.file_path and media.thumbnail_path
    assert note["attachment"] == [
        {
            "type": "Document",
            "mediaType": "video/mp4",
            "url": base + media.file_path,
            "name": "A red square pulses",
            "blurhash": BLURHASH,
            "focalPoint": [0.25, -0.5],
            "width": 1280,
            "height": 720,
            "icon": {"type": "Image", "mediaType": "image/png", "url": base + media.thumbnail_path},
        }
    ]
    hashtags = [t for t in note["tag"] if t["type"] == "Hashtag"]
    assert hashtags == [
        {"type": "Hashtag", "href": "https://a.example/tags/clip", "name": "#clip"},
        {"type": "Hashtag", "href": "https://a.example/tags/aivideo", "name": "#aivideo"},
    ]
    # The terms used are in the Note's context (Mastodon's names).
    terms = note["@context"][1]
    assert {"blurhash", "focalPoint", "Hashtag", "sensitive"} <= set(terms)
    # The same Note inside the Create (the outbox) and from the /activity URL.
    create_doc = (await a.client.get(f"{post.uri}/activity", headers=AP)).json()
    assert create_doc["type"] == "Create" and create_doc["object"]["attachment"] == note["attachment"]


async def test_update_carries_the_attachments(world: Fediverse, ab: tuple[Instance, Instance]) -> None:
    a, b = ab
    post, media, _ = await video_on_b(world, a, b)
    updates = [
        json.loads(r.content)
        for r in world.transport.posts_to("b.example")
        if json.loads(r.content).get("type") == "Update"
    ]
    assert updates, "no Update delivered"
    [document] = updates[-1]["object"]["attachment"]
    assert document["type"] == "Document" and document["mediaType"] == "video/mp4"
    assert document["url"] == f"https://a.example/media/{media.file_path}"
    assert any(t["type"] == "Hashtag" and t["name"] == "#clip" for t in updates[-1]["object"]["tag"])


# --- two instances: B receives, shows, caches and serves --------------------------------------


async def test_video_post_reaches_b_is_cached_and_served_with_ranges(
    world: Fediverse, ab: tuple[Instance, Instance]
) -> None:
    a, b = ab
    post, media, on_b = await video_on_b(world, a, b)
    assert on_b.sensitive and on_b.summary == "flashing lights"
    [copy] = await media_of(b, on_b.id)
    remote_url = f"https://a.example/media/{media.file_path}"
    assert copy.remote_url == remote_url
    assert copy.thumbnail_remote_url == f"https://a.example/media/{media.thumbnail_path}"
    assert copy.remote_domain == "a.example"
    # The cache job ran (settle): B holds the same bytes, content-addressed.
    assert copy.file_path == media.file_path and copy.sha256 == media.sha256
    assert copy.size_bytes == len(MP4) and copy.cached_at is not None and copy.error is None
    assert copy.thumbnail_path == media.thumbnail_path

    token = await token_for(b, "bob")
    entity = await api_status(b, token, on_b.id)
    [attachment] = entity["media_attachments"]
    assert attachment["type"] == "video"
    assert attachment["url"] == f"https://b.example/media/{media.file_path}"
    assert attachment["preview_url"] == f"https://b.example/media/{media.thumbnail_path}"
    assert attachment["remote_url"] == remote_url
    assert attachment["preview_remote_url"] == copy.thumbnail_remote_url
    assert attachment["description"] == "A red square pulses"
    assert attachment["blurhash"] == BLURHASH
    assert attachment["meta"]["original"]["width"] == 1280 and attachment["meta"]["original"]["height"] == 720
    assert attachment["meta"]["focus"] == {"x": 0.25, "y": -0.5}
    assert entity["tags"][0]["name"] == "clip"

    assert b.client is not None
    served = await b.client.get(f"/media/{copy.file_path}", headers={"Range": "bytes=0-99"})
    assert served.status_code == 206
    assert served.content == MP4[:100]
    assert served.headers["content-range"] == f"bytes 0-99/{len(MP4)}"
    assert served.headers["content-type"].startswith("video/mp4")


async def test_create_with_video_is_stored_with_media_and_cache_job(
    world: Fediverse, ab: tuple[Instance, Instance]
) -> None:
    a, b = ab
    post = await create(a, "alice", "direct fetch")
    media = await attach_video(a, post)
    # B fetches the post (as it does for a boost or a search): the Note has the Document.
    from fedisora.federation.handlers.interactions import fetch_post

    async with b.state.sessions() as session:
        stored = await fetch_post(session, b.state, post.uri)
        await session.commit()
    [row] = await media_of(b, stored.id)
    assert row.file_path is None and row.remote_url == f"https://a.example/media/{media.file_path}"
    assert row.media_type == "video" and row.mime_type == "video/mp4" and row.blurhash == BLURHASH
    assert row.meta["width"] == 1280 and row.meta["height"] == 720
    assert (row.focus_x, row.focus_y) == (0.25, -0.5)
    # Before the copy, the client API shows the remote file and the remote thumbnail.
    token = await token_for(b, "bob")
    [attachment] = (await api_status(b, token, stored.id))["media_attachments"]
    assert attachment["url"] == row.remote_url and attachment["preview_url"] == row.thumbnail_remote_url
    assert [j.payload for j in await cache_jobs(b)][-1] == {"media_id": row.id}
    await world.settle()
    [row] = await media_of(b, stored.id)
    assert row.file_path == media.file_path


# --- limits and failures ---------------------------------------------------------------------


async def assert_remote_only(b: Instance, status: Status, remote_url: str) -> dict[str, Any]:
    [row] = await media_of(b, status.id)
    assert row.file_path is None and row.remote_url == remote_url
    token = await token_for(b, "bob")
    entity = await api_status(b, token, status.id)
    [attachment] = entity["media_attachments"]
    assert attachment["url"] == remote_url
    return {"row": row, "entity": entity}


async def test_size_limit_keeps_media_remote(world: Fediverse, ab: tuple[Instance, Instance]) -> None:
    a, b = ab
    b.config.media.max_remote_bytes = 4096  # the video is 8 KiB
    post, media, on_b = await video_on_b(world, a, b)
    found = await assert_remote_only(b, on_b, f"https://a.example/media/{media.file_path}")
    assert "too large" in found["row"].error
    assert not remote.needs_copy(b.config, found["row"])  # final: not fetched again on every view
    assert on_b.content and found["entity"]["content"]


async def test_domain_quota_keeps_media_remote(world: Fediverse, ab: tuple[Instance, Instance]) -> None:
    a, b = ab
    b.config.media.remote_domain_quota_bytes = len(MP4) + 100
    async with b.state.sessions() as session:
        alice = (await session.exec(select(Actor).where(Actor.uri == "https://a.example/users/alice"))).one()
        # Already cached for a.example: almost the whole quota.
        session.add(MediaAttachment(actor_id=alice.id, remote_url="https://a.example/media/x.mp4", file_path="aa/bb/x.mp4",
                                    size_bytes=len(MP4) // 2, remote_domain="a.example", cached_at=utcnow(),
                                    state=MediaState.READY.value))
        await session.commit()
    post, media, on_b = await video_on_b(world, a, b)
    found = await assert_remote_only(b, on_b, f"https://a.example/media/{media.file_path}")
    assert "quota" in found["row"].error


async def test_quota_spent_refuses_without_fetching(world: Fediverse, ab: tuple[Instance, Instance]) -> None:
    a, b = ab
    b.config.media.remote_domain_quota_bytes = 0
    before = len(world.transport.requests)
    post, media, on_b = await video_on_b(world, a, b)
    found = await assert_remote_only(b, on_b, f"https://a.example/media/{media.file_path}")
    assert "quota" in found["row"].error
    fetched = [r for r in world.transport.requests[before:] if r.url.path.startswith("/media/")]
    assert fetched == []


async def test_cache_disabled(world: Fediverse, ab: tuple[Instance, Instance]) -> None:
    a, b = ab
    b.config.media.remote_cache = False
    post, media, on_b = await video_on_b(world, a, b)
    found = await assert_remote_only(b, on_b, f"https://a.example/media/{media.file_path}")
    assert found["row"].error is None and found["row"].cached_at is None


async def test_remote_file_gone_keeps_status(world: Fediverse, ab: tuple[Instance, Instance]) -> None:
    a, b = ab
    post = await create(a, "alice", "soon gone")
    media = await attach_video(a, post)
    Storage.from_config(a.config).delete(media.file_path or "")  # A answers 404 for it
    await edit(a, post, "soon gone (edited)")
    await world.settle()
    on_b = await status_by_uri(b, post.uri)
    found = await assert_remote_only(b, on_b, f"https://a.example/media/{media.file_path}")
    assert "404" in found["row"].error and not found["row"].error.startswith(remote.TEMPORARY)


async def test_remote_timeout_keeps_status(
    world: Fediverse, ab: tuple[Instance, Instance], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = ab

    async def slow(scope: Any, receive: Any, send: Any) -> None:
        await asyncio.sleep(5)

    world.transport.apps["slow.example"] = httpx.ASGITransport(app=slow)
    monkeypatch.setattr(remote, "fetch_timeout", lambda config: 0.2)
    on_b = await _remote_note(world, b, "https://slow.example/v.mp4")
    [row] = await media_of(b, on_b.id)
    assert row.error is not None and row.error.startswith(remote.TEMPORARY) and "timed out" in row.error
    token = await token_for(b, "bob")
    [attachment] = (await api_status(b, token, on_b.id))["media_attachments"]
    assert attachment["url"] == "https://slow.example/v.mp4"


async def test_a_temporary_failure_is_retried_by_the_job(
    world: Fediverse, ab: tuple[Instance, Instance], tmp_path: Path
) -> None:
    """The origin answers 503 twice, then the file: the job copies it on its third try,
    without anyone viewing the status again."""
    _, b = ab
    clip = make_video(tmp_path / "flaky.mp4", seconds=0.5, width=160, height=96).read_bytes()
    tries: list[str] = []

    async def flaky(scope: Any, receive: Any, send: Any) -> None:
        tries.append(scope["path"])
        if len(tries) <= 2:
            await send({"type": "http.response.start", "status": 503, "headers": [(b"retry-after", b"1")]})
            await send({"type": "http.response.body", "body": b"busy"})
            return
        headers = [(b"content-type", b"video/mp4"), (b"content-length", str(len(clip)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": clip})

    world.transport.apps["flaky.example"] = httpx.ASGITransport(app=flaky)
    on_b = await _remote_note(world, b, "https://flaky.example/v.mp4")
    [row] = await media_of(b, on_b.id)
    assert row.file_path is None and (row.error or "").startswith(remote.TEMPORARY) and "503" in row.error
    for _ in range(2):
        await world.make_due(b)  # skip the back-off
        await world.settle()
    assert len(tries) == 3
    [row] = await media_of(b, on_b.id)
    assert row.file_path and row.error is None and row.size_bytes == len(clip)
    async with b.state.sessions() as session:
        [job] = (await session.exec(select(Job).where(Job.kind == remote.CACHE_REMOTE_MEDIA))).all()
    assert job.state == "done" and job.attempts == 3


async def test_not_media_is_refused(world: Fediverse, ab: tuple[Instance, Instance]) -> None:
    a, b = ab
    world.add_documents("files.example", {"https://files.example/v.mp4": {"not": "a video"}})
    on_b = await _remote_note(world, b, "https://files.example/v.mp4")
    [row] = await media_of(b, on_b.id)
    assert row.file_path is None and row.error == "not a media file"


async def _remote_note(world: Fediverse, b: Instance, video_url: str) -> Status:
    """A Mastodon-shaped Note with one video at ``video_url``, delivered to B and settled."""
    peers = Peers(world, b)
    admin = "https://mastodon.example/users/admin"
    peers.serve(actor_like(MASTODON_PERSON, admin, "admin"))
    activity = fixture("mastodon-create-note-video.json")
    activity["object"]["attachment"][0]["url"] = video_url
    activity["object"]["attachment"][0].pop("icon")
    await _deliver_to_b(peers, b, activity)
    return await status_by_uri(b, activity["object"]["id"])


async def _deliver_to_b(peers: Peers, b: Instance, activity: dict[str, Any]) -> None:
    from tests.federation import signed_post
    from tests.test_interop_processing import peer_key

    assert b.client is not None
    response = await signed_post(
        b.client, "https://b.example/inbox", activity, f"{activity['actor']}#main-key", peer_key().private_pem
    )
    assert response.status_code == 202, response.text
    await peers.world.settle()


# --- expiry and re-fetch ----------------------------------------------------------------------


async def test_expiry_drops_copies_and_a_view_fetches_again(world: Fediverse, ab: tuple[Instance, Instance]) -> None:
    a, b = ab
    post, media, on_b = await video_on_b(world, a, b)
    [copy] = await media_of(b, on_b.id)
    assert copy.file_path is not None
    storage = Storage.from_config(b.config)
    assert storage.exists(copy.file_path)

    # Not yet old enough: kept.
    assert await remote.expire_remote_media(b.state.engine, b.config) == 0
    later = utcnow() + timedelta(days=b.config.media.remote_cache_days + 1)
    assert await remote.expire_remote_media(b.state.engine, b.config, now=later) == 1
    [expired] = await media_of(b, on_b.id)
    assert expired.file_path is None and expired.thumbnail_path is None
    assert expired.remote_url == copy.remote_url and expired.cached_at is not None
    assert not storage.exists(copy.file_path) and not storage.exists(copy.thumbnail_path or "")

    # Shown again: the remote URL meanwhile, and a fetch is queued.
    token = await token_for(b, "bob")
    [attachment] = (await api_status(b, token, on_b.id))["media_attachments"]
    assert attachment["url"] == copy.remote_url
    await remote.wait_for_requests()
    assert any(j.payload == {"media_id": copy.id} and j.state == "pending" for j in await cache_jobs(b))
    await world.settle()
    [again] = await media_of(b, on_b.id)
    assert again.file_path == copy.file_path and storage.exists(copy.file_path)
    [attachment] = (await api_status(b, token, on_b.id))["media_attachments"]
    assert attachment["url"] == f"https://b.example/media/{copy.file_path}"


async def test_expiry_keeps_files_other_rows_use(world: Fediverse, ab: tuple[Instance, Instance]) -> None:
    a, b = ab
    post, media, on_b = await video_on_b(world, a, b)
    [copy] = await media_of(b, on_b.id)
    # Bob posts the very same bytes on B: same content address.
    mine = await create(b, "bob", "same file")
    await attach_video(b, mine)
    later = utcnow() + timedelta(days=b.config.media.remote_cache_days + 1)
    assert await remote.expire_remote_media(b.state.engine, b.config, now=later) == 1
    assert Storage.from_config(b.config).exists(copy.file_path or "")


async def test_maintenance_runs_expiry(world: Fediverse, ab: tuple[Instance, Instance]) -> None:
    a, b = ab
    post, media, on_b = await video_on_b(world, a, b)
    async with b.state.sessions() as session:
        [row] = (await session.exec(select(MediaAttachment).where(MediaAttachment.status_id == on_b.id))).all()
        row.cached_at = utcnow() - timedelta(days=b.config.media.remote_cache_days + 1)
        await session.commit()
    from fedisora.workers import MAINTENANCE
    from fedisora.jobs import queue

    await queue.enqueue(b.state.engine, MAINTENANCE, {})
    assert b.runner is not None
    while await b.runner.run_once():
        pass
    [row] = await media_of(b, on_b.id)
    assert row.file_path is None


# --- real servers' documents -----------------------------------------------------------------


def _actor(world: Fediverse, b: Instance, uri: str, username: str) -> Peers:
    peers = Peers(world, b)
    peers.serve(actor_like(MASTODON_PERSON, uri, username))
    return peers


async def _receive(world: Fediverse, b: Instance, name: str) -> tuple[Status, list[MediaAttachment]]:
    activity = fixture(name)
    if activity.get("type") == "Video":  # PeerTube: the Video as fetched; its Create (send-create.ts)
        video = activity
        activity = {
            "@context": video["@context"],
            "id": f"{video['id']}/activity",
            "type": "Create",
            "actor": video["attributedTo"][0]["id"],
            "to": video["to"],
            "cc": video["cc"],
            "object": {k: v for k, v in video.items() if k != "@context"},
        }
    actor = activity["actor"]
    peers = _actor(world, b, actor, actor.rstrip("/").rsplit("/", 1)[-1])
    await _deliver_to_b(peers, b, activity)
    status = await status_by_uri(b, activity["object"]["id"])
    return status, await media_of(b, status.id)


async def test_mastodon_video_note(world: Fediverse, ab: tuple[Instance, Instance]) -> None:
    a, b = ab
    status, [media] = await _receive(world, b, "mastodon-create-note-video.json")
    assert status.sensitive and status.summary == "flashing lights"
    assert media.media_type == "video" and media.mime_type == "video/mp4"
    assert media.remote_url.endswith("/original/6a1f0c2d9e8b7a65.mp4")
    assert media.thumbnail_remote_url and media.thumbnail_remote_url.endswith("/small/6a1f0c2d9e8b7a65.jpg")
    assert media.description == "A car drives through a tunnel at night"
    assert media.blurhash == BLURHASH and media.meta == {"width": 1280, "height": 720}
    assert (media.focus_x, media.focus_y) == (0.0, 0.0)
    assert media.remote_domain == "mastodon.example"
    # files.mastodon.example does not answer: the copy failed, the status shows the remote file.
    assert media.file_path is None and (media.error or "").startswith(remote.TEMPORARY)
    token = await token_for(b, "bob")
    entity = await api_status(b, token, status.id)
    [attachment] = entity["media_attachments"]
    assert attachment["url"] == media.remote_url and attachment["preview_url"] == media.thumbnail_remote_url
    assert entity["spoiler_text"] == "flashing lights" and entity["tags"] == [
        {"name": "video", "url": "https://b.example/tags/video"}
    ]


async def test_gotosocial_video_note(world: Fediverse, ab: tuple[Instance, Instance]) -> None:
    a, b = ab
    status, [media] = await _receive(world, b, "gotosocial-note-video.json")
    assert media.media_type == "video" and media.mime_type == "video/mp4"
    assert media.remote_url.endswith("/01JDQ4YZ9QW6T2H1X8J5M0N3PB.mp4")
    assert media.description == "Waves rolling onto a pebble beach"
    assert media.blurhash == "LEHV6nWB2yk8pyo0adR*.7kCMdnj"
    assert media.meta == {"width": 720, "height": 1280} and (media.focus_x, media.focus_y) == (-0.5, 0.25)
    assert media.thumbnail_remote_url is None and not status.sensitive


async def test_pixelfed_video_note(world: Fediverse, ab: tuple[Instance, Instance]) -> None:
    a, b = ab
    status, [media] = await _receive(world, b, "pixelfed-create-note-video.json")
    assert media.media_type == "video" and media.mime_type == "video/mp4"
    assert media.remote_url.endswith("/1a2b3c4d5e6f.mp4")
    assert media.description == "Fog drifting over still water at sunrise"
    assert media.meta == {"width": 1080, "height": 1920}


async def test_misskey_sensitive_video(world: Fediverse, ab: tuple[Instance, Instance]) -> None:
    a, b = ab
    status, [media] = await _receive(world, b, "misskey-note-video.json")
    assert media.media_type == "video" and media.description is None and media.blurhash is None
    assert media.remote_url.endswith("webpublic-0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b.mp4")
    assert status.sensitive


async def test_loops_video_with_preview(world: Fediverse, ab: tuple[Instance, Instance]) -> None:
    a, b = ab
    status, [media] = await _receive(world, b, "loops-create-note-video.json")
    assert media.media_type == "video" and media.remote_url == "https://cdn.loops.example/videos/4242/987654321/h264.mp4"
    assert media.thumbnail_remote_url == "https://cdn.loops.example/videos/4242/987654321/thumb.jpg"
    assert media.meta["duration"] == 12.5 and media.meta["width"] == 1080 and media.meta["height"] == 1920
    assert media.description == "A skateboarder tries a kickflip in an empty car park"
    token = await token_for(b, "bob")
    [attachment] = (await api_status(b, token, status.id))["media_attachments"]
    assert attachment["preview_url"] == media.thumbnail_remote_url
    assert attachment["meta"]["original"]["duration"] == 12.5


async def test_peertube_video_picks_the_best_mp4(world: Fediverse, ab: tuple[Instance, Instance]) -> None:
    a, b = ab
    status, [media] = await _receive(world, b, "peertube-video-variants.json")
    uuid = "5f3c1a2b-9d8e-4f70-a1b2-c3d4e5f60718"
    # 2160p is over the 1080 limit; the progressive 1080p wins over HLS's fragmented one.
    assert media.remote_url == f"https://peertube.example/static/web-videos/{uuid}-1080.mp4"
    assert media.mime_type == "video/mp4" and media.media_type == "video"
    assert media.meta["width"] == 1920 and media.meta["height"] == 1080 and media.meta["fps"] == 30
    assert media.meta["duration"] == 242.0 and media.meta["length"] == "0:04:02.00"
    assert media.thumbnail_remote_url == f"https://peertube.example/lazy-static/previews/{uuid}.jpg"  # the largest icon
    assert media.description == "Building a wooden canoe, part 3"
    assert status.object_type == "Video" and "Building a wooden canoe" in status.content
    token = await token_for(b, "bob")
    [attachment] = (await api_status(b, token, status.id))["media_attachments"]
    assert attachment["type"] == "video" and attachment["meta"]["original"]["duration"] == 242.0


async def test_peertube_hls_only_video(world: Fediverse, ab: tuple[Instance, Instance]) -> None:
    a, b = ab
    status, [media] = await _receive(world, b, "peertube-video-hls-only.json")
    assert media.remote_url.endswith("-1080-fragmented.mp4")


# --- pieces ----------------------------------------------------------------------------------


def test_choose_video_variants() -> None:
    video = json.loads((DATA / "peertube-video-variants.json").read_text())
    assert choose_video(video["url"], max_resolution=720)["href"].endswith("-720.mp4")  # type: ignore[index]
    assert choose_video(video["url"], max_resolution=4320)["href"].endswith("-2160.mp4")  # type: ignore[index]
    # Sizes count: nothing progressive fits 20 MB but 360p.
    assert choose_video(video["url"], max_bytes=20_000_000)["href"].endswith("-360.mp4")  # type: ignore[index]
    # Nothing fits: the smallest mp4.
    assert choose_video(video["url"], max_resolution=100)["href"].endswith("-360.mp4")  # type: ignore[index]
    # Old PeerTube (mimeType, width as the resolution).
    old = json.loads((DATA / "peertube-video.json").read_text())
    assert choose_video(old["url"])["href"].endswith("-720.mp4")  # type: ignore[index]
    assert choose_video([{"type": "Link", "mediaType": "application/x-bittorrent", "href": "https://x/t"}]) is None


def test_duration_and_blurhash() -> None:
    assert duration_of("PT42S") == 42.0
    assert duration_of("PT1M2.5S") == 62.5
    assert duration_of("PT1H") == 3600.0
    assert duration_of(12) == 12.0
    assert duration_of("42 seconds") is None and duration_of("P") is None and duration_of(True) is None
    assert valid_blurhash(BLURHASH) == BLURHASH  # 4×4
    assert valid_blurhash("LEHV6nWB2yk8pyo0adR*.7kCMdnj") is not None  # 4×3
    # 6×1 components: Mastodon drops it.
    assert valid_blurhash("5" + "0" * 15) is None
    assert valid_blurhash("LEHV6nWB2yk8pyo0adR*.7kCMdn") is None  # truncated
    assert valid_blurhash("not a blurhash!") is None


def test_sniff_media() -> None:
    assert remote.sniff_media(MP4) == ("video/mp4", "mp4")
    assert remote.sniff_media(png()) == ("image/png", "png")
    assert remote.sniff_media(b"\x1a\x45\xdf\xa3" + b"\x00" * 40) == ("video/webm", "webm")
    assert remote.sniff_media(b"\x00\x00\x00\x1cftypqt  \x00\x00\x02\x00") == ("video/quicktime", "mov")
    # HEIF stills are images, never MP4 videos: AVIF when a compatible brand says so, else refused (HEIC)
    assert remote.sniff_media(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic") is None
    assert remote.sniff_media(b"\x00\x00\x00\x14ftypmif1\x00\x00\x00\x00heix") is None
    assert remote.sniff_media(b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1avif") == ("image/avif", "avif")
    assert remote.sniff_media(b"\x00\x00\x00\x14ftypmsf1\x00\x00\x00\x00avis") == ("image/avif", "avif")
    assert remote.sniff_media(b"<html><body>404</body></html>") is None
    assert remote.sniff_media(b"") is None


async def test_fetch_file_limits() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/big-declared":
            return httpx.Response(200, headers={"content-length": "999999"}, content=b"x" * 10)
        if request.url.path == "/big-stream":
            async def chunks() -> Any:
                for _ in range(10):
                    yield b"x" * 1000
            return httpx.Response(200, content=chunks())
        if request.url.path == "/moved":
            return httpx.Response(302, headers={"location": "/ok"})
        if request.url.path == "/private":
            return httpx.Response(302, headers={"location": "https://127.0.0.1/ok"})
        if request.url.path == "/ok":
            assert request.headers["accept-encoding"] == "identity"
            return httpx.Response(200, headers={"content-type": "video/mp4"}, content=MP4)
        return httpx.Response(404)

    client = FederationClient(user_agent="t", transport=httpx.MockTransport(handler))
    async with client:
        out = io.BytesIO()
        got = await client.fetch_file("https://files.example/moved", out, max_bytes=len(MP4))
        assert out.getvalue() == MP4 and got.size == len(MP4) and got.url_final == "https://files.example/ok"
        for path in ("/big-declared", "/big-stream"):
            with pytest.raises(FetchError, match="too large"):
                await client.fetch_file(f"https://files.example{path}", io.BytesIO(), max_bytes=5000)
        with pytest.raises(FetchError, match="unsafe"):
            await client.fetch_file("https://files.example/private", io.BytesIO(), max_bytes=5000)
        with pytest.raises(FetchError) as missing:
            await client.fetch_file("https://files.example/nope", io.BytesIO(), max_bytes=5000)
        assert missing.value.status == 404


async def test_remote_update_changes_media(world: Fediverse, ab: tuple[Instance, Instance]) -> None:
    a, b = ab
    status, [first] = await _receive(world, b, "mastodon-create-note-video.json")
    activity = fixture("mastodon-create-note-video.json")
    note = activity["object"]
    note["updated"] = "2026-11-20T11:00:00Z"
    note["attachment"][0]["name"] = "A car leaves a tunnel at night"
    note["attachment"].append({"type": "Document", "mediaType": "image/png", "url": "https://files.mastodon.example/b.png",
                               "name": None, "blurhash": "5" + "0" * 15})
    update = {"@context": activity["@context"], "id": f"{note['id']}#updates/1", "type": "Update",
              "actor": activity["actor"], "to": note["to"], "cc": note["cc"], "object": note}
    await _deliver_to_b(Peers(world, b), b, update)
    kept, added = await media_of(b, status.id)
    assert kept.id == first.id and kept.description == "A car leaves a tunnel at night"
    assert added.media_type == "image" and added.blurhash is None  # 6×1 components: dropped
    assert {j.payload["media_id"] for j in await cache_jobs(b)} >= {first.id, added.id}
    # The video removed by a later edit is detached, not shown.
    note["attachment"] = note["attachment"][1:]
    update = dict(update, id=f"{note['id']}#updates/2", object=note)
    await _deliver_to_b(Peers(world, b), b, update)
    assert [m.id for m in await media_of(b, status.id)] == [added.id]


def test_needs_copy_rules() -> None:
    from instance_config import parse_config, render_config

    config = parse_config(render_config("c.example"), env={})
    now = utcnow()
    row = MediaAttachment(actor_id=1, remote_url="https://x.example/v.mp4", state="ready", updated_at=now)
    assert not remote.needs_copy(config, row)  # never copied: its first job is already queued
    row.cached_at = now - timedelta(days=30)
    assert remote.needs_copy(config, row)  # the copy expired
    row.error = "https://x.example/v.mp4: HTTP 404 (HTTP 404)"
    assert not remote.needs_copy(config, row)  # final
    row.error = remote.TEMPORARY + "timed out"
    assert not remote.needs_copy(config, row, now)
    assert remote.needs_copy(config, row, now + remote.RETRY_TEMPORARY_AFTER)
    config.media.remote_cache = False
    assert not remote.needs_copy(config, row, now + remote.RETRY_TEMPORARY_AFTER)


async def test_cache_quota_and_expiry_on_each_database(world: Fediverse, database_url: str) -> None:
    """The cache's queries (quota sums, expiry, dedupe) on SQLite and PostgreSQL."""
    a = await world.add("a.example")
    b = await world.add("b.example", database_url)
    await a.create_account("alice")
    await b.create_account("bob")
    await follow(b, "bob", "@alice@a.example")
    await world.settle()
    post, media, on_b = await video_on_b(world, a, b)
    [copy] = await media_of(b, on_b.id)
    assert copy.file_path == media.file_path and copy.size_bytes == len(MP4)
    # A second video from a.example no longer fits a quota of one and a half files.
    b.config.media.remote_domain_quota_bytes = len(MP4) * 3 // 2
    second, other, on_b2 = await video_on_b(world, a, b, data=MP4 + b"more")
    [row] = await media_of(b, on_b2.id)
    assert row.file_path is None and "quota" in (row.error or "")
    later = utcnow() + timedelta(days=b.config.media.remote_cache_days + 1)
    assert await remote.expire_remote_media(b.state.engine, b.config, now=later) == 1
    token = await token_for(b, "bob")
    await api_status(b, token, on_b.id)
    await api_status(b, token, on_b.id)  # twice: still one job
    await remote.wait_for_requests()
    pending = [j for j in await cache_jobs(b) if j.state == "pending"]
    assert [j.payload for j in pending] == [{"media_id": copy.id}]
    await world.settle()
    [again] = await media_of(b, on_b.id)
    assert again.file_path == copy.file_path and again.cached_at is not None and again.cached_at > copy.cached_at
