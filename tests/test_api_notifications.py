"""Notifications (made by local actions and by federated ones) and markers, through the client API.

The instance under test runs on SQLite and PostgreSQL (``migrated_url``); a
second instance (SQLite) plays the remote side through ``tests/federation.py``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from fedisora.db.models import Actor, Notification, Status
from fedisora.federation.remote import resolve_handle
from fedisora.notify import notify
from fedisora.processing import accounts, follows, interactions, posts
from fedisora.state import AppState
from tests.federation import Fediverse, Instance, token_for

LOCAL = "video.example.org"
PEER = "peer.example.net"


Action = Callable[..., Awaitable[Any]]


async def act(instance: Instance, actor: Actor, action: Action, *refs: tuple[Any, int]) -> Any:
    """Run ``action(session, state, me, *rows)`` as ``actor`` in one transaction (as the API
    and the CLI do); ``refs`` are ``(model, id)`` of the rows to load for it."""
    async with instance.state.sessions() as session:
        me = await session.get(Actor, actor.id)
        assert me is not None
        rows = [await get(session, model, id) for model, id in refs]
        result = await action(session, instance.state, me, *rows)
        await session.commit()
        return result


async def get(session: AsyncSession, model: Any, id: int) -> Any:
    row = await session.get(model, id)
    assert row is not None
    return row


def client(instance: Instance) -> httpx.AsyncClient:
    assert instance.client is not None
    return instance.client


async def notifications(instance: Instance, token: str, **params: Any) -> list[dict[str, Any]]:
    response = await client(instance).get(
        "/api/v1/notifications", params=params, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def kinds(items: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    return Counter((n["type"], n["account"]["acct"]) for n in items)


async def test_each_notification_type_arrives_once(world: Fediverse, migrated_url: str) -> None:
    a = await world.add(LOCAL, database_url=migrated_url)
    b = await world.add(PEER)
    alice = await a.create_account("alice")
    bob = await a.create_account("bob")
    carol = await b.create_account("carol")
    alice_token = await token_for(a, alice)
    bob_token = await token_for(a, bob)

    # follows: a local one (through the API's follow service) and a remote one
    await act(a, bob, lambda s, st, me, o0: accounts.follow_account(s, st, me, o0), (Actor, alice.id))
    async def carol_follows(s: AsyncSession, st: AppState, me: Actor) -> None:
        await follows.follow(s, st, me, await resolve_handle(s, st, f"alice@{LOCAL}"))
    await act(b, carol, carol_follows)
    await world.settle()

    clip = await act(a, alice, lambda s, st, me: posts.create_post(s, st, me, "my first #clip"))

    async def bob_reacts(s: AsyncSession, st: AppState, me: Actor) -> None:
        status = await get(s, Status, clip.id)
        await interactions.like(s, st, me, status)
        await interactions.boost(s, st, me, status)
        await posts.create_post(s, st, me, "@alice nice one")
    await act(a, bob, bob_reacts)

    async def carol_reacts(s: AsyncSession, st: AppState, me: Actor) -> None:
        status = await interactions.find_post(s, st, clip.uri)
        await interactions.like(s, st, me, status)
        await interactions.boost(s, st, me, status)
        await posts.create_post(s, st, me, f"@alice@{LOCAL} hello from afar")
    await act(b, carol, carol_reacts)
    await world.settle()

    got = await notifications(a, alice_token)
    expected = Counter(
        {
            (kind, who): 1
            for kind in ("follow", "favourite", "reblog", "mention")
            for who in ("bob", f"carol@{PEER}")
        }
    )
    assert kinds(got) == expected
    by_kind = {(n["type"], n["account"]["acct"]): n for n in got}
    for who in ("bob", f"carol@{PEER}"):
        assert by_kind[("favourite", who)]["status"]["id"] == str(clip.id)
        assert by_kind[("reblog", who)]["status"]["id"] == str(clip.id)
        assert "status" not in by_kind[("follow", who)]
        mention = by_kind[("mention", who)]["status"]
        assert [m["acct"] for m in mention["mentions"]] == ["alice"]
    assert [n["id"] for n in got] == sorted((n["id"] for n in got), key=int, reverse=True)

    # doing it all again (and processing everything twice) makes nothing new
    await act(a, bob, lambda s, st, me, o0: interactions.like(s, st, me, o0), (Status, clip.id))
    async with a.state.sessions() as session:
        ids = [row.id for row in (await session.exec(select(Notification))).all()]
    await world.settle()
    assert kinds(await notifications(a, alice_token)) == expected

    # an edit notifies those who boosted the post
    await act(a, alice, lambda s, st, me, o0: posts.edit_post(s, st, me, o0, "my #clip, edited"), (Status, clip.id))
    await world.settle()
    updates = await notifications(a, bob_token, **{"types[]": "update"})
    assert [(n["type"], n["account"]["acct"], n["status"]["id"]) for n in updates] == [("update", "alice", str(clip.id))]
    assert len(ids) == 8

    # undoing withdraws: unlike, unboost, unfollow (local and remote)
    async def bob_undoes(s: AsyncSession, st: AppState, me: Actor) -> None:
        status = await get(s, Status, clip.id)
        await interactions.unlike(s, st, me, status)
        await interactions.unboost(s, st, me, status)
        await follows.unfollow(s, st, me, await get(s, Actor, alice.id))
    await act(a, bob, bob_undoes)

    async def carol_undoes(s: AsyncSession, st: AppState, me: Actor) -> None:
        status = await interactions.find_post(s, st, clip.uri)
        await interactions.unlike(s, st, me, status)
        await follows.unfollow(s, st, me, await resolve_handle(s, st, f"alice@{LOCAL}"))
    await act(b, carol, carol_undoes)
    await world.settle()
    assert kinds(await notifications(a, alice_token)) == Counter(
        {("mention", "bob"): 1, ("mention", f"carol@{PEER}"): 1, ("reblog", f"carol@{PEER}"): 1}
    )


async def test_follow_requests_and_blocked_or_muted_senders(world: Fediverse, migrated_url: str) -> None:
    a = await world.add(LOCAL, database_url=migrated_url)
    alice = await a.create_account("alice")
    bob = await a.create_account("bob")
    eve = await a.create_account("eve")
    mallory = await a.create_account("mallory")
    token = await token_for(a, alice)

    async def lock(s: AsyncSession, st: AppState, me: Actor) -> None:
        me.manually_approves_followers = True
        s.add(me)
    await act(a, alice, lock)
    await act(a, bob, lambda s, st, me, o0: follows.follow(s, st, me, o0), (Actor, alice.id))
    await world.settle()
    assert kinds(await notifications(a, token)) == Counter({("follow_request", "bob"): 1})

    # answering the request removes it (as on Mastodon)
    async def approve(s: AsyncSession, st: AppState, me: Actor) -> None:
        for record, _ in await follows.pending_requests(s, me):
            await follows.accept(s, st, record)
    await act(a, alice, approve)
    await world.settle()
    assert await notifications(a, token) == []

    # a blocked account and an account muted with notifications make none
    await act(a, alice, lambda s, st, me, o0: interactions.block(s, st, me, o0), (Actor, eve.id))
    await act(a, alice, lambda s, st, me, o0: accounts.mute(s, me, o0), (Actor, mallory.id))
    await world.settle()
    clip = await act(a, alice, lambda s, st, me: posts.create_post(s, st, me, "a clip"))
    for sender in (eve, mallory):
        await act(a, sender, lambda s, st, me: posts.create_post(s, st, me, "hey @alice"))
        await act(a, sender, lambda s, st, me, o0: interactions.like(s, st, me, o0), (Status, clip.id))
    await world.settle()
    assert await notifications(a, token) == []
    async with a.state.sessions() as session:
        senders = {row.from_actor_id for row in (await session.exec(select(Notification))).all()}
    assert senders.isdisjoint({eve.id, mallory.id})

    # muted without notifications: they do notify
    await act(a, alice, lambda s, st, me, o0: accounts.mute(s, me, o0, notifications=False), (Actor, mallory.id))
    await act(a, mallory, lambda s, st, me: posts.create_post(s, st, me, "@alice again"))
    assert kinds(await notifications(a, token)) == Counter({("mention", "mallory"): 1})

    # blocking someone later hides what they did before
    await act(a, bob, lambda s, st, me: posts.create_post(s, st, me, "@alice hello"))
    assert ("mention", "bob") in kinds(await notifications(a, token))
    await act(a, alice, lambda s, st, me, o0: interactions.block(s, st, me, o0), (Actor, bob.id))
    assert ("mention", "bob") not in kinds(await notifications(a, token))


async def test_filters_pagination_dismiss_clear_and_markers(world: Fediverse, migrated_url: str) -> None:
    a = await world.add(LOCAL, database_url=migrated_url)
    alice = await a.create_account("alice")
    bob = await a.create_account("bob")
    carol = await a.create_account("carol")
    token = await token_for(a, alice)
    auth = {"Authorization": f"Bearer {token}"}
    http = client(a)

    clip = await act(a, alice, lambda s, st, me: posts.create_post(s, st, me, "a clip"))
    await act(a, bob, lambda s, st, me, o0: accounts.follow_account(s, st, me, o0), (Actor, alice.id))
    await world.settle()  # the follow notifies when its inbox job runs
    await act(a, bob, lambda s, st, me: posts.create_post(s, st, me, "@alice look"))
    await act(a, carol, lambda s, st, me, o0: interactions.like(s, st, me, o0), (Status, clip.id))
    await act(a, carol, lambda s, st, me, o0: interactions.boost(s, st, me, o0), (Status, clip.id))
    secret = await act(a, carol, lambda s, st, me: posts.create_post(s, st, me, "@alice psst", visibility="direct"))
    await world.settle()

    everything = await notifications(a, token)
    assert [n["type"] for n in everything] == ["mention", "reblog", "favourite", "mention", "follow"]

    assert [n["type"] for n in await notifications(a, token, **{"types[]": ["mention", "follow"]})] == [
        "mention", "mention", "follow",
    ]
    assert [n["type"] for n in await notifications(a, token, **{"exclude_types[]": ["mention", "reblog"]})] == [
        "favourite", "follow",
    ]
    from_bob = await notifications(a, token, account_id=str(bob.id))
    assert [n["type"] for n in from_bob] == ["mention", "follow"]

    # pages of two, by the Link header
    seen: list[str] = []
    url: str | None = "/api/v1/notifications?limit=2"
    while url:
        page = await http.get(url, headers=auth)
        assert page.status_code == 200
        seen += [n["id"] for n in page.json()]
        assert len(page.json()) <= 2
        links = httpx.Response(200, headers={"link": page.headers.get("link", "")}).links
        url = links.get("next", {}).get("url") if page.json() else None
    assert seen == [n["id"] for n in everything]
    newer = await http.get("/api/v1/notifications", params={"min_id": everything[2]["id"], "limit": 1}, headers=auth)
    assert [n["id"] for n in newer.json()] == [everything[1]["id"]]
    since = await http.get("/api/v1/notifications", params={"since_id": everything[2]["id"]}, headers=auth)
    assert [n["id"] for n in since.json()] == [everything[0]["id"], everything[1]["id"]]

    # one; unread count against the marker
    one = await http.get(f"/api/v1/notifications/{everything[3]['id']}", headers=auth)
    assert one.status_code == 200 and one.json() == everything[3]
    count = await http.get("/api/v1/notifications/unread_count", headers=auth)
    assert count.json() == {"count": 5}

    # markers round trip; the version goes up with each save
    assert (await http.get("/api/v1/markers", params={"timeline[]": ["home", "notifications"]}, headers=auth)).json() == {}
    saved = await http.post(
        "/api/v1/markers",
        data={"notifications[last_read_id]": everything[2]["id"], "home[last_read_id]": str(clip.id)},
        headers=auth,
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["notifications"]["last_read_id"] == everything[2]["id"]
    first_version = saved.json()["notifications"]["version"]
    again = await http.post(
        "/api/v1/markers", json={"notifications": {"last_read_id": everything[1]["id"]}}, headers=auth
    )
    assert set(again.json()) == {"notifications"}
    assert again.json()["notifications"]["version"] == first_version + 1
    markers = (await http.get("/api/v1/markers?timeline[]=home&timeline[]=notifications", headers=auth)).json()
    assert markers["home"]["last_read_id"] == str(clip.id)
    assert markers["notifications"]["last_read_id"] == everything[1]["id"]
    assert markers["notifications"]["version"] == first_version + 1
    assert set(markers["home"]) == {"last_read_id", "version", "updated_at"}
    assert (await http.get("/api/v1/notifications/unread_count", headers=auth)).json() == {"count": 1}
    bad = await http.post("/api/v1/markers", data={"home[last_read_id]": "abc"}, headers=auth)
    assert bad.status_code == 422

    # a post the viewer can no longer see takes its notification along
    await act(a, carol, lambda s, st, me, o0: posts.delete_post(s, st, me, o0), (Status, secret.id))
    assert [n["type"] for n in await notifications(a, token)] == ["reblog", "favourite", "mention", "follow"]

    # dismiss one, then clear the rest; someone else's is not found
    bob_token = await token_for(a, bob)
    other = await http.post(
        f"/api/v1/notifications/{everything[1]['id']}/dismiss", headers={"Authorization": f"Bearer {bob_token}"}
    )
    assert other.status_code == 404
    assert (await http.get(f"/api/v1/notifications/{everything[1]['id']}", headers={"Authorization": f"Bearer {bob_token}"})).status_code == 404
    dismissed = await http.post(f"/api/v1/notifications/{everything[1]['id']}/dismiss", headers=auth)
    assert dismissed.status_code == 200 and dismissed.json() == {}
    assert everything[1]["id"] not in [n["id"] for n in await notifications(a, token)]
    assert (await http.get(f"/api/v1/notifications/{everything[1]['id']}", headers=auth)).status_code == 404
    cleared = await http.post("/api/v1/notifications/clear", headers=auth)
    assert cleared.status_code == 200 and cleared.json() == {}
    assert await notifications(a, token) == []

    # a dismissed event does not come back when it is reported again
    async def like_reported_again(s: AsyncSession, st: AppState, me: Actor, alice_row: Actor, status: Status) -> None:
        await notify(s, recipient=alice_row, type="favourite", from_actor=me, status=status)
    await act(a, carol, like_reported_again, (Actor, alice.id), (Status, clip.id))
    assert await notifications(a, token) == []


async def test_authentication_and_scopes(world: Fediverse, migrated_url: str) -> None:
    a = await world.add(LOCAL, database_url=migrated_url)
    alice = await a.create_account("alice")
    http = client(a)
    assert (await http.get("/api/v1/notifications")).status_code == 401
    statuses_only = await token_for(a, alice, scopes="read:statuses")
    denied = await http.get("/api/v1/notifications", headers={"Authorization": f"Bearer {statuses_only}"})
    assert denied.status_code == 403
    read_only = await token_for(a, alice, scopes="read")
    cleared = await http.post("/api/v1/notifications/clear", headers={"Authorization": f"Bearer {read_only}"})
    assert cleared.status_code == 403
    junk = await http.get("/api/v1/notifications", params={"limit": "x"}, headers={"Authorization": f"Bearer {read_only}"})
    assert junk.status_code == 422
