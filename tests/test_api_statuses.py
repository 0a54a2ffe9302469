"""``/api/v1/statuses`` and friends, in process on SQLite and PostgreSQL: posting (with
Idempotency-Key), reading, editing with history, deleting, threads, favourites,
boosts, bookmarks, who may see what, scopes, bad input, and federation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import select

from fedisora.db.models import (
    Actor,
    Block,
    Follow,
    FollowState,
    IdempotencyKey,
    MediaAttachment,
    MediaState,
    Status,
    StatusEdit,
    StatusTag,
)
from fedisora.federation.remote import resolve_handle
from fedisora.processing import follows
from tests.federation import Fediverse, Instance, token_for

PRIVATE_POST = "only for my followers"


# ---- helpers (the timelines tests use them too) ------------------------------------------------


async def actor_of(instance: Instance, username: str) -> Actor:
    async with instance.state.sessions() as session:
        return (
            await session.exec(select(Actor).where(Actor.username == username, Actor.domain == instance.domain))
        ).one()


class Api:
    """A logged-in (or anonymous) client of one instance's Mastodon API."""

    def __init__(self, instance: Instance, token: str | None = None) -> None:
        assert instance.client is not None
        self.client: httpx.AsyncClient = instance.client
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def get(self, path: str, **params: Any) -> httpx.Response:
        # (no ``params`` at all for a URL that carries its own query, as Link header URLs do)
        return await self.client.get(path, params=params or None, headers=self.headers)

    async def post(self, path: str, json: Any = None, headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.client.post(path, json=json or {}, headers={**self.headers, **(headers or {})})

    async def put(self, path: str, json: Any) -> httpx.Response:
        return await self.client.put(path, json=json, headers=self.headers)

    async def delete(self, path: str) -> httpx.Response:
        return await self.client.delete(path, headers=self.headers)

    async def status(self, text: str, **fields: Any) -> dict[str, Any]:
        response = await self.post("/api/v1/statuses", {"status": text, **fields})
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]


async def make_follow(instance: Instance, follower: str, target: str) -> None:
    """An accepted local follow (``follower`` follows ``target``), written directly."""
    a = await actor_of(instance, follower)
    b = await actor_of(instance, target)
    async with instance.state.sessions() as session:
        session.add(Follow(follower_id=a.id, target_id=b.id, state=FollowState.ACCEPTED.value))
        await session.commit()


async def follow_remote(world: Fediverse, instance: Instance, username: str, handle: str) -> None:
    """``username`` on ``instance`` follows ``handle`` over federation, and the Accept comes back."""
    async with instance.state.sessions() as session:
        me = (
            await session.exec(select(Actor).where(Actor.username == username, Actor.domain == instance.domain))
        ).one()
        target = await resolve_handle(session, instance.state, handle)
        await follows.follow(session, instance.state, me, target)
        await session.commit()
    await world.settle()


# ---- fixtures ----------------------------------------------------------------------------------


class Env:
    def __init__(self, world: Fediverse, a: Instance) -> None:
        self.world = world
        self.a = a
        self.alice: Api
        self.bob: Api
        self.carol: Api
        self.anon = Api(a)


@pytest.fixture
async def env(tmp_path: Path, database_url: str) -> AsyncIterator[Env]:
    world = Fediverse(tmp_path)
    try:
        a = await world.add("a.example", database_url)
        for name in ("alice", "bob", "carol"):
            await a.create_account(name, password="correct horse battery staple")
        env = Env(world, a)
        env.alice = Api(a, await token_for(a, "alice"))
        env.bob = Api(a, await token_for(a, "bob"))
        env.carol = Api(a, await token_for(a, "carol"))
        yield env
    finally:
        await world.close()


async def count(instance: Instance, model: Any, *where: Any) -> int:
    async with instance.state.sessions() as session:
        return int((await session.exec(select(sa.func.count()).select_from(model).where(*where))).one())


# ---- posting and reading -------------------------------------------------------------------------


async def test_post_with_idempotency_key_posts_once(env: Env) -> None:
    body = {"status": "hello #World from the API", "visibility": "public", "language": "en"}
    first = await env.alice.post("/api/v1/statuses", body, headers={"Idempotency-Key": "k-1"})
    again = await env.alice.post("/api/v1/statuses", body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == 200 and again.status_code == 200, first.text
    assert first.json()["id"] == again.json()["id"]
    assert await count(env.a, Status, Status.local.is_(True)) == 1  # type: ignore[attr-defined]
    assert await count(env.a, IdempotencyKey) == 1
    entity = first.json()
    assert entity["content"].startswith("<p>hello") and entity["visibility"] == "public"
    assert entity["language"] == "en" and entity["account"]["username"] == "alice"
    assert entity["tags"] == [{"name": "world", "url": "https://a.example/tags/world"}]
    assert entity["favourited"] is False and entity["bookmarked"] is False
    assert first.headers["access-control-allow-origin"] == "*"
    # Another key posts again; the hashtag is recorded for tag timelines.
    other = await env.alice.post("/api/v1/statuses", body, headers={"Idempotency-Key": "k-2"})
    assert other.json()["id"] != entity["id"]
    assert await count(env.a, StatusTag, StatusTag.name == "world") == 2

    got = await env.anon.get(f"/api/v1/statuses/{entity['id']}")
    assert got.status_code == 200
    assert got.json()["id"] == entity["id"] and "favourited" not in got.json()  # no viewer fields
    assert (await env.bob.get(f"/api/v1/statuses/{entity['id']}")).json()["favourited"] is False

    form = await env.a.client.post(  # type: ignore[union-attr]
        "/api/v1/statuses", data={"status": "from a form", "sensitive": "true", "spoiler_text": "cw"},
        headers=env.alice.headers,
    )
    assert form.status_code == 200, form.text
    assert form.json()["sensitive"] is True and form.json()["spoiler_text"] == "cw"


async def test_reply_and_media(env: Env) -> None:
    root = await env.alice.status("root post")
    alice = await actor_of(env.a, "alice")
    bob = await actor_of(env.a, "bob")
    async with env.a.state.sessions() as session:
        mine = [MediaAttachment(actor_id=alice.id, state=MediaState.READY.value, media_type="image",
                                remote_url=f"https://a.example/m/{i}.png") for i in range(5)]
        theirs = MediaAttachment(actor_id=bob.id, state=MediaState.READY.value, media_type="image")
        busy = MediaAttachment(actor_id=alice.id, state=MediaState.PROCESSING.value)
        session.add_all([*mine, theirs, busy])
        await session.commit()
        mine_ids = [str(m.id) for m in mine]
        theirs_id, busy_id = str(theirs.id), str(busy.id)

    reply = await env.bob.status("a reply", in_reply_to_id=root["id"])
    assert reply["in_reply_to_id"] == root["id"]
    assert reply["in_reply_to_account_id"] == root["account"]["id"]
    assert [m["acct"] for m in reply["mentions"]] == ["alice"]

    with_media = await env.alice.status("two pictures", media_ids=mine_ids[:2])
    assert [m["id"] for m in with_media["media_attachments"]] == mine_ids[:2]
    for ids in (mine_ids[:2], [theirs_id], [busy_id], mine_ids[2:] + mine_ids[:2], ["12x"], ["999"]):
        response = await env.alice.post("/api/v1/statuses", {"status": "x", "media_ids": ids})
        assert response.status_code == 422, (ids, response.text)
        assert "error" in response.json()


async def test_bad_input_is_4xx(env: Env) -> None:
    long_text = "x" * 6000
    for body in (
        {"status": ""},
        {},
        {"status": long_text},
        {"status": "hi", "visibility": "everyone"},
        {"status": "hi", "poll": {"options": ["a", "b"], "expires_in": 600}},
        {"status": "hi", "scheduled_at": "2030-01-01T00:00:00Z"},
        {"status": "hi", "language": "not a language"},
        {"status": "hi", "in_reply_to_id": "abc"},
    ):
        response = await env.alice.post("/api/v1/statuses", body)
        assert response.status_code == 422, (body, response.text)
        assert isinstance(response.json()["error"], str)
    assert (await env.alice.post("/api/v1/statuses", {"status": "hi", "in_reply_to_id": "12345"})).status_code == 404
    for path in ("/api/v1/statuses/abc", "/api/v1/statuses/99999", "/api/v1/statuses/" + "9" * 30,
                 "/api/v1/statuses/-1/context", "/api/v1/statuses/123/history"):
        response = await env.alice.get(path)
        assert response.status_code == 404 and response.json() == {"error": "Record not found"}
    for method in ("favourite", "reblog", "bookmark", "unfavourite"):
        assert (await env.alice.post(f"/api/v1/statuses/abc/{method}")).status_code == 404
    assert (await env.alice.get("/api/v1/favourites", limit="abc")).status_code == 422
    assert (await env.alice.get("/api/v1/bookmarks", max_id="x")).status_code == 422
    form_poll = await env.a.client.post(  # type: ignore[union-attr]
        "/api/v1/statuses", data={"status": "hi", "poll[options][]": ["a", "b"], "poll[expires_in]": "60"},
        headers=env.alice.headers,
    )
    assert form_poll.status_code == 422 and "Polls" in form_poll.json()["error"]
    malformed = await env.a.client.post(  # type: ignore[union-attr]
        "/api/v1/statuses", content=b"{not json", headers={**env.alice.headers, "Content-Type": "application/json"}
    )
    assert malformed.status_code == 400


async def test_scopes_and_tokens(env: Env) -> None:
    reader = Api(env.a, await token_for(env.a, "alice", "read"))
    response = await reader.post("/api/v1/statuses", {"status": "nope"})
    assert response.status_code == 403
    assert response.json() == {"error": "This action is outside the authorized scopes"}
    assert (await env.anon.post("/api/v1/statuses", {"status": "nope"})).status_code == 401
    post = await env.alice.status("scoped")
    assert (await reader.get(f"/api/v1/statuses/{post['id']}")).status_code == 200
    assert (await reader.post(f"/api/v1/statuses/{post['id']}/favourite")).status_code == 403
    assert (await reader.post(f"/api/v1/statuses/{post['id']}/bookmark")).status_code == 403
    assert (await reader.get("/api/v1/favourites")).status_code == 200
    assert (await env.anon.get("/api/v1/favourites")).status_code == 401
    assert (await env.anon.get("/api/v1/timelines/home")).status_code == 401
    favourites_only = Api(env.a, await token_for(env.a, "bob", "write:favourites read:statuses"))
    assert (await favourites_only.post(f"/api/v1/statuses/{post['id']}/favourite")).status_code == 200
    assert (await favourites_only.post(f"/api/v1/statuses/{post['id']}/reblog")).status_code == 403
    poster = Api(env.a, await token_for(env.a, "bob", "write:statuses"))
    assert (await poster.post("/api/v1/statuses", {"status": "write only"})).status_code == 200
    assert (await poster.get("/api/v1/timelines/home")).status_code == 403
    assert (await env.anon.get("/api/v1/statuses/1", access_token="bogus")).status_code == 401


# ---- edit, history, source, delete -----------------------------------------------------------------


async def test_edit_history_source_and_delete(env: Env) -> None:
    post = await env.alice.status("first version #one", spoiler_text="")
    path = f"/api/v1/statuses/{post['id']}"
    history = (await env.anon.get(path + "/history")).json()
    assert len(history) == 1 and "first version" in history[0]["content"]

    edited = await env.alice.put(path, {"status": "second version #two", "spoiler_text": "careful"})
    assert edited.status_code == 200, edited.text
    assert "second version" in edited.json()["content"] and edited.json()["edited_at"] is not None
    assert edited.json()["spoiler_text"] == "careful" and edited.json()["sensitive"] is True
    assert [t["name"] for t in edited.json()["tags"]] == ["two"]
    async with env.a.state.sessions() as session:
        names = (await session.exec(select(StatusTag.name).where(StatusTag.status_id == int(post["id"])))).all()
    assert list(names) == ["two"]

    third = await env.alice.put(path, {"status": "third version", "sensitive": False, "spoiler_text": ""})
    assert third.json()["sensitive"] is False and third.json()["spoiler_text"] == ""
    history = (await env.bob.get(path + "/history")).json()
    assert [("first" in h["content"], "second" in h["content"], "third" in h["content"]) for h in history] == [
        (True, False, False), (False, True, False), (False, False, True)
    ]
    assert history[1]["spoiler_text"] == "careful" and history[1]["sensitive"] is True
    assert set(history[0]) >= {"content", "spoiler_text", "sensitive", "created_at", "account", "media_attachments", "emojis", "poll"}
    assert history[0]["account"]["username"] == "alice"
    assert await count(env.a, StatusEdit, StatusEdit.status_id == int(post["id"])) == 3

    source = await env.alice.get(path + "/source")
    assert source.json() == {"id": post["id"], "text": "third version", "spoiler_text": ""}
    assert (await env.bob.get(path + "/source")).status_code == 404
    assert (await env.bob.put(path, {"status": "not yours"})).status_code == 404
    assert (await env.alice.put(path, {"status": "x" * 6000})).status_code == 422

    assert (await env.bob.delete(path)).status_code == 404
    deleted = await env.alice.delete(path)
    assert deleted.status_code == 200
    assert deleted.json()["text"] == "third version" and "content" not in deleted.json()
    assert (await env.alice.get(path)).status_code == 404
    assert (await env.alice.delete(path)).status_code == 404
    assert (await env.anon.get(path + "/history")).status_code == 404


# ---- threads ---------------------------------------------------------------------------------------


async def test_context(env: Env) -> None:
    root = await env.alice.status("root")
    r1 = await env.bob.status("bob replies", in_reply_to_id=root["id"])
    r2 = await env.alice.status("alice answers bob", in_reply_to_id=r1["id"])
    r3 = await env.carol.status("carol replies to root", in_reply_to_id=root["id"])
    secret = await env.bob.status("followers of bob only", in_reply_to_id=root["id"], visibility="private")

    as_alice = (await env.alice.get(f"/api/v1/statuses/{r1['id']}/context")).json()
    assert [s["id"] for s in as_alice["ancestors"]] == [root["id"]]
    assert [s["id"] for s in as_alice["descendants"]] == [r2["id"]]

    # Root: depth first.  Bob's followers-only reply: for bob, alice (mentioned, as the
    # author replied to) and bob's followers; not for carol until she follows bob.
    async def descendants(api: Api) -> list[str]:
        response = await api.get(f"/api/v1/statuses/{root['id']}/context")
        return [s["id"] for s in response.json()["descendants"]]

    assert await descendants(env.anon) == [r1["id"], r2["id"], r3["id"]]
    assert await descendants(env.carol) == [r1["id"], r2["id"], r3["id"]]
    assert await descendants(env.alice) == [r1["id"], r2["id"], r3["id"], secret["id"]]
    assert (await env.carol.get(f"/api/v1/statuses/{secret['id']}/context")).status_code == 404
    await make_follow(env.a, "carol", "bob")
    assert await descendants(env.carol) == [r1["id"], r2["id"], r3["id"], secret["id"]]
    assert (await env.carol.get(f"/api/v1/statuses/{secret['id']}/context")).json()["ancestors"][0]["id"] == root["id"]
    assert (await env.anon.get(f"/api/v1/statuses/{secret['id']}/context")).status_code == 404


# ---- favourites, boosts, bookmarks ---------------------------------------------------------------------


async def test_favourite_reblog_bookmark_round_trips(env: Env) -> None:
    post = await env.alice.status("like me")
    path = f"/api/v1/statuses/{post['id']}"

    faved = await env.bob.post(path + "/favourite")
    assert faved.status_code == 200
    assert faved.json()["favourited"] is True and faved.json()["favourites_count"] == 1
    assert (await env.bob.post(path + "/favourite")).json()["favourites_count"] == 1  # idempotent
    await env.carol.post(path + "/favourite")
    assert (await env.alice.get(path)).json()["favourites_count"] == 2
    assert (await env.alice.get(path)).json()["favourited"] is False

    by = await env.anon.get(path + "/favourited_by")
    assert [a["username"] for a in by.json()] == ["carol", "bob"]
    page = await env.anon.get(path + "/favourited_by", limit=1)
    assert [a["username"] for a in page.json()] == ["carol"]
    assert 'rel="next"' in page.headers["link"]

    boost = await env.bob.post(path + "/reblog")
    assert boost.status_code == 200
    b = boost.json()
    assert b["reblog"]["id"] == post["id"] and b["reblog"]["reblogged"] is True
    assert b["reblog"]["reblogs_count"] == 1 and b["account"]["username"] == "bob"
    assert (await env.bob.post(path + "/reblog")).json()["id"] == b["id"]  # once
    assert (await env.bob.post(f"/api/v1/statuses/{b['id']}/favourite")).json()["id"] == post["id"]
    assert (await env.anon.get(f"/api/v1/statuses/{b['id']}")).json()["reblog"]["id"] == post["id"]
    assert [a["username"] for a in (await env.anon.get(path + "/reblogged_by")).json()] == ["bob"]
    unboosted = await env.bob.post(path + "/unreblog")
    assert unboosted.json()["id"] == post["id"] and unboosted.json()["reblogged"] is False
    assert unboosted.json()["reblogs_count"] == 0
    assert (await env.anon.get(f"/api/v1/statuses/{b['id']}")).status_code == 404
    assert (await env.anon.get(path + "/reblogged_by")).json() == []

    marked = await env.bob.post(path + "/bookmark")
    assert marked.json()["bookmarked"] is True
    assert (await env.bob.post(path + "/bookmark")).status_code == 200
    assert (await env.alice.get(path)).json()["bookmarked"] is False
    other = await env.alice.status("second")
    await env.bob.post(f"/api/v1/statuses/{other['id']}/bookmark")
    await env.bob.post(f"/api/v1/statuses/{other['id']}/favourite")
    bookmarks = await env.bob.get("/api/v1/bookmarks")
    assert [s["id"] for s in bookmarks.json()] == [other["id"], post["id"]]
    first_page = await env.bob.get("/api/v1/bookmarks", limit=1)
    assert [s["id"] for s in first_page.json()] == [other["id"]]
    next_url = first_page.headers["link"].split(">")[0].lstrip("<")
    assert "max_id=" in next_url and "limit=1" in next_url
    nxt = await env.a.client.get(next_url, headers=env.bob.headers)  # type: ignore[union-attr]
    assert [s["id"] for s in nxt.json()] == [post["id"]]
    favourites = await env.bob.get("/api/v1/favourites")
    assert [s["id"] for s in favourites.json()] == [other["id"], post["id"]]
    assert all(s["favourited"] for s in favourites.json())

    unfaved = await env.bob.post(path + "/unfavourite")
    assert unfaved.json()["favourited"] is False and unfaved.json()["favourites_count"] == 1
    unmarked = await env.bob.post(path + "/unbookmark")
    assert unmarked.json()["bookmarked"] is False
    assert [s["id"] for s in (await env.bob.get("/api/v1/bookmarks")).json()] == [other["id"]]
    assert [s["id"] for s in (await env.bob.get("/api/v1/favourites")).json()] == [other["id"]]

    # A deleted post leaves the lists.
    await env.alice.delete(f"/api/v1/statuses/{other['id']}")
    assert (await env.bob.get("/api/v1/bookmarks")).json() == []
    assert (await env.bob.get("/api/v1/favourites")).json() == []


# ---- visibility ------------------------------------------------------------------------------------------


async def test_followers_only_post_does_not_leak(env: Env) -> None:
    await make_follow(env.a, "carol", "alice")
    public = await env.alice.status("hello world")
    secret = await env.alice.status(PRIVATE_POST, visibility="private", in_reply_to_id=public["id"])
    path = f"/api/v1/statuses/{secret['id']}"

    assert (await env.alice.get(path)).status_code == 200
    assert (await env.carol.get(path)).status_code == 200
    for api in (env.bob, env.anon):
        assert (await api.get(path)).status_code == 404
        assert (await api.get(path + "/context")).status_code == 404
        assert (await api.get(path + "/history")).status_code == 404
        assert (await api.get(path + "/favourited_by")).status_code == 404
        context = (await api.get(f"/api/v1/statuses/{public['id']}/context")).json()
        assert context["descendants"] == []
        public_timeline = (await api.get("/api/v1/timelines/public")).text
        assert PRIVATE_POST not in public_timeline
    for action in ("favourite", "reblog", "bookmark"):
        assert (await env.bob.post(path + f"/{action}")).status_code == 404
    several = {"id[]": [secret["id"], public["id"], "1"]}
    assert [s["id"] for s in (await env.bob.get("/api/v1/statuses", **several)).json()] == [public["id"]]
    assert [s["id"] for s in (await env.carol.get("/api/v1/statuses", **several)).json()] == [secret["id"], public["id"]]
    assert (await env.anon.get("/api/v1/statuses", **{"id[]": "abc"})).status_code == 422
    assert PRIVATE_POST not in (await env.bob.get("/api/v1/timelines/home")).text
    assert PRIVATE_POST in (await env.carol.get("/api/v1/timelines/home")).text
    assert [s["id"] for s in (await env.carol.get(f"/api/v1/statuses/{public['id']}/context")).json()["descendants"]] == [secret["id"]]
    # Even the author's followers cannot boost it; favourites and bookmarks are fine.
    assert (await env.carol.post(path + "/reblog")).status_code == 403
    assert (await env.carol.post(path + "/favourite")).json()["favourited"] is True
    assert (await env.carol.post(path + "/bookmark")).json()["bookmarked"] is True
    assert PRIVATE_POST in (await env.carol.get("/api/v1/favourites")).text

    # Carol stops following: the post is gone from everything she reads.
    async with env.a.state.sessions() as session:
        await session.exec(sa.delete(Follow))  # type: ignore[arg-type]
        await session.commit()
    assert (await env.carol.get(path)).status_code == 404
    assert PRIVATE_POST not in (await env.carol.get("/api/v1/favourites")).text
    assert PRIVATE_POST not in (await env.carol.get("/api/v1/bookmarks")).text
    assert PRIVATE_POST not in (await env.carol.get("/api/v1/timelines/home")).text


async def test_direct_posts_and_blocks(env: Env) -> None:
    dm = await env.alice.status("@bob psst", visibility="direct")
    path = f"/api/v1/statuses/{dm['id']}"
    assert (await env.bob.get(path)).status_code == 200
    assert (await env.carol.get(path)).status_code == 404
    assert (await env.anon.get(path)).status_code == 404
    assert "psst" in (await env.bob.get("/api/v1/timelines/home")).text

    public = await env.alice.status("visible unless blocked")
    ppath = f"/api/v1/statuses/{public['id']}"
    alice, bob = await actor_of(env.a, "alice"), await actor_of(env.a, "bob")
    async with env.a.state.sessions() as session:
        session.add(Block(actor_id=alice.id, target_id=bob.id))
        await session.commit()
    assert (await env.bob.get(ppath)).status_code == 404  # blocked by the author
    assert (await env.bob.get(path)).status_code == 404
    assert (await env.carol.get(ppath)).status_code == 200
    assert "visible unless blocked" not in (await env.bob.get("/api/v1/timelines/public")).text
    own = await env.bob.status("bob speaks")
    assert (await env.alice.get(f"/api/v1/statuses/{own['id']}")).status_code == 404  # both ways
    assert (await env.anon.get(f"/api/v1/statuses/{own['id']}")).status_code == 200


# ---- federation -------------------------------------------------------------------------------------------


async def test_post_federates_to_a_follower(env: Env) -> None:
    b = await env.world.add("b.example")
    await b.create_account("dave", password="correct horse battery staple")
    await follow_remote(env.world, b, "dave", "alice@a.example")
    post = await env.alice.status("hello fediverse #fedi")
    secret = await env.alice.status("followers only, federated", visibility="private")
    await env.world.settle()

    dave = Api(b, await token_for(b, "dave"))
    home = (await dave.get("/api/v1/timelines/home")).json()
    uris = [s["uri"] for s in home]
    assert post["uri"] in uris and secret["uri"] in uris
    remote = next(s for s in home if s["uri"] == post["uri"])
    assert remote["account"]["acct"] == "alice@a.example" and "hello fediverse" in remote["content"]
    # On b, the followers-only copy is as private as on a.
    remote_secret = next(s for s in home if s["uri"] == secret["uri"])
    assert remote_secret["visibility"] == "private"
    assert (await Api(b).get(f"/api/v1/statuses/{remote_secret['id']}")).status_code == 404
    assert (await Api(b).get(f"/api/v1/statuses/{remote['id']}")).status_code == 200

    # Dave favourites and boosts it from b; a sees both.
    assert (await dave.post(f"/api/v1/statuses/{remote['id']}/favourite")).status_code == 200
    assert (await dave.post(f"/api/v1/statuses/{remote['id']}/reblog")).status_code == 200
    await env.world.settle()
    seen = (await env.alice.get(f"/api/v1/statuses/{post['id']}")).json()
    assert seen["favourites_count"] == 1 and seen["reblogs_count"] == 1

    # Edits arrive as history on b; a delete removes the copy.
    await env.alice.put(f"/api/v1/statuses/{post['id']}", {"status": "hello again #fedi"})
    await env.world.settle()
    history = (await dave.get(f"/api/v1/statuses/{remote['id']}/history")).json()
    assert len(history) == 2 and "hello again" in history[1]["content"]
    await env.alice.delete(f"/api/v1/statuses/{post['id']}")
    await env.world.settle()
    assert (await dave.get(f"/api/v1/statuses/{remote['id']}")).status_code == 404
