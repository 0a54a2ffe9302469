"""Two and three fedisora instances federating in process (see tests/federation.py)."""

from __future__ import annotations


from sqlmodel import select

from fedisora.db.models import Activity, Actor, FollowState, Job, JobState, Like, Status
from fedisora.federation.remote import resolve_handle
from fedisora.processing import follows, interactions, posts
from tests.federation import Fediverse, Instance


async def local(instance: Instance, username: str) -> Actor:
    async with instance.state.sessions() as session:
        return (await session.exec(select(Actor).where(Actor.local, Actor.username == username))).one()


async def follow_remote(instance: Instance, username: str, handle: str) -> None:
    async with instance.state.sessions() as session:
        me = (await session.exec(select(Actor).where(Actor.local, Actor.username == username))).one()
        target = await resolve_handle(session, instance.state, handle)
        await follows.follow(session, instance.state, me, target)
        await session.commit()


async def post(instance: Instance, username: str, text: str, **kwargs: object) -> Status:
    async with instance.state.sessions() as session:
        me = (await session.exec(select(Actor).where(Actor.local, Actor.username == username))).one()
        status = await posts.create_post(session, instance.state, me, text, **kwargs)  # type: ignore[arg-type]
        await session.commit()
        return status


async def copy_of(instance: Instance, uri: str) -> Status | None:
    async with instance.state.sessions() as session:
        return (await session.exec(select(Status).where(Status.uri == uri))).first()


async def follow_state(instance: Instance, follower_uri: str, target_uri: str) -> str | None:
    async with instance.state.sessions() as session:
        follower = (await session.exec(select(Actor).where(Actor.uri == follower_uri))).first()
        target = (await session.exec(select(Actor).where(Actor.uri == target_uri))).first()
        if follower is None or target is None:
            return None
        record = await follows.find_follow(session, follower, target)
        return record.state if record else None


async def test_follow_post_edit_delete_across_instances(world: Fediverse) -> None:
    a = await world.add("a.example")
    b = await world.add("b.example")
    alice = await a.create_account("alice")
    bob = await b.create_account("bob")

    await follow_remote(b, "bob", "@alice@a.example")
    await world.settle()
    assert await follow_state(a, bob.uri, alice.uri) == FollowState.ACCEPTED.value
    assert await follow_state(b, bob.uri, alice.uri) == FollowState.ACCEPTED.value

    status = await post(a, "alice", "Hello @bob@b.example, a #video for you", visibility="public")
    await world.settle()
    received = await copy_of(b, status.uri)
    assert received is not None
    assert received.visibility == "public"
    assert "a #" in received.content or "hashtag" in received.content
    assert 'href="https://b.example/@bob"' in received.content

    async with a.state.sessions() as session:
        mine = await session.get(Status, status.id)
        assert mine is not None
        await posts.edit_post(session, a.state, await session.get(Actor, alice.id), mine, "Edited text")  # type: ignore[arg-type]
        await session.commit()
    await world.settle()
    edited = await copy_of(b, status.uri)
    assert edited is not None and "Edited text" in edited.content and edited.edited_at is not None

    async with b.state.sessions() as session:
        their = await copy_of(b, status.uri)
        me = await session.get(Actor, bob.id)
        assert their is not None and me is not None
        await interactions.like(session, b.state, me, their)
        await interactions.boost(session, b.state, me, their)
        await session.commit()
    await world.settle()
    async with a.state.sessions() as session:
        likes = (await session.exec(select(Like).where(Like.status_id == status.id))).all()
        boosts = (await session.exec(select(Status).where(Status.reblog_of_id == status.id))).all()
    assert len(likes) == 1 and len(boosts) == 1

    async with a.state.sessions() as session:
        mine = await session.get(Status, status.id)
        await posts.delete_post(session, a.state, await session.get(Actor, alice.id), mine)  # type: ignore[arg-type]
        await session.commit()
    await world.settle()
    gone = await copy_of(b, status.uri)
    assert gone is not None and gone.deleted_at is not None and gone.content == ""
    assert a.client is not None
    tomb = await a.client.get(status.uri, headers={"Accept": "application/activity+json"})
    assert tomb.status_code == 410 and tomb.json()["type"] == "Tombstone"

    async with b.state.sessions() as session:
        me = await session.get(Actor, bob.id)
        them = (await session.exec(select(Actor).where(Actor.uri == alice.uri))).one()
        await follows.unfollow(session, b.state, me, them)  # type: ignore[arg-type]
        await session.commit()
    await world.settle()
    assert await follow_state(a, bob.uri, alice.uri) is None


async def test_delivery_survives_a_peer_being_down(world: Fediverse) -> None:
    a = await world.add("a.example")
    b = await world.add("b.example")
    alice = await a.create_account("alice")
    await b.create_account("bob")
    await follow_remote(b, "bob", "@alice@a.example")
    await world.settle()

    world.transport.down.add("b.example")
    status = await post(a, "alice", "posted while b is down")
    await world.settle()
    async with a.state.sessions() as session:
        pending = (await session.exec(select(Job).where(Job.kind == "deliver", Job.state == JobState.PENDING.value))).all()
    assert len(pending) == 1 and pending[0].attempts == 1
    assert await copy_of(b, status.uri) is None

    world.transport.down.discard("b.example")
    await world.make_due(a)
    await world.settle()
    assert await copy_of(b, status.uri) is not None
    assert alice.uri


async def test_manual_approval_and_followers_only_posts(world: Fediverse) -> None:
    a = await world.add("a.example")
    b = await world.add("b.example")
    c = await world.add("c.example")
    alice = await a.create_account("alice")
    bob = await b.create_account("bob")
    await c.create_account("carol")
    async with a.state.sessions() as session:
        me = await session.get(Actor, alice.id)
        assert me is not None
        me.manually_approves_followers = True
        await session.commit()

    await follow_remote(b, "bob", "@alice@a.example")
    await follow_remote(c, "carol", "@alice@a.example")
    await world.settle()
    assert await follow_state(b, bob.uri, alice.uri) == FollowState.PENDING.value
    async with a.state.sessions() as session:
        me = await session.get(Actor, alice.id)
        requests = await follows.pending_requests(session, me)  # type: ignore[arg-type]
        assert sorted(actor.domain for _, actor in requests) == ["b.example", "c.example"]
        for record, actor in requests:
            if actor.domain == "b.example":
                await follows.accept(session, a.state, record)
            else:
                await follows.reject(session, a.state, record)
        await session.commit()
    await world.settle()
    assert await follow_state(b, bob.uri, alice.uri) == FollowState.ACCEPTED.value
    assert await follow_state(c, (await local(c, "carol")).uri, alice.uri) is None

    secret = await post(a, "alice", "followers only", visibility="private")
    await world.settle()
    copy = await copy_of(b, secret.uri)
    assert copy is not None and copy.visibility == "private"
    assert await copy_of(c, secret.uri) is None  # never delivered to a non-follower
    assert a.client is not None
    anonymous = await a.client.get(secret.uri, headers={"Accept": "application/activity+json"})
    assert anonymous.status_code == 404  # followers-only posts are not served to anonymous fetches


async def test_same_activity_twice_has_one_effect(world: Fediverse) -> None:
    a = await world.add("a.example")
    b = await world.add("b.example")
    await a.create_account("alice")
    await b.create_account("bob")
    await follow_remote(b, "bob", "@alice@a.example")
    await world.settle()
    status = await post(a, "alice", "once")
    await world.settle()
    # Replay a's delivery to b exactly as it was sent.
    sent = [r for r in world.transport.requests if r.method == "POST" and r.url.host == "b.example"][-1]
    again = await world.transport.apps["b.example"].handle_async_request(sent)
    assert again.status_code == 202
    await world.settle()
    async with b.state.sessions() as session:
        copies = (await session.exec(select(Status).where(Status.uri == status.uri))).all()
        activities = (await session.exec(select(Activity).where(Activity.uri == f"{status.uri}/activity"))).all()
    assert len(copies) == 1 and len(activities) == 1


async def test_discovery_documents(world: Fediverse) -> None:
    a = await world.add("a.example")
    alice = await a.create_account("alice", bot=True)
    client = a.client
    assert client is not None
    finger = await client.get("/.well-known/webfinger", params={"resource": "acct:alice@a.example"})
    assert finger.status_code == 200
    assert finger.headers["access-control-allow-origin"] == "*"
    links = {link["rel"]: link for link in finger.json()["links"]}
    assert links["self"] == {"rel": "self", "type": "application/activity+json", "href": alice.uri}
    assert (await client.get("/.well-known/webfinger", params={"resource": "acct:nobody@a.example"})).status_code == 404
    assert (await client.get("/.well-known/webfinger", params={"resource": "acct:alice@elsewhere.example"})).status_code == 404
    assert (await client.get("/.well-known/webfinger")).status_code == 400

    doc = (await client.get("/users/alice", headers={"Accept": "application/activity+json"})).json()
    assert doc["type"] == "Service"
    assert doc["publicKey"]["id"] == f"{alice.uri}#main-key"
    assert doc["publicKey"]["owner"] == alice.uri
    assert doc["publicKey"]["publicKeyPem"].startswith("-----BEGIN PUBLIC KEY-----")
    assert doc["endpoints"]["sharedInbox"] == "https://a.example/inbox"
    assert doc["assertionMethod"][0]["publicKeyMultibase"].startswith("z6Mk")
    browser = await client.get("/users/alice", headers={"Accept": "text/html"})
    assert browser.status_code == 302 and "Accept" in browser.headers["vary"].split(", ")

    outbox = (await client.get("/users/alice/outbox", headers={"Accept": "application/activity+json"})).json()
    assert outbox["type"] == "OrderedCollection" and outbox["totalItems"] == 0
    page = (await client.get(outbox["first"].replace("https://a.example", ""))).json()
    assert page["type"] == "OrderedCollectionPage" and page["partOf"] == outbox["id"]
    instance = (await client.get("/actor", headers={"Accept": "application/activity+json"})).json()
    assert instance["type"] == "Application"


async def test_rejected_local_follow_stays_rejected_whatever_the_job_order(world: Fediverse) -> None:
    a = await world.add("a.example")
    alice = await a.create_account("alice")
    bob = await a.create_account("bob")
    async with a.state.sessions() as session:
        me = await session.get(Actor, alice.id)
        assert me is not None
        me.manually_approves_followers = True
        await session.commit()
    async with a.state.sessions() as session:
        await follows.follow(session, a.state, await session.get(Actor, bob.id), await session.get(Actor, alice.id))  # type: ignore[arg-type]
        await session.commit()
    # alice rejects before the queued Follow job has run
    async with a.state.sessions() as session:
        (record, _), = await follows.pending_requests(session, await session.get(Actor, alice.id))  # type: ignore[arg-type]
        await follows.reject(session, a.state, record)
        await session.commit()
    await world.settle()
    assert await follow_state(a, bob.uri, alice.uri) is None
