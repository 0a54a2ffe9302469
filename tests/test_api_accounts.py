"""The accounts part of the Mastodon client API: /api/v1/accounts/…, blocks, mutes,
follow_requests and preferences, on SQLite and PostgreSQL, with a second in-process
instance for remote follows, WebFinger search and profile updates."""

from __future__ import annotations

import hashlib
import json
import re
import struct
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select

from fedisora.accounts.service import find_account
from fedisora.db.models import (
    Activity,
    Actor,
    ActorType,
    Follow,
    MediaAttachment,
    MediaState,
    Mute,
    Status,
    StatusTag,
    Visibility,
)
from fedisora.oauth import apps, tokens
from fedisora.processing import interactions, posts
from tests.federation import Fediverse, Instance
from tests.test_entities import (
    ACCOUNT,
    CREDENTIAL_ACCOUNT,
    LOCAL_ACCOUNT,
    RELATIONSHIP,
    SOURCE,
    assert_shape,
    assert_status,
)

HERE = "video.example.org"
THERE = "clips.example.net"
PASSWORD = "correct horse battery staple"


def tiny_png(rgb: tuple[int, int, int] = (1, 2, 3)) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    pixels = (b"\x00" + bytes(rgb) * 2) * 2
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(pixels)) + chunk(b"IEND", b"")


@dataclass
class World:
    fediverse: Fediverse
    here: Instance
    there: Instance

    async def user(self, instance: Instance, username: str, **kwargs: Any) -> Actor:
        return await instance.create_account(username, password=PASSWORD, email=f"{username}@mail.example", **kwargs)

    async def token(self, instance: Instance, username: str | None, scopes: str = "read write follow") -> dict[str, str]:
        """Authorization headers for a token of ``username`` (``None``: an app-only token)."""
        async with instance.state.sessions() as session:
            new = await apps.register_app(
                session, name="Tests", redirect_uris="urn:ietf:wg:oauth:2.0:oob",
                scopes="read write follow push profile",
            )  # fmt: skip
            user_id = None
            if username is not None:
                account = await find_account(session, username)
                assert account is not None and account.user.id is not None
                user_id = account.user.id
            issued = await tokens.issue_token(
                session, application_id=new.app.id, user_id=user_id, scopes=scopes.split()
            )
            await session.commit()
        return {"Authorization": f"Bearer {issued.access_token}"}

    async def settle(self) -> None:
        await self.fediverse.settle()


@pytest.fixture
async def world(tmp_path: Path, migrated_url: str) -> AsyncIterator[World]:
    fediverse = Fediverse(tmp_path)
    try:
        here = await fediverse.add(HERE, migrated_url)
        there = await fediverse.add(THERE)
        yield World(fediverse, here, there)
    finally:
        await fediverse.close()


def client(instance: Instance) -> httpx.AsyncClient:
    assert instance.client is not None
    return instance.client


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    return response.json()


def error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    body = response.json()
    assert isinstance(body, dict) and isinstance(body.get("error"), str)
    return str(body["error"])


def link_max_id(response: httpx.Response) -> str:
    match = re.search(r'<([^>]*[?&]max_id=(\d+)[^>]*)>; rel="next"', response.headers["link"])
    assert match, response.headers.get("link")
    return match.group(2)


async def post(instance: Instance, username: str, text: str, **kwargs: Any) -> Status:
    async with instance.state.sessions() as session:
        me = (await session.exec(select(Actor).where(Actor.local, Actor.username == username))).one()
        status = await posts.create_post(session, instance.state, me, text, **kwargs)
        await session.commit()
        return status


async def remote_id(world: World, instance: Instance, headers: dict[str, str], handle: str) -> str:
    """The id ``instance`` gives a remote account, found by search with ``resolve=true``."""
    found = await ok(await client(instance).get(
        "/api/v1/accounts/search", params={"q": handle, "resolve": "true"}, headers=headers
    ))  # fmt: skip
    assert len(found) == 1, found
    return str(found[0]["id"])


# ---- credentials -----------------------------------------------------------------------------


async def test_verify_credentials_and_scopes(world: World) -> None:
    alice = await world.user(world.here, "alice")
    c = client(world.here)
    me = await ok(await c.get("/api/v1/accounts/verify_credentials", headers=await world.token(world.here, "alice")))
    assert_shape(me, CREDENTIAL_ACCOUNT)
    assert_shape(me["source"], SOURCE)
    assert me["id"] == str(alice.id) and me["username"] == "alice" and me["acct"] == "alice"
    assert me["source"]["follow_requests_count"] == 0
    assert me["role"]["id"] == "-99"

    for scopes in ("profile", "read:accounts", "read"):
        headers = await world.token(world.here, "alice", scopes)
        assert (await c.get("/api/v1/accounts/verify_credentials", headers=headers)).status_code == 200
    error(await c.get("/api/v1/accounts/verify_credentials", headers=await world.token(world.here, "alice", "write")), 403)
    error(await c.get("/api/v1/accounts/verify_credentials"), 401)
    error(await c.get("/api/v1/accounts/verify_credentials", headers={"Authorization": "Bearer nope"}), 401)
    error(await c.get("/api/v1/accounts/verify_credentials", headers=await world.token(world.here, None)), 422)

    prefs = await ok(await c.get("/api/v1/preferences", headers=await world.token(world.here, "alice", "read:accounts")))
    assert prefs == {
        "posting:default:visibility": "public", "posting:default:sensitive": False,
        "posting:default:language": None, "reading:expand:media": "default",
        "reading:expand:spoilers": False, "reading:autoplay:gifs": False,
    }  # fmt: skip
    error(await c.get("/api/v1/preferences", headers=await world.token(world.here, "alice", "write")), 403)
    error(await c.get("/api/v1/preferences"), 401)

    preflight = await c.options(
        "/api/v1/accounts/verify_credentials",
        headers={"Origin": "https://elk.example", "Access-Control-Request-Method": "GET",
                 "Access-Control-Request-Headers": "authorization"},
    )  # fmt: skip
    assert preflight.status_code in (200, 204)
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert preflight.headers["access-control-allow-headers"] == "authorization"


async def test_update_credentials(world: World) -> None:
    alice = await world.user(world.here, "alice")
    c = client(world.here)
    headers = await world.token(world.here, "alice")
    note = "Hello #clips\nsecond line <b>not bold</b>"
    me = await ok(await c.patch(
        "/api/v1/accounts/update_credentials", headers=headers,
        data={"display_name": "Alice A.", "note": note, "locked": "true", "bot": "1",
              "discoverable": "false", "indexable": "true", "source[privacy]": "public"},
    ))  # fmt: skip
    assert_shape(me, CREDENTIAL_ACCOUNT)
    assert me["display_name"] == "Alice A."
    assert me["locked"] is True and me["bot"] is True
    assert me["discoverable"] is False and me["indexable"] is True
    assert me["note"].startswith("<p>") and "&lt;b&gt;not bold&lt;/b&gt;" in me["note"]
    assert 'href="https://video.example.org/tags/clips"' in me["note"]
    assert me["source"]["note"] == note
    async with world.here.state.sessions() as session:
        row = await session.get(Actor, alice.id)
        assert row is not None and row.actor_type == ActorType.SERVICE.value
        # the profile change was published (to no one yet: alice has no followers)
        updates = (await session.exec(select(Activity).where(Activity.activity_type == "Update"))).all()
        assert len(updates) == 1 and updates[0].raw["object"]["name"] == "Alice A."  # type: ignore[index]
        assert updates[0].raw["object"]["type"] == "Service"  # type: ignore[index]

    # JSON bodies, and switching back; nothing changed → nothing published
    me = await ok(await c.patch("/api/v1/accounts/update_credentials", headers=headers, json={"bot": False, "locked": False}))
    assert me["bot"] is False and me["locked"] is False
    await ok(await c.patch("/api/v1/accounts/update_credentials", headers=headers, json={"bot": False}))
    async with world.here.state.sessions() as session:
        count = len((await session.exec(select(Activity).where(Activity.activity_type == "Update"))).all())
        assert count == 2

    # Empty profile fields are fine (clients send them); real ones are not supported yet.
    await ok(await c.patch("/api/v1/accounts/update_credentials", headers=headers,
                           data={"fields_attributes[0][name]": "", "fields_attributes[0][value]": ""}))  # fmt: skip
    assert "not supported" in error(await c.patch(
        "/api/v1/accounts/update_credentials", headers=headers,
        data={"fields_attributes[0][name]": "Web", "fields_attributes[0][value]": "https://x.example"},
    ), 422)  # fmt: skip
    error(await c.patch("/api/v1/accounts/update_credentials", headers=headers,
                        json={"fields_attributes": [{"name": "a", "value": "b"}]}), 422)  # fmt: skip
    error(await c.patch("/api/v1/accounts/update_credentials", headers=headers, data={"display_name": "x" * 31}), 422)
    error(await c.patch("/api/v1/accounts/update_credentials", headers=headers, data={"note": "x" * 501}), 422)
    error(await c.patch("/api/v1/accounts/update_credentials", headers=headers, data={"locked": "maybe"}), 422)
    error(await c.patch("/api/v1/accounts/update_credentials", headers={**headers, "Content-Type": "application/json"},
                        content=b"{not json"), 400)  # fmt: skip
    me = await ok(await c.get("/api/v1/accounts/verify_credentials", headers=headers))
    assert me["display_name"] == "Alice A."  # the refused changes changed nothing

    error(await c.patch("/api/v1/accounts/update_credentials", headers=await world.token(world.here, "alice", "read"),
                        data={"display_name": "Nope"}), 403)  # fmt: skip
    error(await c.patch("/api/v1/accounts/update_credentials", data={"display_name": "Nope"}), 401)


async def test_avatar_and_header_upload(world: World) -> None:
    await world.user(world.here, "alice")
    c = client(world.here)
    headers = await world.token(world.here, "alice", "read write:accounts")
    avatar, header = tiny_png((10, 20, 30)), tiny_png((200, 100, 0))
    error(await c.patch(
        "/api/v1/accounts/update_credentials", headers=headers,
        data={"display_name": "x" * 31}, files={"avatar": ("me.png", avatar, "image/png")},
    ), 422)  # fmt: skip
    media_dir = world.here.config.media_dir
    assert not media_dir.exists() or not [p for p in media_dir.rglob("*") if p.is_file()]  # nothing stored
    me = await ok(await c.patch(
        "/api/v1/accounts/update_credentials", headers=headers,
        data={"display_name": "With Face"},
        files={"avatar": ("me.png", avatar, "image/png"), "header": ("wide.jpg", header, "image/jpeg")},
    ))  # fmt: skip
    sha = hashlib.sha256(avatar).hexdigest()
    assert me["avatar"] == f"https://{HERE}/media/{sha[:2]}/{sha[2:4]}/{sha}.png" == me["avatar_static"]
    assert me["header"].endswith(hashlib.sha256(header).hexdigest() + ".png")  # by content, not by name
    assert me["display_name"] == "With Face"
    served = await c.get(me["avatar"])
    assert served.status_code == 200 and served.content == avatar
    assert served.headers["content-type"] == "image/png"
    ranged = await c.get(me["header"], headers={"Range": "bytes=0-9"})
    assert ranged.status_code == 206 and ranged.content == header[:10]
    account = await ok(await c.get(f"/api/v1/accounts/{me['id']}"))
    assert account["avatar"] == me["avatar"]

    fake = b"\x89PNG\r\n\x1a\n" + b"<script>alert(1)</script>" * 4
    assert "PNG, JPEG, GIF or WebP" in error(await c.patch(
        "/api/v1/accounts/update_credentials", headers=headers, files={"avatar": ("a.png", fake, "image/png")}
    ), 422)  # fmt: skip
    # an empty file input (as browsers send one) changes nothing
    same = await ok(await c.patch(
        "/api/v1/accounts/update_credentials", headers=headers,
        files={"avatar": ("", b"", "application/octet-stream"), "note": (None, "bio")},
    ))  # fmt: skip
    assert same["avatar"] == me["avatar"] and same["source"]["note"] == "bio"
    error(await c.patch("/api/v1/accounts/update_credentials", headers={**headers, "Content-Type": "multipart/form-data"},
                        content=b"garbage"), 400)  # fmt: skip


async def test_remote_follower_receives_profile_update(world: World) -> None:
    await world.user(world.here, "alice")
    await world.user(world.there, "bob")
    alice_h = await world.token(world.here, "alice")
    bob_h = await world.token(world.there, "bob")
    alice_there = await remote_id(world, world.there, bob_h, f"alice@{HERE}")

    rel = await ok(await client(world.there).post(f"/api/v1/accounts/{alice_there}/follow", headers=bob_h))
    assert_shape(rel, RELATIONSHIP)
    assert rel["requested"] is True and rel["following"] is False  # until alice's server answers
    await world.settle()
    rels = await ok(await client(world.there).get(
        "/api/v1/accounts/relationships", params={"id[]": alice_there}, headers=bob_h
    ))  # fmt: skip
    assert rels[0]["following"] is True and rels[0]["requested"] is False
    followers = await ok(await client(world.here).get("/api/v1/accounts/verify_credentials", headers=alice_h))
    assert followers["followers_count"] == 1

    me = await ok(await client(world.here).patch(
        "/api/v1/accounts/update_credentials", headers=alice_h,
        data={"display_name": "Alice Renamed", "note": "new bio"},
        files={"avatar": ("a.png", tiny_png(), "image/png")},
    ))  # fmt: skip
    await world.settle()
    seen = await ok(await client(world.there).get(f"/api/v1/accounts/{alice_there}", headers=bob_h))
    assert seen["display_name"] == "Alice Renamed"
    assert seen["note"] == "<p>new bio</p>"
    assert seen["avatar"] == me["avatar"]
    assert seen["acct"] == f"alice@{HERE}"
    assert_shape(seen, ACCOUNT)
    # the Update(Person) went to the follower's server
    delivered = [json.loads(r.content) for r in world.fediverse.transport.posts_to(THERE)]
    update = next(a for a in delivered if a["type"] == "Update")
    assert update["object"]["type"] == "Person" and update["object"]["name"] == "Alice Renamed"
    assert update["actor"] == update["object"]["id"] == f"https://{HERE}/users/alice"

    # unfollow federates too
    rel = await ok(await client(world.there).post(f"/api/v1/accounts/{alice_there}/unfollow", headers=bob_h))
    assert rel["following"] is False and rel["requested"] is False
    await world.settle()
    me = await ok(await client(world.here).get("/api/v1/accounts/verify_credentials", headers=alice_h))
    assert me["followers_count"] == 0


async def test_remote_follow_with_manual_approval(world: World) -> None:
    await world.user(world.here, "alice")
    await world.user(world.there, "bob")
    alice_h = await world.token(world.here, "alice")
    bob_h = await world.token(world.there, "bob")
    await ok(await client(world.here).patch("/api/v1/accounts/update_credentials", headers=alice_h, data={"locked": "true"}))
    alice_there = await remote_id(world, world.there, bob_h, f"@alice@{HERE}")

    rel = await ok(await client(world.there).post(f"/api/v1/accounts/{alice_there}/follow", headers=bob_h))
    assert rel["requested"] is True
    await world.settle()
    rel = (await ok(await client(world.there).get(
        "/api/v1/accounts/relationships", params={"id": alice_there}, headers=bob_h
    )))[0]  # fmt: skip
    assert rel["requested"] is True and rel["following"] is False

    requests = await ok(await client(world.here).get("/api/v1/follow_requests", headers=alice_h))
    assert [r["acct"] for r in requests] == [f"bob@{THERE}"]
    assert_shape(requests[0], ACCOUNT)
    me = await ok(await client(world.here).get("/api/v1/accounts/verify_credentials", headers=alice_h))
    assert me["source"]["follow_requests_count"] == 1
    error(await client(world.here).get("/api/v1/follow_requests", headers=await world.token(world.here, "alice", "write")), 403)

    answer = await ok(await client(world.here).post(
        f"/api/v1/follow_requests/{requests[0]['id']}/authorize", headers=alice_h
    ))  # fmt: skip
    assert_shape(answer, RELATIONSHIP)
    assert answer["followed_by"] is True and answer["requested_by"] is False
    await world.settle()
    rel = (await ok(await client(world.there).get(
        "/api/v1/accounts/relationships", params={"id[]": alice_there}, headers=bob_h
    )))[0]  # fmt: skip
    assert rel["following"] is True and rel["requested"] is False
    assert await ok(await client(world.here).get("/api/v1/follow_requests", headers=alice_h)) == []
    error(await client(world.here).post(f"/api/v1/follow_requests/{requests[0]['id']}/authorize", headers=alice_h), 404)


async def test_follow_requests_reject_and_404s(world: World) -> None:
    await world.user(world.here, "alice")
    bob = await world.user(world.here, "bob")
    alice_h = await world.token(world.here, "alice")
    bob_h = await world.token(world.here, "bob")
    c = client(world.here)
    await ok(await c.patch("/api/v1/accounts/update_credentials", headers=alice_h, data={"locked": "1"}))
    me = await ok(await c.get("/api/v1/accounts/verify_credentials", headers=alice_h))
    rel = await ok(await c.post(f"/api/v1/accounts/{me['id']}/follow", headers=bob_h))
    assert rel["requested"] is True and rel["following"] is False

    error(await c.post("/api/v1/follow_requests/123/authorize", headers=alice_h), 404)
    error(await c.post("/api/v1/follow_requests/abc/reject", headers=alice_h), 404)
    error(await c.post(f"/api/v1/follow_requests/{bob.id}/reject", headers=await world.token(world.here, "alice", "read")), 403)
    answer = await ok(await c.post(f"/api/v1/follow_requests/{bob.id}/reject", headers=alice_h))
    assert answer["requested_by"] is False and answer["followed_by"] is False
    await world.settle()
    rel = (await ok(await c.get("/api/v1/accounts/relationships", params={"id[]": me["id"]}, headers=bob_h)))[0]
    assert rel["requested"] is False and rel["following"] is False
    async with world.here.state.sessions() as session:
        assert (await session.exec(select(Follow))).all() == []


# ---- reading accounts ------------------------------------------------------------------------


async def test_account_statuses_followers_following(world: World) -> None:
    alice = await world.user(world.here, "alice")
    await world.user(world.here, "bob")
    carol = await world.user(world.here, "carol")
    c = client(world.here)
    bob_h = await world.token(world.here, "bob")
    carol_h = await world.token(world.here, "carol")

    account = await ok(await c.get(f"/api/v1/accounts/{alice.id}"))
    assert_shape(account, LOCAL_ACCOUNT)
    assert account["url"] == f"https://{HERE}/@alice"
    for bad in ("999", "abc", "-1", "1" * 30):
        assert error(await c.get(f"/api/v1/accounts/{bad}"), 404) == "Record not found"
        error(await c.get(f"/api/v1/accounts/{bad}/statuses"), 404)
        error(await c.post(f"/api/v1/accounts/{bad}/follow", headers=bob_h), 404)

    # bob follows alice (unlocked, local: at once); carol does not
    rel = await ok(await c.post(f"/api/v1/accounts/{alice.id}/follow", headers=bob_h, data={"reblogs": "true"}))
    assert rel["following"] is True and rel["requested"] is False and rel["showing_reblogs"] is True

    other = await post(world.here, "carol", "carol's post")
    public = await post(world.here, "alice", "hello #Tagged world")
    unlisted = await post(world.here, "alice", "quiet", visibility=Visibility.UNLISTED.value)
    private = await post(world.here, "alice", "friends only", visibility=Visibility.PRIVATE.value)
    direct = await post(world.here, "alice", "@carol psst", visibility=Visibility.DIRECT.value)
    reply = await post(world.here, "alice", "answering carol", in_reply_to=other)
    self_reply = await post(world.here, "alice", "and a thread", in_reply_to=public)  # stays without replies
    async with world.here.state.sessions() as session:
        me = await session.get(Actor, alice.id)
        other_row = await session.get(Status, other.id)
        assert me is not None and other_row is not None
        boost = await interactions.boost(session, world.here.state, me, other_row)
        session.add(MediaAttachment(actor_id=alice.id, status_id=unlisted.id, media_type="image",
                                    state=MediaState.READY.value, remote_url="https://x.example/a.png"))  # fmt: skip
        if (await session.exec(select(StatusTag).where(StatusTag.status_id == public.id))).first() is None:
            session.add(StatusTag(status_id=public.id, name="tagged"))
        await session.commit()

    async def ids(headers: dict[str, str] | None = None, **params: str) -> list[int]:
        found = await ok(await c.get(f"/api/v1/accounts/{alice.id}/statuses", params=params, headers=headers or {}))
        if headers is None:
            for item in found:
                assert_status(item, local=True)
        return [int(s["id"]) for s in found]

    everything = [self_reply.id, reply.id, private.id, unlisted.id, public.id]
    assert await ids() == [boost.id, self_reply.id, reply.id, unlisted.id, public.id]  # anonymous
    assert await ids(bob_h) == [boost.id, *everything]  # a follower sees followers-only posts
    assert await ids(carol_h) == [boost.id, self_reply.id, reply.id, direct.id, unlisted.id, public.id]
    assert await ids(exclude_replies="true") == [boost.id, self_reply.id, unlisted.id, public.id]
    assert await ids(exclude_reblogs="1") == [self_reply.id, reply.id, unlisted.id, public.id]
    assert await ids(only_media="true") == [unlisted.id]
    assert await ids(tagged="tagged") == [public.id]
    assert await ids(tagged="#TAGGED") == [public.id]
    assert await ids(pinned="true") == []
    assert await ids(max_id=str(reply.id)) == [unlisted.id, public.id]
    assert await ids(min_id=str(unlisted.id), limit="2") == [self_reply.id, reply.id]
    page = await c.get(f"/api/v1/accounts/{alice.id}/statuses", params={"limit": "2"})
    assert [int(s["id"]) for s in page.json()] == [boost.id, self_reply.id]
    assert link_max_id(page) == str(self_reply.id)
    assert 'rel="prev"' in page.headers["link"]
    entity = (await ok(await c.get(f"/api/v1/accounts/{alice.id}/statuses", params={"limit": "1"}, headers=bob_h)))[0]
    assert entity["reblog"]["id"] == str(other.id)
    error(await c.get(f"/api/v1/accounts/{alice.id}/statuses", params={"limit": "many"}), 422)
    error(await c.get(f"/api/v1/accounts/{alice.id}/statuses", params={"max_id": "x"}), 422)
    error(await c.get(f"/api/v1/accounts/{alice.id}/statuses", params={"only_media": "perhaps"}), 422)

    # followers / following, paged by the follow
    await ok(await c.post(f"/api/v1/accounts/{alice.id}/follow", headers=carol_h))
    followers = await c.get(f"/api/v1/accounts/{alice.id}/followers", params={"limit": "1"})
    assert [a["username"] for a in followers.json()] == ["carol"]
    assert_shape(followers.json()[0], LOCAL_ACCOUNT)
    older = await ok(await c.get(f"/api/v1/accounts/{alice.id}/followers", params={"max_id": link_max_id(followers)}))
    assert [a["username"] for a in older] == ["bob"]
    following = await ok(await c.get(f"/api/v1/accounts/{carol.id}/following"))
    assert [a["username"] for a in following] == ["alice"]
    assert await ok(await c.get(f"/api/v1/accounts/{alice.id}/following")) == []
    error(await c.get("/api/v1/accounts/0/followers"), 404)


async def test_relationships_follow_block_mute(world: World) -> None:
    alice = await world.user(world.here, "alice")
    bob = await world.user(world.here, "bob")
    carol = await world.user(world.here, "carol")
    c = client(world.here)
    alice_h = await world.token(world.here, "alice")
    bob_h = await world.token(world.here, "bob")

    rel = await ok(await c.post(f"/api/v1/accounts/{bob.id}/follow", headers=alice_h))
    assert_shape(rel, RELATIONSHIP)
    assert rel["id"] == str(bob.id) and rel["following"] is True
    back = (await ok(await c.get("/api/v1/accounts/relationships", params={"id[]": [str(alice.id)]}, headers=bob_h)))[0]
    assert back["followed_by"] is True and back["following"] is False

    both = await ok(await c.get(
        "/api/v1/accounts/relationships",
        params=[("id[]", str(carol.id)), ("id[]", "999"), ("id[]", "x"), ("id[]", str(bob.id)), ("id[]", str(bob.id))],
        headers=alice_h,
    ))  # fmt: skip
    assert [r["id"] for r in both] == [str(carol.id), str(bob.id)]
    assert await ok(await c.get("/api/v1/accounts/relationships", headers=alice_h)) == []
    error(await c.get("/api/v1/accounts/relationships", headers=await world.token(world.here, "alice", "read:accounts")), 403)

    error(await c.post(f"/api/v1/accounts/{alice.id}/follow", headers=alice_h), 422)  # oneself
    error(await c.post(f"/api/v1/accounts/{carol.id}/follow", headers=await world.token(world.here, "alice", "read")), 403)
    await ok(await c.post(f"/api/v1/accounts/{carol.id}/follow", headers=await world.token(world.here, "alice", "follow")))

    # mute with a duration, without notifications
    muted = await ok(await c.post(f"/api/v1/accounts/{bob.id}/mute", headers=alice_h,
                                  json={"notifications": False, "duration": 3600}))  # fmt: skip
    assert muted["muting"] is True and muted["muting_notifications"] is False and muted["following"] is True
    muted = await ok(await c.post(f"/api/v1/accounts/{carol.id}/mute", headers=alice_h))
    assert muted["muting"] is True and muted["muting_notifications"] is True
    mutes = await c.get("/api/v1/mutes", headers=alice_h)
    assert [a["username"] for a in mutes.json()] == ["carol", "bob"]
    assert mutes.json()[0]["mute_expires_at"] is None
    assert re.match(r"^\d{4}-\d\d-\d\dT", mutes.json()[1]["mute_expires_at"])
    assert_shape({k: v for k, v in mutes.json()[0].items() if k != "mute_expires_at"}, LOCAL_ACCOUNT)
    assert "link" in mutes.headers
    error(await c.post(f"/api/v1/accounts/{bob.id}/mute", headers=alice_h, data={"duration": "soon"}), 422)
    error(await c.post(f"/api/v1/accounts/{bob.id}/mute", headers=alice_h, data={"duration": "-5"}), 422)
    error(await c.post(f"/api/v1/accounts/{alice.id}/mute", headers=alice_h), 422)
    error(await c.post(f"/api/v1/accounts/{bob.id}/mute", headers=await world.token(world.here, "alice", "write:blocks")), 403)
    error(await c.get("/api/v1/mutes", headers=await world.token(world.here, "alice", "read:blocks")), 403)
    # an expired mute no longer counts
    async with world.here.state.sessions() as session:
        row = (await session.exec(select(Mute).where(Mute.target_id == bob.id))).one()
        row.expires_at = row.created_at.replace(year=2000)
        session.add(row)
        await session.commit()
    assert [a["username"] for a in await ok(await c.get("/api/v1/mutes", headers=alice_h))] == ["carol"]
    rel = (await ok(await c.get("/api/v1/accounts/relationships", params={"id": str(bob.id)}, headers=alice_h)))[0]
    assert rel["muting"] is False
    unmuted = await ok(await c.post(f"/api/v1/accounts/{carol.id}/unmute", headers=alice_h))
    assert unmuted["muting"] is False
    assert await ok(await c.get("/api/v1/mutes", headers=alice_h)) == []
    await ok(await c.post(f"/api/v1/accounts/{carol.id}/unmute", headers=alice_h))  # idempotent

    # block: ends following both ways
    await ok(await c.post(f"/api/v1/accounts/{alice.id}/follow", headers=bob_h))
    blocked = await ok(await c.post(f"/api/v1/accounts/{bob.id}/block", headers=alice_h))
    assert blocked["blocking"] is True and blocked["following"] is False and blocked["followed_by"] is False
    seen_by_bob = (await ok(await c.get("/api/v1/accounts/relationships", params={"id[]": str(alice.id)}, headers=bob_h)))[0]
    assert seen_by_bob["blocked_by"] is True
    error(await c.post(f"/api/v1/accounts/{alice.id}/follow", headers=bob_h), 403)
    blocks = await c.get("/api/v1/blocks", headers=alice_h)
    assert [a["username"] for a in blocks.json()] == ["bob"]
    assert "max_id=" in blocks.headers["link"]
    error(await c.get("/api/v1/blocks", headers=await world.token(world.here, "alice", "read:mutes")), 403)
    error(await c.post(f"/api/v1/accounts/{bob.id}/unblock", headers=await world.token(world.here, "alice", "write:follows")), 403)
    # bob sees nothing of alice's lists while blocked
    assert await ok(await c.get(f"/api/v1/accounts/{alice.id}/following", headers=bob_h)) == []
    unblocked = await ok(await c.post(f"/api/v1/accounts/{bob.id}/unblock", headers=alice_h))
    assert unblocked["blocking"] is False
    assert await ok(await c.get("/api/v1/blocks", headers=alice_h)) == []
    unfollowed = await ok(await c.post(f"/api/v1/accounts/{carol.id}/unfollow", headers=alice_h))
    assert unfollowed["following"] is False


async def test_lookup_and_search(world: World) -> None:
    alice = await world.user(world.here, "alice")
    await world.user(world.here, "alicia")
    await world.user(world.here, "zed")
    await world.user(world.there, "bob")
    c = client(world.here)
    h = await world.token(world.here, "zed")
    await ok(await c.patch("/api/v1/accounts/update_credentials", headers=h, data={"display_name": "Zed Alpha"}))

    for acct in ("alice", "@alice", f"alice@{HERE}", f"@ALICE@{HERE}", f"acct:alice@{HERE}"):
        found = await ok(await c.get("/api/v1/accounts/lookup", params={"acct": acct}))
        assert found["id"] == str(alice.id), acct
    assert_shape(found, LOCAL_ACCOUNT)
    requests_before = len(world.fediverse.transport.requests)
    error(await c.get("/api/v1/accounts/lookup", params={"acct": f"bob@{THERE}"}), 404)  # not known yet, no network
    error(await c.get("/api/v1/accounts/lookup", params={"acct": "nobody"}), 404)
    error(await c.get("/api/v1/accounts/lookup"), 400)
    assert len(world.fediverse.transport.requests) == requests_before

    async def search(q: str, **params: str) -> list[str]:
        found = await ok(await c.get("/api/v1/accounts/search", params={"q": q, **params}, headers=h))
        return [a["acct"] for a in found]

    assert await search("ali") == ["alice", "alicia"]
    assert await search("ALICE") == ["alice"]
    assert await search("alpha") == ["zed"]
    assert await search("ali", limit="1") == ["alice"]
    assert await search("ali", limit="1", offset="1") == ["alicia"]
    assert await search("%") == []
    assert await search(f"bob@{THERE}") == []  # without resolve: only what we know
    assert len(world.fediverse.transport.requests) == requests_before
    assert await search(f"@bob@{THERE}", resolve="true") == [f"bob@{THERE}"]  # WebFinger
    assert await search(f"bob@{THERE}") == [f"bob@{THERE}"]  # known now
    remote = await ok(await c.get("/api/v1/accounts/lookup", params={"acct": f"bob@{THERE}"}))
    assert_shape(remote, ACCOUNT)
    assert remote["acct"] == f"bob@{THERE}" and remote["url"].startswith(f"https://{THERE}/")
    assert await search(f"nobody@{THERE}", resolve="true") == []
    assert await search("nobody@unreachable.example", resolve="true") == []
    assert await search(f"https://{THERE}/users/bob", resolve="true") == [f"bob@{THERE}"]
    # following=true: only accounts the caller follows
    assert await search("ali", following="true") == []
    await ok(await c.post(f"/api/v1/accounts/{alice.id}/follow", headers=h))
    assert await search("ali", following="true") == ["alice"]
    error(await c.get("/api/v1/accounts/search", headers=h), 400)
    error(await c.get("/api/v1/accounts/search", params={"q": "ali", "limit": "x"}, headers=h), 422)
    error(await c.get("/api/v1/accounts/search", params={"q": "ali"}), 401)
    error(await c.get("/api/v1/accounts/search", params={"q": "ali"}, headers=await world.token(world.here, "zed", "write")), 403)
