"""``GET /api/v2/search``: local accounts, remote ones through WebFinger, posts by URL, hashtags.

The instance under test runs on SQLite and PostgreSQL; the remote side is a
second in-process instance (``tests/federation.py``).
"""

from __future__ import annotations

from typing import Any

import httpx
from sqlmodel import select

from fedisora.db.models import Actor, Status
from fedisora.processing import interactions, posts
from tests.federation import Fediverse, Instance, token_for

LOCAL = "video.example.org"
PEER = "peer.example.net"


async def post(instance: Instance, actor: Actor, text: str, **kwargs: Any) -> Status:
    async with instance.state.sessions() as session:
        me = await session.get(Actor, actor.id)
        assert me is not None
        status = await posts.create_post(session, instance.state, me, text, **kwargs)
        await session.commit()
        return status


async def search(instance: Instance, token: str | None, **params: Any) -> httpx.Response:
    assert instance.client is not None
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await instance.client.get("/api/v2/search", params=params, headers=headers)


async def found(instance: Instance, token: str | None, **params: Any) -> dict[str, Any]:
    response = await search(instance, token, **params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"accounts", "statuses", "hashtags"}
    return body  # type: ignore[no-any-return]


def accts(body: dict[str, Any]) -> list[str]:
    return [a["acct"] for a in body["accounts"]]


async def test_local_accounts(world: Fediverse, migrated_url: str) -> None:
    a = await world.add(LOCAL, database_url=migrated_url)
    alice = await a.create_account("alice")
    await a.create_account("alicia")
    bob = await a.create_account("bob")
    async with a.state.sessions() as session:
        row = await session.get(Actor, bob.id)
        assert row is not None
        row.display_name = "Bob the Alien"
        session.add(row)
        await session.commit()
    token = await token_for(a, alice)

    assert accts(await found(a, token, q="ali", type="accounts")) == ["alice", "alicia", "bob"]
    assert accts(await found(a, token, q="alicia")) == ["alicia"]
    assert accts(await found(a, token, q="@bob")) == ["bob"]
    assert accts(await found(a, token, q=f"bob@{LOCAL}")) == ["bob"]
    assert accts(await found(a, token, q="ALIEN")) == ["bob"]
    assert accts(await found(a, token, q="ali", limit=1)) == ["alice"]
    assert accts(await found(a, token, q="ali", offset=1, limit=1)) == ["alicia"]
    assert accts(await found(a, token, q="video")) == []  # the instance actor is nobody to find
    assert accts(await found(a, token, q="100%_")) == []
    assert accts(await found(a, token, q="@")) == []
    assert accts(await found(a, token, q="ali", type="hashtags")) == []
    # no token: accounts are public
    assert accts(await found(a, None, q="alicia")) == ["alicia"]

    missing = await search(a, token, q="")
    assert missing.status_code == 400 and "q" in missing.json()["error"]


async def test_remote_account_by_handle_needs_resolve_and_a_user(world: Fediverse, migrated_url: str) -> None:
    a = await world.add(LOCAL, database_url=migrated_url)
    b = await world.add(PEER)
    alice = await a.create_account("alice")
    await b.create_account("carol")
    token = await token_for(a, alice)
    handle = f"@carol@{PEER}"

    assert accts(await found(a, token, q=handle)) == []  # not known yet, and not resolved
    anonymous = await search(a, None, q=handle, resolve="true")
    assert anonymous.status_code == 401
    assert anonymous.json() == {
        "error": "Search queries that resolve remote resources are not supported without authentication"
    }
    app_only = await search(a, await token_for(a, None), q=handle, resolve="true")
    assert app_only.status_code == 401
    paged = await search(a, None, q="carol", offset=5)
    assert paged.status_code == 401

    body = await found(a, token, q=handle, resolve="true")
    assert accts(body) == [f"carol@{PEER}"]
    assert body["accounts"][0]["url"] == f"https://{PEER}/@carol"
    # now known: found without resolving, by handle and by name
    assert accts(await found(a, token, q=f"carol@{PEER}")) == [f"carol@{PEER}"]
    assert accts(await found(a, token, q="caro")) == [f"carol@{PEER}"]
    assert accts(await found(a, token, q=f"@nobody@{PEER}", resolve="true")) == []


async def test_post_by_url(world: Fediverse, migrated_url: str) -> None:
    a = await world.add(LOCAL, database_url=migrated_url)
    b = await world.add(PEER)
    alice = await a.create_account("alice")
    carol = await b.create_account("carol")
    token = await token_for(a, alice)
    remote = await post(b, carol, "a clip from afar")
    hidden = await post(b, carol, "only for followers", visibility="private")
    mine = await post(a, alice, "my own clip")

    assert (await found(a, token, q=remote.uri))["statuses"] == []  # unknown, not resolved
    body = await found(a, token, q=remote.uri, resolve="true")
    assert [s["uri"] for s in body["statuses"]] == [remote.uri]
    assert body["statuses"][0]["account"]["acct"] == f"carol@{PEER}"
    assert body["accounts"] == [] and body["hashtags"] == []
    async with a.state.sessions() as session:
        copy = (await session.exec(select(Status).where(Status.uri == remote.uri))).one()
    by_url = await found(a, token, q=remote.url)
    assert [s["id"] for s in by_url["statuses"]] == [str(copy.id)]
    assert (await found(a, None, q=remote.uri))["statuses"][0]["id"] == str(copy.id)
    assert (await found(a, token, q=remote.uri, type="accounts"))["statuses"] == []

    # a followers-only post is not shown to someone who does not follow its author
    assert (await found(a, token, q=hidden.uri, resolve="true"))["statuses"] == []
    assert [s["id"] for s in (await found(a, token, q=mine.url))["statuses"]] == [str(mine.id)]
    # an account by its URL
    assert accts(await found(a, token, q=f"https://{PEER}/users/carol")) == [f"carol@{PEER}"]
    assert (await found(a, token, q=f"https://{PEER}/nothing/here", resolve="true")) == {
        "accounts": [], "statuses": [], "hashtags": [],
    }


async def test_hashtags_and_full_text(world: Fediverse, migrated_url: str) -> None:
    a = await world.add(LOCAL, database_url=migrated_url)
    alice = await a.create_account("alice")
    bob = await a.create_account("bob")
    token = await token_for(a, alice)
    await post(a, alice, "#clipart and #clips")
    await post(a, bob, "more #clips here")
    await post(a, bob, "#clip")
    mine = await post(a, alice, "Sunset over the harbour")
    theirs = await post(a, bob, "a sunset too")

    names = [t["name"] for t in (await found(a, token, q="clip", type="hashtags"))["hashtags"]]
    assert names == ["clip", "clips", "clipart"]  # the exact match first, then the most used
    tag = (await found(a, token, q="#clips"))["hashtags"][0]
    assert tag == {"name": "clips", "url": f"https://{LOCAL}/tags/clips", "history": [], "following": False}
    assert "following" not in (await found(a, None, q="#clips"))["hashtags"][0]
    assert (await found(a, token, q="nosuchtag", type="hashtags"))["hashtags"] == []
    assert (await found(a, token, q="@clip"))["hashtags"] == []

    # full text: one's own posts, and public posts of accounts that opted in
    assert [s["id"] for s in (await found(a, token, q="sunset"))["statuses"]] == [str(mine.id)]
    async with a.state.sessions() as session:
        row = await session.get(Actor, bob.id)
        assert row is not None
        row.indexable = True
        session.add(row)
        await session.commit()
    assert [s["id"] for s in (await found(a, token, q="SUNSET", type="statuses"))["statuses"]] == [
        str(theirs.id), str(mine.id),
    ]
    assert [s["id"] for s in (await found(a, token, q="sunset", account_id=str(bob.id)))["statuses"]] == [str(theirs.id)]
    assert (await found(a, None, q="sunset"))["statuses"] == []  # needs a signed-in user

    async with a.state.sessions() as session:
        boosted = await session.get(Status, theirs.id)
        me = await session.get(Actor, alice.id)
        assert boosted is not None and me is not None
        await interactions.boost(session, a.state, me, boosted)
        await session.commit()
    assert len((await found(a, token, q="sunset"))["statuses"]) == 2  # boosts are not results
