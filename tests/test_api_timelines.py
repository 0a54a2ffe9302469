"""``/api/v1/timelines/{home,public,tag/:hashtag}``, in process on SQLite and PostgreSQL:
who gets which posts (federated follows, mutes, blocks), public filters, hashtags,
and Mastodon's max_id/since_id/min_id pagination with its Link header."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlmodel import select

from fedisora.db.models import Actor, Block, Mute, Status
from fedisora.federation.handlers.posts import store_remote_post
from fedisora.federation.remote import resolve_handle
from fedisora.processing import interactions, posts
from tests.federation import Fediverse, Instance
from tests.test_api_statuses import Api, actor_of, follow_remote, make_follow, token_for

PASSWORD = "correct horse battery staple"


class World:
    def __init__(self, world: Fediverse, a: Instance, b: Instance) -> None:
        self.world, self.a, self.b = world, a, b
        self.alice: Api
        self.dan: Api
        self.bob: Api
        self.carol: Api
        self.anon = Api(a)


@pytest.fixture
async def w(tmp_path: Path, database_url: str) -> AsyncIterator[World]:
    world = Fediverse(tmp_path)
    try:
        a = await world.add("a.example", database_url)
        b = await world.add("b.example")
        for name in ("alice", "dan"):
            await a.create_account(name, password=PASSWORD)
        for name in ("bob", "carol"):
            await b.create_account(name, password=PASSWORD)
        env = World(world, a, b)
        env.alice, env.dan = Api(a, await token_for(a, "alice")), Api(a, await token_for(a, "dan"))
        env.bob, env.carol = Api(b, await token_for(b, "bob")), Api(b, await token_for(b, "carol"))
        yield env
    finally:
        await world.close()


def ids(response_json: list[dict[str, object]]) -> list[str]:
    return [str(s["id"]) for s in response_json]


def texts(response_json: list[dict[str, object]]) -> list[str]:
    out = []
    for s in response_json:
        inner = s["reblog"] if s.get("reblog") else s
        assert isinstance(inner, dict)
        out.append(str(inner["content"]))
    return out


async def copy_on_a(w: World, uri: str) -> Status:
    """Fetch a post of b into a's database (as a search or a reply would)."""
    async with w.a.state.sessions() as session:
        status = await interactions.find_post(session, w.a.state, uri)
        await session.commit()
        return status


async def test_home_timeline(w: World) -> None:
    await follow_remote(w.world, w.a, "alice", "bob@b.example")
    mine = await w.alice.status("my own post")
    followed = await w.bob.status("bob, whom alice follows")
    unfollowed = await w.carol.status("carol, whom alice does not follow")
    mention = await w.carol.status("hey @alice@a.example")
    local_stranger = await w.dan.status("dan, not followed")
    await w.world.settle()
    await copy_on_a(w, unfollowed["uri"])  # known to a, but not followed

    home = (await w.alice.get("/api/v1/timelines/home")).json()
    contents = texts(home)
    assert any("my own post" in c for c in contents)
    assert any("bob, whom alice follows" in c for c in contents)
    assert any("hey" in c for c in contents)  # mentions alice
    assert not any("carol, whom" in c for c in contents)
    assert not any("dan, not followed" in c for c in contents)
    assert home[0]["content"].startswith("<p>hey")  # newest first
    assert [s["id"] for s in home] == sorted((s["id"] for s in home), key=int, reverse=True)
    del mine, followed, mention, local_stranger

    # Bob boosts carol's post: it reaches alice's home as a boost.
    remote_on_b = (await w.bob.get("/api/v1/timelines/public", local="true")).json()
    carol_on_b = next(s for s in remote_on_b if "carol, whom" in s["content"])
    assert (await w.bob.post(f"/api/v1/statuses/{carol_on_b['id']}/reblog")).status_code == 200
    await w.world.settle()
    home = (await w.alice.get("/api/v1/timelines/home")).json()
    assert home[0]["reblog"] is not None and "carol, whom" in home[0]["reblog"]["content"]
    assert home[0]["account"]["acct"] == "bob@b.example"

    # A reply by bob to a stranger stays out; a reply to alice comes in.
    await w.bob.status("replying to carol", in_reply_to_id=carol_on_b["id"])
    await w.world.settle()
    assert not any("replying to carol" in c for c in texts((await w.alice.get("/api/v1/timelines/home")).json()))

    # Muting bob hides his posts and boosts; muting carol hides boosts of her posts.
    alice = await actor_of(w.a, "alice")
    async with w.a.state.sessions() as session:
        bob = await resolve_handle(session, w.a.state, "bob@b.example")
        carol = await resolve_handle(session, w.a.state, "carol@b.example")
        session.add(Mute(actor_id=alice.id, target_id=carol.id))
        await session.commit()
    home = (await w.alice.get("/api/v1/timelines/home")).json()
    assert all(s["reblog"] is None for s in home) and not any("hey" in c for c in texts(home))
    assert any("bob, whom" in c for c in texts(home))
    async with w.a.state.sessions() as session:
        session.add(Mute(actor_id=alice.id, target_id=bob.id))
        await session.commit()
    assert texts((await w.alice.get("/api/v1/timelines/home")).json()) == ["<p>my own post</p>"]

    # Blocking (instead of muting) hides too; the muted post can still be opened directly.
    async with w.a.state.sessions() as session:
        for mute in (await session.exec(select(Mute))).all():
            await session.delete(mute)
        session.add(Block(actor_id=alice.id, target_id=bob.id))
        await session.commit()
    home = texts((await w.alice.get("/api/v1/timelines/home")).json())
    assert not any("bob, whom" in c for c in home)
    assert any("hey" in c for c in home)


async def test_home_local_follow_and_private_posts(w: World) -> None:
    await make_follow(w.a, "alice", "dan")
    await w.dan.status("dan for followers", visibility="private")
    await w.dan.status("dan unlisted", visibility="unlisted")
    home = texts((await w.alice.get("/api/v1/timelines/home")).json())
    assert home == ["<p>dan unlisted</p>", "<p>dan for followers</p>"]
    assert (await w.anon.get("/api/v1/timelines/public")).json() == []


async def test_public_timeline_filters(w: World) -> None:
    local = await w.alice.status("local public")
    await w.alice.status("local unlisted", visibility="unlisted")
    await w.alice.status("local private", visibility="private")
    await w.alice.status("a reply to myself", in_reply_to_id=local["id"])
    await w.dan.status("a reply to alice", in_reply_to_id=local["id"])
    await w.dan.post(f"/api/v1/statuses/{local['id']}/reblog")
    remote = await w.bob.status("remote public")
    await copy_on_a(w, remote["uri"])

    everything = texts((await w.anon.get("/api/v1/timelines/public")).json())
    assert everything == ["<p>remote public</p>", "<p>a reply to myself</p>", "<p>local public</p>"]
    assert texts((await w.anon.get("/api/v1/timelines/public", local="true")).json()) == everything[1:]
    assert texts((await w.anon.get("/api/v1/timelines/public", remote="true")).json()) == everything[:1]
    assert (await w.anon.get("/api/v1/timelines/public", only_media="true")).json() == []
    assert texts((await w.anon.get("/api/v1/timelines/public", local="false")).json()) == everything
    as_dan = (await w.dan.get("/api/v1/timelines/public")).json()
    assert texts(as_dan) == everything and as_dan[0]["favourited"] is False


async def test_tag_timeline(w: World) -> None:
    cats = await w.alice.status("I like #Cats")
    both = await w.dan.status("#dogs and #cats")
    dogs = await w.dan.status("only #dogs")
    await w.alice.status("secret #cats", visibility="private")
    await w.alice.status("quiet #cats", visibility="unlisted")
    # A remote post with a Hashtag tag, as Mastodon sends it.
    async with w.a.state.sessions() as session:
        bob = await resolve_handle(session, w.a.state, "bob@b.example")
        remote = await store_remote_post(session, bob, {
            "id": "https://b.example/users/bob/statuses/1",
            "type": "Note",
            "attributedTo": bob.uri,
            "content": "<p>remote <a href='https://b.example/tags/cats'>#<span>CATS</span></a></p>",
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
            "cc": [bob.followers_uri],
            "tag": [{"type": "Hashtag", "name": "#CATS", "href": "https://b.example/tags/cats"}],
        })
        await session.commit()
        remote_id = str(remote.id)

    response = await w.anon.get("/api/v1/timelines/tag/cats")
    assert response.status_code == 200
    assert ids(response.json()) == [remote_id, both["id"], cats["id"]]
    assert ids((await w.anon.get("/api/v1/timelines/tag/%23CATS")).json()) == [remote_id, both["id"], cats["id"]]
    assert ids((await w.alice.get("/api/v1/timelines/tag/cats", local="true")).json()) == [both["id"], cats["id"]]
    assert ids((await w.anon.get("/api/v1/timelines/tag/cats", remote="1")).json()) == [remote_id]
    assert ids((await w.anon.get("/api/v1/timelines/tag/cats", **{"all[]": "dogs"})).json()) == [both["id"]]
    assert ids((await w.anon.get("/api/v1/timelines/tag/cats", **{"none[]": "dogs"})).json()) == [remote_id, cats["id"]]
    assert ids((await w.anon.get("/api/v1/timelines/tag/birds", **{"any[]": ["dogs", "fish"]})).json()) == [
        dogs["id"], both["id"]
    ]
    assert (await w.anon.get("/api/v1/timelines/tag/nothing")).json() == []
    assert (await w.anon.get("/api/v1/timelines/tag/" + "x" * 300)).json() == []
    assert (await w.anon.get("/api/v1/timelines/tag/cats", limit="many")).status_code == 422


async def test_pagination_and_link_header(w: World) -> None:
    dan = await actor_of(w.a, "dan")
    async with w.a.state.sessions() as session:
        me = await session.get(Actor, dan.id)
        assert me is not None
        made = [await posts.create_post(session, w.a.state, me, f"post {i}") for i in range(45)]
        await session.commit()
    all_ids = [str(s.id) for s in reversed(made)]  # newest first

    first = await w.anon.get("/api/v1/timelines/public", limit="5", local="true")
    assert ids(first.json()) == all_ids[:5]
    link = first.headers["link"]
    next_url, prev_url = [part.split(">")[0].lstrip(" <") for part in link.split(",")]
    assert 'rel="next"' in link and 'rel="prev"' in link
    assert parse_qs(urlsplit(next_url).query) == {"limit": ["5"], "local": ["true"], "max_id": [all_ids[4]]}
    assert parse_qs(urlsplit(prev_url).query) == {"limit": ["5"], "local": ["true"], "min_id": [all_ids[0]]}
    assert next_url.startswith("https://a.example/api/v1/timelines/public?")
    second = await w.anon.get(next_url)
    assert ids(second.json()) == all_ids[5:10]

    # since_id: the newest ones above it; min_id: the ones just above it.
    since = await w.anon.get("/api/v1/timelines/public", since_id=all_ids[10], limit=3)
    assert ids(since.json()) == all_ids[:3]
    after = await w.anon.get("/api/v1/timelines/public", min_id=all_ids[10], limit=3)
    assert ids(after.json()) == all_ids[7:10]
    window = await w.anon.get("/api/v1/timelines/public", max_id=all_ids[2], since_id=all_ids[6])
    assert ids(window.json()) == all_ids[3:6]
    assert (await w.anon.get("/api/v1/timelines/public", max_id=all_ids[-1])).json() == []
    assert "link" not in (await w.anon.get("/api/v1/timelines/public", max_id=all_ids[-1])).headers

    # Defaults and caps.
    assert len((await w.anon.get("/api/v1/timelines/public")).json()) == 20
    assert len((await w.anon.get("/api/v1/timelines/public", limit=1000)).json()) == 40
    assert len((await w.anon.get("/api/v1/timelines/public", limit=0)).json()) == 1
    for bad in ({"limit": "abc"}, {"max_id": "abc"}, {"since_id": "-3"}, {"min_id": "9" * 40}):
        response = await w.anon.get("/api/v1/timelines/public", **bad)
        assert response.status_code == 422, bad
        assert "error" in response.json()
    assert (await w.dan.get("/api/v1/timelines/home", limit="abc")).status_code == 422
    home = await w.dan.get("/api/v1/timelines/home", limit=2)
    assert ids(home.json()) == all_ids[:2] and "max_id=" in home.headers["link"]
