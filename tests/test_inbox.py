"""The inbox: bad input is refused with a JSON error and changes nothing; good input is stored once.

Peers are a second harness instance (``b.example``, whose bob signs with his
real key taken from b's ``keys`` table) and, where a peer must behave in a way
fedisora does not (GoToSocial key stubs, a 410 for a deleted actor), a
:class:`tests.federation.StaticPeer` serving fixed documents.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import select

from activitypub import keys as keygen
from activitypub import vocab
from fedisora.db.models import Activity, Actor, Follow, FollowState, Job, Key, KeyAlgorithm
from tests.federation import Fediverse, Instance, signed_post

A_INBOX = "https://a.example/inbox"
ALICE_INBOX = "https://a.example/users/alice/inbox"


@dataclass
class Peer:
    uri: str
    key_id: str
    private_key_pem: str


@pytest.fixture
async def a(world: Fediverse) -> Instance:
    instance = await world.add("a.example")
    await instance.create_account("alice")
    return instance


@pytest.fixture
async def b(world: Fediverse) -> Instance:
    instance = await world.add("b.example")
    await instance.create_account("bob")
    return instance


async def signer(instance: Instance, username: str) -> Peer:
    """A local actor of ``instance`` as a peer that signs by hand: its uri, key id, private key."""
    async with instance.state.sessions() as session:
        actor = (await session.exec(select(Actor).where(Actor.local, Actor.username == username))).one()
        key = (
            await session.exec(select(Key).where(Key.actor_id == actor.id, Key.algorithm == KeyAlgorithm.RSA.value))
        ).one()
        assert key.private_key_pem is not None
        return Peer(actor.uri, key.key_id, key.private_key_pem)


async def counts(instance: Instance) -> tuple[int, int]:
    async with instance.state.sessions() as session:
        activities = (await session.exec(select(sa.func.count()).select_from(Activity))).one()
        jobs = (await session.exec(select(sa.func.count()).select_from(Job))).one()
        return int(activities), int(jobs)


def follow_of_alice(actor: str, n: int = 1) -> dict[str, Any]:
    return vocab.follow(id=f"{actor}#follows/{n}", actor=actor, object="https://a.example/users/alice")


def client(instance: Instance) -> httpx.AsyncClient:
    assert instance.client is not None
    return instance.client


async def post(instance: Instance, peer: Peer, activity: Any, url: str = A_INBOX, **kwargs: Any) -> httpx.Response:
    return await signed_post(client(instance), url, activity, peer.key_id, peer.private_key_pem, **kwargs)


async def assert_refused(
    instance: Instance, response: httpx.Response, status: int, before: tuple[int, int], reason: str = ""
) -> None:
    """``status`` with a JSON ``{"error": …}`` saying ``reason``, and no activity or job stored."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"]
    assert reason in body["error"]
    assert await counts(instance) == before


# --- refused ---------------------------------------------------------------------------


async def test_unsigned_is_401(a: Instance, b: Instance) -> None:
    before = await counts(a)
    response = await client(a).post(
        A_INBOX,
        content=json.dumps(follow_of_alice("https://b.example/users/bob")).encode(),
        headers={"Content-Type": "application/activity+json"},
    )
    await assert_refused(a, response, 401, before, "no HTTP signature")


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b'{"type": "Follow", "id": ', "application/activity+json", 400),  # malformed JSON
        (b"\xff\xfe not utf-8", "application/activity+json", 400),
        (b'[{"type": "Follow"}]', "application/activity+json", 400),  # a JSON array
        (b'"Follow"', "application/activity+json", 400),  # a JSON string
        (b'{"type": "Follow", "actor": "https://b.example/users/bob"}', "application/activity+json", 400),  # no id
        (None, "text/plain", 415),  # a good activity, wrong content type
    ],
)
async def test_unparseable_bodies(a: Instance, b: Instance, body: bytes | None, content_type: str, status: int) -> None:
    bob = await signer(b, "bob")
    before = await counts(a)
    payload = body if body is not None else json.dumps(follow_of_alice(bob.uri)).encode()
    response = await post(a, bob, payload, content_type=content_type)
    await assert_refused(a, response, status, before)


async def test_body_over_the_limit_is_413(a: Instance, b: Instance) -> None:
    a.config.federation.max_body_bytes = 1024
    bob = await signer(b, "bob")
    activity = follow_of_alice(bob.uri)
    activity["padding"] = "x" * 2000
    before = await counts(a)
    await assert_refused(a, await post(a, bob, activity), 413, before, "too large")
    # Without a Content-Length the stream is cut off at the limit all the same.
    body = json.dumps(activity).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(body), 256):
            yield body[i : i + 256]

    response = await client(a).post(A_INBOX, content=chunks(), headers={"Content-Type": "application/activity+json"})
    await assert_refused(a, response, 413, before, "too large")


async def test_actor_other_than_the_signer_is_401(a: Instance, b: Instance) -> None:
    await b.create_account("carol")
    bob = await signer(b, "bob")
    before = await counts(a)
    response = await post(a, bob, follow_of_alice("https://b.example/users/carol"))
    await assert_refused(a, response, 401, before, "signed by https://b.example/users/bob")


async def test_replayed_old_signature_is_401(a: Instance, b: Instance) -> None:
    bob = await signer(b, "bob")
    before = await counts(a)
    old = datetime.now(UTC) - timedelta(hours=2)
    await assert_refused(a, await post(a, bob, follow_of_alice(bob.uri), now=old), 401, before, "old (max")
    await assert_refused(a, await post(a, bob, follow_of_alice(bob.uri), now=old, rfc9421=True), 401, before, "old (max")


async def test_signature_from_the_future_is_401(a: Instance, b: Instance) -> None:
    bob = await signer(b, "bob")
    before = await counts(a)
    future = datetime.now(UTC) + timedelta(seconds=a.config.federation.signature_max_future + 600)
    await assert_refused(a, await post(a, bob, follow_of_alice(bob.uri), now=future), 401, before, "in the future")
    await assert_refused(a, await post(a, bob, follow_of_alice(bob.uri), now=future, rfc9421=True), 401, before, "in the future")


async def test_body_tampered_after_signing_is_401(a: Instance, b: Instance) -> None:
    bob = await signer(b, "bob")
    signed = follow_of_alice(bob.uri)
    tampered = json.dumps({**signed, "id": f"{bob.uri}#follows/evil"}).encode()
    before = await counts(a)
    await assert_refused(a, await post(a, bob, signed, send_body=tampered), 401, before, "digest sha-256 does not match")
    await assert_refused(a, await post(a, bob, signed, send_body=tampered, rfc9421=True), 401, before, "content-digest")


async def test_create_of_an_object_on_another_domain_is_400(a: Instance, b: Instance) -> None:
    bob = await signer(b, "bob")
    note = vocab.note(
        id="https://elsewhere.example/notes/1", attributed_to=bob.uri, content="<p>hi</p>",
        published=datetime.now(UTC), to=["https://www.w3.org/ns/activitystreams#Public"], cc=[],
    )
    activity = vocab.create(id=f"{bob.uri}/statuses/1/activity", actor=bob.uri, object=note)
    before = await counts(a)
    await assert_refused(a, await post(a, bob, activity), 400, before, "not on its actor's server")


async def test_create_of_an_object_attributed_to_someone_else_is_400(a: Instance, b: Instance) -> None:
    bob = await signer(b, "bob")
    note = vocab.note(
        id=f"{bob.uri}/statuses/2", attributed_to="https://b.example/users/carol", content="<p>not mine</p>",
        published=datetime.now(UTC), to=["https://www.w3.org/ns/activitystreams#Public"], cc=[],
    )
    activity = vocab.create(id=f"{bob.uri}/statuses/2/activity", actor=bob.uri, object=note)
    before = await counts(a)
    await assert_refused(a, await post(a, bob, activity), 400, before, "attributedTo")


async def test_inbox_of_an_unknown_user_is_404(a: Instance, b: Instance) -> None:
    bob = await signer(b, "bob")
    before = await counts(a)
    response = await post(a, bob, follow_of_alice(bob.uri), url="https://a.example/users/nobody/inbox")
    await assert_refused(a, response, 404, before, "not found")


async def test_blocked_domain_is_403(a: Instance, b: Instance) -> None:
    a.config.moderation.blocked_domains = ["b.example"]
    bob = await signer(b, "bob")
    before = await counts(a)
    await assert_refused(a, await post(a, bob, follow_of_alice(bob.uri)), 403, before, "blocked")
    await assert_refused(a, await post(a, bob, follow_of_alice(bob.uri), url=ALICE_INBOX), 403, before, "blocked")


# --- accepted ----------------------------------------------------------------------------


async def follow_state(instance: Instance, follower_uri: str) -> str | None:
    async with instance.state.sessions() as session:
        row = (
            await session.exec(
                select(Follow).join(Actor, Actor.id == Follow.follower_id).where(Actor.uri == follower_uri)
            )
        ).first()
        return row.state if row else None


@pytest.mark.parametrize("url", [A_INBOX, ALICE_INBOX])
async def test_signed_follow_is_accepted(world: Fediverse, a: Instance, b: Instance, url: str) -> None:
    bob = await signer(b, "bob")
    response = await post(a, bob, follow_of_alice(bob.uri), url=url)
    assert response.status_code == 202, response.text
    await world.settle()
    assert await follow_state(a, bob.uri) == FollowState.ACCEPTED.value
    accepts = world.transport.posts_to("b.example")
    assert len(accepts) == 1 and json.loads(accepts[0].content)["type"] == "Accept"
    # b never sent that Follow (it was made by hand), so b ignores the Accept: recorded, not retried.
    async with b.state.sessions() as session:
        accept = (await session.exec(select(Activity).where(Activity.activity_type == "Accept"))).one()
        assert accept.state == "processed" and (accept.error or "").startswith("ignored:")
        assert (await session.exec(select(Job).where(Job.kind == "inbox", Job.state != "done"))).first() is None


async def test_rfc9421_signed_follow_is_accepted(world: Fediverse, a: Instance, b: Instance) -> None:
    bob = await signer(b, "bob")
    response = await post(a, bob, follow_of_alice(bob.uri), rfc9421=True)
    assert response.status_code == 202, response.text
    await world.settle()
    assert await follow_state(a, bob.uri) == FollowState.ACCEPTED.value


async def test_gotosocial_key_stub(world: Fediverse, a: Instance) -> None:
    """GoToSocial's keyId is ``…/main-key`` (no fragment); that URL serves a stub of the actor."""
    pair = keygen.generate_rsa()
    uri = "https://gts.example/users/tom"
    key = {"id": f"{uri}/main-key", "owner": uri, "publicKeyPem": pair.public_pem}
    peer = world.add_documents("gts.example", {
        f"{uri}/main-key": {"@context": [vocab.AS_CONTEXT, vocab.SECURITY_CONTEXT], "id": uri, "type": "Person",
                            "preferredUsername": "tom", "publicKey": key},
        uri: {"@context": [vocab.AS_CONTEXT, vocab.SECURITY_CONTEXT], "id": uri, "type": "Person",
              "preferredUsername": "tom", "inbox": f"{uri}/inbox", "outbox": f"{uri}/outbox",
              "followers": f"{uri}/followers", "publicKey": key},
    })
    tom = Peer(uri, f"{uri}/main-key", pair.private_pem)
    response = await post(a, tom, follow_of_alice(uri))
    assert response.status_code == 202, response.text
    # GoToSocial refuses unsigned GETs: every fetch was signed by a's instance actor.
    gets = [h for method, _, h in peer.requests if method == "GET"]
    assert gets and all("signature" in h for h in gets)
    await world.settle()
    assert await follow_state(a, uri) == FollowState.ACCEPTED.value
    assert [act["type"] for act in peer.posted_activities()] == ["Accept"]


async def test_rotated_key_is_refetched_once(world: Fediverse, a: Instance, b: Instance) -> None:
    bob = await signer(b, "bob")
    first = await post(a, bob, follow_of_alice(bob.uri, 1))
    assert first.status_code == 202  # a now caches bob's key
    fetches_before = sum(1 for r in world.transport.requests if r.method == "GET" and r.url.host == "b.example")

    new = keygen.generate_rsa()  # bob rotates: same key id, new key (b serves it in bob's actor document)
    async with b.state.sessions() as session:
        key = (await session.exec(select(Key).where(Key.key_id == bob.key_id))).one()
        key.public_key_pem, key.private_key_pem = new.public_pem, new.private_pem
        await session.commit()
    rotated = Peer(bob.uri, bob.key_id, new.private_pem)
    second = await post(a, rotated, vocab.like(id=f"{bob.uri}#likes/1", actor=bob.uri, object="https://a.example/x"))
    assert second.status_code == 202, second.text
    fetches = sum(1 for r in world.transport.requests if r.method == "GET" and r.url.host == "b.example")
    assert fetches == fetches_before + 1
    async with a.state.sessions() as session:
        cached = (await session.exec(select(Key).where(Key.key_id == bob.key_id))).one()
        assert cached.public_key_pem == new.public_pem
    # The old key no longer verifies, and a refetch does not help: refused, nothing stored.
    before = await counts(a)
    stale = await post(a, bob, vocab.like(id=f"{bob.uri}#likes/2", actor=bob.uri, object="https://a.example/y"))
    await assert_refused(a, stale, 401, before, "does not match")


async def test_same_activity_twice_is_stored_once(world: Fediverse, a: Instance, b: Instance) -> None:
    bob = await signer(b, "bob")
    before = await counts(a)
    activity = follow_of_alice(bob.uri)
    assert (await post(a, bob, activity)).status_code == 202
    assert (await post(a, bob, activity, url=ALICE_INBOX)).status_code == 202
    assert await counts(a) == (before[0] + 1, before[1] + 1)
    async with a.state.sessions() as session:
        rows = (await session.exec(select(Activity).where(Activity.uri == activity["id"]))).all()
        jobs = (await session.exec(select(Job).where(Job.kind == "inbox"))).all()
    assert len(rows) == 1 and len(jobs) == 1
    assert jobs[0].payload == {"activity_id": rows[0].id}
    await world.settle()
    assert await follow_state(a, bob.uri) == FollowState.ACCEPTED.value


async def test_delete_of_a_gone_actor_is_202_and_stores_nothing(world: Fediverse, a: Instance) -> None:
    uri = "https://gone.example/users/ghost"
    world.add_documents("gone.example", {uri: 410})
    pair = keygen.generate_rsa()  # the key it signed with is gone with it
    ghost = Peer(uri, f"{uri}#main-key", pair.private_pem)
    before = await counts(a)
    delete = vocab.delete(id=f"{uri}#delete", actor=uri, object=uri, to=["https://www.w3.org/ns/activitystreams#Public"])
    response = await post(a, ghost, delete)
    assert response.status_code == 202, response.text
    assert await counts(a) == before
    async with a.state.sessions() as session:
        assert (await session.exec(select(Actor).where(Actor.uri == uri))).first() is None
    # Anything else from that actor still needs a key that verifies.
    other = await post(a, ghost, follow_of_alice(uri))
    await assert_refused(a, other, 401, before, "410")
