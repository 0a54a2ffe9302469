"""fedisora.convert: our rows as Mastodon 4.3 entities, on SQLite and PostgreSQL.

The expected fields, their types and nullability are written out here from
docs.joinmastodon.org/entities (Account, Status, MediaAttachment, Mention,
Tag, Relationship, Context, Notification, Marker, Application, Error, Role,
Field/Source), not read back from our code.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from fedisora import convert
from fedisora.accounts.service import create_account, ensure_instance_actor
from fedisora.db.models import (
    Actor,
    ActorType,
    Block,
    Domain,
    Follow,
    FollowState,
    Like,
    MediaAttachment,
    MediaState,
    Mention,
    Status,
    utcnow,
)
from fedisora.state import AppState
from instance_config import Config, parse_config, render_config

NONE = type(None)
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
MIDNIGHT = re.compile(r"^\d{4}-\d{2}-\d{2}T00:00:00\.000Z$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# ---- the documented shapes (Mastodon 4.3) -------------------------------------------------

ACCOUNT = {
    "id": str, "username": str, "acct": str, "url": str, "uri": str, "display_name": str,
    "note": str, "avatar": str, "avatar_static": str, "header": str, "header_static": str,
    "locked": bool, "fields": list, "emojis": list, "bot": bool, "group": bool,
    "discoverable": (bool, NONE), "indexable": bool, "hide_collections": (bool, NONE),
    "created_at": str, "last_status_at": (str, NONE), "statuses_count": int,
    "followers_count": int, "following_count": int,
}
LOCAL_ACCOUNT = {**ACCOUNT, "noindex": (bool, NONE), "roles": list}  # noindex and roles: local only
CREDENTIAL_ACCOUNT = {**LOCAL_ACCOUNT, "source": dict, "role": dict}
SOURCE = {
    "privacy": str, "sensitive": bool, "language": (str, NONE), "note": str, "fields": list,
    "follow_requests_count": int, "hide_collections": (bool, NONE), "discoverable": (bool, NONE),
    "indexable": bool,
}
ROLE = {"id": str, "name": str, "permissions": str, "color": str, "highlighted": bool}
PROFILE_ROLE = {"id": str, "name": str, "color": str}

STATUS = {
    "id": str, "uri": str, "url": (str, NONE), "created_at": str, "edited_at": (str, NONE),
    "account": dict, "content": str, "visibility": str, "sensitive": bool, "spoiler_text": str,
    "media_attachments": list, "mentions": list, "tags": list, "emojis": list,
    "reblogs_count": int, "favourites_count": int, "replies_count": int,
    "in_reply_to_id": (str, NONE), "in_reply_to_account_id": (str, NONE),
    "reblog": (dict, NONE), "poll": (dict, NONE), "card": (dict, NONE), "language": (str, NONE),
}
LOCAL_STATUS = {**STATUS, "application": (dict, NONE)}  # shown for local posts
VIEWER = {"favourited": bool, "reblogged": bool, "muted": bool, "bookmarked": bool, "filtered": list}
OWN = {**VIEWER, "pinned": bool}  # pinned: only on the viewer's own posts
MEDIA = {
    "id": str, "type": str, "url": (str, NONE), "preview_url": (str, NONE),
    "remote_url": (str, NONE), "preview_remote_url": (str, NONE), "text_url": (str, NONE),
    "meta": dict, "description": (str, NONE), "blurhash": (str, NONE),
    "fedisora": dict,  # ours: {state, progress, error} of processing
}
MEDIA_TYPES = {"unknown", "image", "gifv", "video", "audio"}
MENTION = {"id": str, "username": str, "url": str, "acct": str}
STATUS_TAG = {"name": str, "url": str}
TAG = {"name": str, "url": str, "history": list}
RELATIONSHIP = {
    "id": str, "following": bool, "showing_reblogs": bool, "notifying": bool,
    "languages": (list, NONE), "followed_by": bool, "blocking": bool, "blocked_by": bool,
    "muting": bool, "muting_notifications": bool, "requested": bool, "requested_by": bool,
    "domain_blocking": bool, "endorsed": bool, "note": str,
}
NOTIFICATION = {"id": str, "type": str, "created_at": str, "group_key": str, "account": dict}
MARKER = {"last_read_id": str, "version": int, "updated_at": str}
APPLICATION = {
    "id": str, "name": str, "website": (str, NONE), "scopes": list, "redirect_uris": list,
    "redirect_uri": str, "vapid_key": str,
}
CREDENTIAL_APPLICATION = {
    **APPLICATION, "client_id": str, "client_secret": str, "client_secret_expires_at": int,
}


def assert_shape(entity: dict[str, Any], shape: dict[str, Any]) -> None:
    """Exactly these keys, each of its documented type (``int`` never accepts a bool)."""
    assert set(entity) == set(shape), (
        f"missing {sorted(set(shape) - set(entity))}, extra {sorted(set(entity) - set(shape))}"
    )
    for key, kinds in shape.items():
        kinds = kinds if isinstance(kinds, tuple) else (kinds,)
        value = entity[key]
        ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
        assert ok, f"{key}: {value!r} is not {kinds}"


def assert_status(entity: dict[str, Any], *, local: bool, viewer: dict[str, Any] | None = None) -> None:
    assert_shape(entity, {**(LOCAL_STATUS if local else STATUS), **(viewer or {})})
    assert DATETIME.match(entity["created_at"])
    for media in entity["media_attachments"]:
        assert_shape(media, MEDIA)
        assert media["type"] in MEDIA_TYPES
    for item in entity["mentions"]:
        assert_shape(item, MENTION)
    for item in entity["tags"]:
        assert_shape(item, STATUS_TAG)


# ---- a small world ------------------------------------------------------------------------


@dataclass
class World:
    config: Config
    session: AsyncSession
    alice: Actor  # local admin
    bob: Actor  # local bot (Service)
    carol: Actor  # remote person
    post: Status  # alice's public post, mentioning carol, with a hashtag
    reply: Status  # carol's reply to it
    boost: Status  # bob's boost of it
    direct: Status  # alice's direct message to carol


def make_config(tmp_path: Path, database_url: str) -> Config:
    path = tmp_path / "instance.toml"
    path.write_text(render_config("video.example.org", database_url=database_url))
    return parse_config(path.read_text(), path=path, env={})


@pytest.fixture
async def world(tmp_path: Path, migrated_url: str) -> AsyncIterator[World]:
    config = make_config(tmp_path, migrated_url)
    state = AppState.open(config)
    try:
        async with state.sessions() as session:
            await ensure_instance_actor(session, config)
            alice = (await create_account(session, config, "alice", admin=True)).actor
            alice.display_name = "Alice"
            alice.summary = "<p>I make <strong>clips</strong> &amp; loops</p>"
            bob = (await create_account(session, config, "bob", bot=True)).actor
            session.add(Domain(domain="remote.example"))
            await session.flush()
            carol = Actor(
                uri="https://remote.example/users/carol",
                domain="remote.example",
                username="carol",
                username_key="carol",
                url="https://remote.example/@carol",
                icon_url="https://remote.example/avatars/carol.png",
                raw={"published": "2020-05-17T10:11:12Z"},
            )
            session.add(carol)
            await session.flush()
            published = datetime(2026, 3, 4, 5, 6, 7, 891234, tzinfo=UTC)
            post = Status(
                uri=f"{alice.uri}/statuses/1",
                url="https://video.example.org/@alice/1",
                actor_id=alice.id,
                local=True,
                content='<p>hi <span class="h-card">@carol</span> #Clips</p>',
                source_text="hi @carol@remote.example #Clips",
                language="en",
                published_at=published,
            )
            direct = Status(
                uri=f"{alice.uri}/statuses/2", actor_id=alice.id, local=True, visibility="direct",
                content="<p>psst</p>", source_text="psst", published_at=published + timedelta(days=1),
            )
            session.add_all([post, direct])
            await session.flush()
            session.add(Mention(status_id=post.id, actor_id=carol.id))
            reply = Status(
                uri="https://remote.example/notes/9",
                url="https://remote.example/@carol/9",
                actor_id=carol.id,
                content="<p>hello back</p>",
                in_reply_to_uri=post.uri,
                in_reply_to_id=post.id,
                raw={"tag": [{"type": "Hashtag", "name": "#Loops"},
                             {"type": "Mention", "href": alice.uri}]},
            )
            boost = Status(uri=f"{bob.uri}/statuses/3/activity", actor_id=bob.id, local=True, reblog_of_id=post.id)
            session.add_all([reply, boost, Like(actor_id=bob.id, status_id=post.id)])
            session.add(Follow(follower_id=carol.id, target_id=alice.id, state=FollowState.ACCEPTED.value))
            session.add(Follow(follower_id=bob.id, target_id=alice.id, state=FollowState.PENDING.value))
            session.add(Follow(follower_id=alice.id, target_id=carol.id, state=FollowState.PENDING.value))
            await session.flush()
            yield World(config, session, alice, bob, carol, post, reply, boost, direct)
    finally:
        await state.close()


# ---- timestamps ---------------------------------------------------------------------------


def test_iso_is_utc_with_milliseconds_and_z() -> None:
    assert convert.iso(datetime(2026, 11, 25, 8, 30, 0, 123999, tzinfo=UTC)) == "2026-11-25T08:30:00.123Z"
    assert convert.iso(datetime(2026, 11, 25)) == "2026-11-25T00:00:00.000Z"  # naive means UTC
    from datetime import timezone

    plus_two = timezone(timedelta(hours=2))
    assert convert.iso(datetime(2026, 1, 1, 1, 0, tzinfo=plus_two)) == "2025-12-31T23:00:00.000Z"
    assert convert.iso_date(datetime(2026, 1, 1, 1, 0, tzinfo=plus_two)) == "2025-12-31"


# ---- Account ------------------------------------------------------------------------------


async def test_local_account(world: World) -> None:
    entity = await convert.account(world.session, world.config, world.alice)
    assert_shape(entity, LOCAL_ACCOUNT)
    assert entity["id"] == str(world.alice.id)
    assert entity["acct"] == "alice" and entity["username"] == "alice"
    assert entity["url"] == "https://video.example.org/@alice"
    assert entity["uri"] == "https://video.example.org/users/alice"
    assert entity["note"] == world.alice.summary
    assert entity["bot"] is False and entity["group"] is False
    assert MIDNIGHT.match(entity["created_at"])
    assert entity["statuses_count"] == 1  # the direct message is not counted, as on Mastodon
    assert entity["followers_count"] == 1  # carol; bob's request is still pending
    assert entity["following_count"] == 0  # her request to carol is pending
    assert entity["last_status_at"] == "2026-03-04"  # the post, not the later direct message
    assert DATE.match(entity["last_status_at"])
    assert entity["avatar"] == "https://video.example.org/avatars/original/missing.png"
    assert entity["header"].endswith("/headers/original/missing.png")
    assert entity["avatar_static"] == entity["avatar"]
    assert entity["roles"] == [{"id": "2", "name": "Admin", "color": ""}]
    for role in entity["roles"]:
        assert_shape(role, PROFILE_ROLE)


async def test_bot_and_remote_accounts(world: World) -> None:
    bob = await convert.account(world.session, world.config, world.bob)
    assert bob["bot"] is True and bob["roles"] == []
    assert bob["last_status_at"] is not None and bob["statuses_count"] == 1  # the boost
    carol = await convert.account(world.session, world.config, world.carol)
    assert_shape(carol, ACCOUNT)  # no noindex/roles for remote accounts
    assert carol["acct"] == "carol@remote.example"
    assert carol["avatar"] == "https://remote.example/avatars/carol.png"
    assert carol["created_at"] == "2020-05-17T00:00:00.000Z"  # from its `published`, at midnight
    assert carol["following_count"] == 1 and carol["followers_count"] == 0


async def test_limited_and_suspended_accounts(world: World) -> None:
    world.config.moderation.limited_domains = ["remote.example"]
    limited = await convert.account(world.session, world.config, world.carol)
    assert_shape(limited, {**ACCOUNT, "limited": bool})
    assert limited["limited"] is True
    world.carol.suspended_at = utcnow()
    world.carol.display_name = "Carol"
    suspended = await convert.account(world.session, world.config, world.carol)
    assert_shape(suspended, {**ACCOUNT, "suspended": bool})
    assert suspended["suspended"] is True and suspended["display_name"] == "" and suspended["note"] == ""
    assert suspended["avatar"].endswith("/avatars/original/missing.png")


async def test_credential_account(world: World) -> None:
    entity = await convert.account(world.session, world.config, world.alice, source=True)
    assert_shape(entity, CREDENTIAL_ACCOUNT)
    assert_shape(entity["source"], SOURCE)
    assert entity["source"]["note"] == "I make clips & loops"  # plain text
    assert entity["source"]["follow_requests_count"] == 1  # bob
    assert entity["source"]["privacy"] in {"public", "unlisted", "private", "direct"}
    assert_shape(entity["role"], ROLE)
    assert entity["role"]["permissions"] == "1"
    plain = await convert.account(world.session, world.config, world.bob, source=True)
    assert plain["role"] == {"id": "-99", "name": "", "permissions": "0", "color": "", "highlighted": False}


async def test_account_cache_is_keyed_by_source(world: World) -> None:
    cache: convert.AccountCache = {}
    first = await convert.account(world.session, world.config, world.alice, cache=cache)
    assert await convert.account(world.session, world.config, world.alice, cache=cache) is first
    assert "source" in await convert.account(world.session, world.config, world.alice, source=True, cache=cache)


# ---- Status -------------------------------------------------------------------------------


async def test_status_signed_out(world: World) -> None:
    entity = await convert.status(world.session, world.config, world.post, viewer=None)
    assert_status(entity, local=True)
    assert entity["id"] == str(world.post.id)
    assert entity["created_at"] == "2026-03-04T05:06:07.891Z"
    assert entity["content"] == world.post.content
    assert entity["account"]["acct"] == "alice"
    assert entity["replies_count"] == 1 and entity["reblogs_count"] == 1 and entity["favourites_count"] == 1
    assert entity["mentions"] == [
        {"id": str(world.carol.id), "username": "carol", "url": "https://remote.example/@carol",
         "acct": "carol@remote.example"}
    ]
    assert entity["tags"] == [{"name": "clips", "url": "https://video.example.org/tags/clips"}]
    assert entity["reblog"] is None and entity["in_reply_to_id"] is None
    assert entity["application"] is None and entity["poll"] is None and entity["card"] is None


async def test_status_for_viewers(world: World) -> None:
    as_bob = await convert.status(world.session, world.config, world.post, viewer=world.bob)
    assert_status(as_bob, local=True, viewer=VIEWER)
    assert as_bob["favourited"] is True and as_bob["reblogged"] is True
    as_carol = await convert.status(world.session, world.config, world.post, viewer=world.carol)
    assert as_carol["favourited"] is False and as_carol["reblogged"] is False
    as_alice = await convert.status(world.session, world.config, world.post, viewer=world.alice)
    assert_status(as_alice, local=True, viewer=OWN)
    assert as_alice["pinned"] is False and as_alice["muted"] is False and as_alice["bookmarked"] is False


async def test_remote_reply(world: World) -> None:
    entity = await convert.status(world.session, world.config, world.reply, viewer=None)
    assert_status(entity, local=False)  # no `application` for remote posts
    assert entity["in_reply_to_id"] == str(world.post.id)
    assert entity["in_reply_to_account_id"] == str(world.alice.id)
    assert entity["url"] == "https://remote.example/@carol/9"
    assert entity["tags"] == [{"name": "loops", "url": "https://video.example.org/tags/loops"}]
    assert [m["acct"] for m in entity["mentions"]] == ["alice"]  # from the Mention tag


async def test_boost_nests_the_original(world: World) -> None:
    entity = await convert.status(world.session, world.config, world.boost, viewer=world.bob)
    assert_status(entity, local=True, viewer=VIEWER)  # a boost cannot be pinned
    assert entity["content"] == "" and entity["account"]["acct"] == "bob"
    assert entity["media_attachments"] == [] and entity["mentions"] == []
    reblog = entity["reblog"]
    assert reblog is not None
    assert_status(reblog, local=True, viewer=VIEWER)
    assert reblog["id"] == str(world.post.id) and reblog["account"]["acct"] == "alice"
    assert reblog["reblogged"] is True and reblog["favourited"] is True


async def test_source_requested_gives_text_instead_of_content(world: World) -> None:
    entity = await convert.status(world.session, world.config, world.post, viewer=world.alice, source=True)
    assert entity["text"] == "hi @carol@remote.example #Clips"
    assert "content" not in entity


async def test_deleted_statuses_are_refused(world: World) -> None:
    world.post.deleted_at = utcnow()
    with pytest.raises(ValueError):
        await convert.status(world.session, world.config, world.post, viewer=None)
    with pytest.raises(ValueError):
        await convert.status(world.session, world.config, world.boost, viewer=None)


async def test_media_attachments(world: World) -> None:
    video = MediaAttachment(
        actor_id=world.alice.id, status_id=world.post.id, media_type="video", state=MediaState.READY.value,
        mime_type="video/mp4", file_path="ab/cd/clip.mp4", thumbnail_path="ab/cd/clip.jpg",
        description="a cat", blurhash="LEHV6nWB2yk8pyo0adR*.7kCMdnj", focus_x=0.5, focus_y=-0.25,
        meta={"width": 1080, "height": 1920, "duration": 12.5, "frame_rate": "30/1"},
    )
    image = MediaAttachment(
        actor_id=world.carol.id, status_id=world.post.id, media_type="image", state=MediaState.READY.value,
        remote_url="https://remote.example/files/pic.png", meta={"width": 400, "height": 300},
    )
    pending = MediaAttachment(actor_id=world.alice.id, status_id=world.post.id, media_type="video")
    world.session.add_all([video, image, pending])
    await world.session.flush()
    entity = await convert.status(world.session, world.config, world.post, viewer=None)
    assert_status(entity, local=True)
    first, second, third = entity["media_attachments"]
    assert first["id"] == str(video.id) and first["type"] == "video"
    assert first["url"] == "https://video.example.org/media/ab/cd/clip.mp4"
    assert first["preview_url"] == "https://video.example.org/media/ab/cd/clip.jpg"
    assert first["remote_url"] is None and first["text_url"] is None and first["description"] == "a cat"
    assert first["meta"]["original"] == {
        "width": 1080, "height": 1920, "size": "1080x1920", "aspect": 1080 / 1920,
        "frame_rate": "30/1", "duration": 12.5,
    }
    assert first["meta"]["focus"] == {"x": 0.5, "y": -0.25}
    assert second["type"] == "image"
    assert second["url"] == second["remote_url"] == second["preview_url"] == "https://remote.example/files/pic.png"
    assert third["url"] is None  # still processing
    assert convert.media_attachment(world.config, video) == first


async def test_context_and_statuses(world: World) -> None:
    thread = await convert.context(world.session, world.config, [world.post], [world.reply], viewer=world.alice)
    assert set(thread) == {"ancestors", "descendants"}
    assert_status(thread["ancestors"][0], local=True, viewer=OWN)
    assert_status(thread["descendants"][0], local=False, viewer=VIEWER)
    many = await convert.statuses(world.session, world.config, [world.post, world.reply], viewer=None)
    assert [s["id"] for s in many] == [str(world.post.id), str(world.reply.id)]


# ---- Relationship -------------------------------------------------------------------------


async def test_relationship_follows_both_ways(world: World) -> None:
    alice_carol = await convert.relationship(world.session, world.alice, world.carol)
    assert_shape(alice_carol, RELATIONSHIP)
    assert alice_carol["id"] == str(world.carol.id)
    assert alice_carol["followed_by"] is True  # accepted
    assert alice_carol["following"] is False and alice_carol["requested"] is True  # pending
    assert alice_carol["showing_reblogs"] is True and alice_carol["note"] == ""
    carol_alice = await convert.relationship(world.session, world.carol, world.alice)
    assert carol_alice["following"] is True and carol_alice["requested_by"] is True
    assert carol_alice["followed_by"] is False and carol_alice["requested"] is False
    alice_bob = await convert.relationship(world.session, world.alice, world.bob)
    assert alice_bob["requested_by"] is True and alice_bob["followed_by"] is False
    assert alice_bob["following"] is False and alice_bob["showing_reblogs"] is False


async def test_relationship_blocks_both_ways(world: World) -> None:
    world.session.add(Block(actor_id=world.alice.id, target_id=world.carol.id))
    await world.session.flush()
    mine = await convert.relationship(world.session, world.alice, world.carol)
    assert mine["blocking"] is True and mine["blocked_by"] is False
    theirs = await convert.relationship(world.session, world.carol, world.alice)
    assert theirs["blocking"] is False and theirs["blocked_by"] is True
    nothing = await convert.relationship(world.session, world.bob, world.carol)
    assert not any(v for k, v in nothing.items() if k not in {"id", "note", "languages"})


# ---- the smaller entities -----------------------------------------------------------------


async def test_notification(world: World) -> None:
    now = utcnow()
    favourite = await convert.notification(
        world.session, world.config, id=42, type="favourite", created_at=now,
        account_actor=world.bob, status=world.post, viewer=world.alice,
    )
    assert_shape(favourite, {**NOTIFICATION, "status": dict})
    assert favourite["id"] == "42" and favourite["group_key"] == "ungrouped-42"
    assert DATETIME.match(favourite["created_at"])
    assert_status(favourite["status"], local=True, viewer=OWN)
    follow = await convert.notification(
        world.session, world.config, id=43, type="follow", created_at=now,
        account_actor=world.carol, status=None, viewer=world.alice,
    )
    assert_shape(follow, NOTIFICATION)
    with pytest.raises(ValueError):
        await convert.notification(
            world.session, world.config, id=44, type="mention", created_at=now,
            account_actor=world.carol, status=None, viewer=world.alice,
        )


def test_tag_marker_application_error(tmp_path: Path) -> None:
    config = make_config(tmp_path, "sqlite+aiosqlite:///unused.db")
    assert_shape(convert.tag(config, "clips"), TAG)
    assert convert.tag(config, "Clips")["url"] == "https://video.example.org/tags/clips"
    assert convert.tag(config, "clips", following=True)["following"] is True
    marker = convert.marker(2**62, 3, datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert_shape(marker, MARKER)
    assert marker == {"last_read_id": str(2**62), "version": 3, "updated_at": "2026-01-02T03:04:05.000Z"}
    app = convert.application(
        id=7, name="Tusky", website="https://tusky.app", scopes=["read", "write"],
        redirect_uris=["urn:ietf:wg:oauth:2.0:oob"],
    )
    assert_shape(app, APPLICATION)
    assert app["redirect_uri"] == "urn:ietf:wg:oauth:2.0:oob"
    creds = convert.application(
        id=7, name="Tusky", website=None, scopes=["read"], redirect_uris=["x:/cb", "y:/cb"],
        client_id="cid", client_secret="secret",
    )
    assert_shape(creds, CREDENTIAL_APPLICATION)
    assert creds["redirect_uri"] == "x:/cb\ny:/cb" and creds["website"] is None
    assert convert.status_application("Web", None) == {"name": "Web", "website": None}
    assert convert.error("Record not found") == {"error": "Record not found"}
    assert convert.error("invalid_grant", "The code expired") == {
        "error": "invalid_grant", "error_description": "The code expired"
    }
