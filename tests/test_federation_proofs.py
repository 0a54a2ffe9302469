"""FEP-8b32 proofs across instances: what we publish and serve is signed, what we receive is checked."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from awr.proof import verify_document_signature as awr_verify
from sqlmodel import col, select

from activitypub.integrity import ProofError, create_proof, proof_of
from activitypub.keys import ed25519_public_from_multibase, generate_ed25519
from fedisora.db.models import Activity, Actor, Key, Status
from fedisora.federation.documents import actor_document, actor_keys
from fedisora.federation.proofs import (
    assertion_key,
    resolve_verification_method,
    sign_document,
    verify_document,
)
from fedisora.processing import interactions, posts
from tests.federation import Fediverse, Instance, signed_post

AP = {"Accept": "application/activity+json"}


async def fetch_json(instance: Instance, url: str) -> dict[str, Any]:
    assert instance.client is not None
    response = await instance.client.get(url, headers=AP)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def actor_row(instance: Instance, uri: str) -> Actor:
    async with instance.state.sessions() as session:
        return (await session.exec(select(Actor).where(Actor.uri == uri))).one()


async def rsa_key(instance: Instance, actor: Actor) -> Key:
    async with instance.state.sessions() as session:
        return (await session.exec(select(Key).where(Key.actor_id == actor.id, Key.algorithm == "rsa"))).one()


async def write(instance: Instance, author: Actor, text: str) -> tuple[Status, dict[str, Any]]:
    """A public post by ``author``; the Create as ``publish`` stored (and would deliver) it."""
    async with instance.state.sessions() as session:
        me = await session.get(Actor, author.id)
        status = await posts.create_post(session, instance.state, me, text)  # type: ignore[arg-type]
        await session.commit()
        record = (await session.exec(select(Activity).where(Activity.uri == f"{status.uri}/activity"))).one()
        return status, record.raw


async def verified_by(instance: Instance, document: dict[str, Any], **kwargs: Any) -> str:
    async with instance.state.sessions() as session:
        controller = await verify_document(instance.state, session, document, **kwargs)
        await session.commit()
        return controller


def multikey_of(actor_doc: dict[str, Any]) -> bytes:
    [entry] = actor_doc["assertionMethod"]
    return ed25519_public_from_multibase(entry["publicKeyMultibase"])


# --- keys -----------------------------------------------------------------------------------


async def test_local_and_instance_actors_publish_an_ed25519_multikey(world: Fediverse) -> None:
    a = await world.add("a.example")
    alice = await a.create_account("alice")
    for uri in (alice.uri, "https://a.example/actor"):
        doc = await fetch_json(a, uri)
        assert "https://w3id.org/security/data-integrity/v2" in doc["@context"]
        assert "https://w3id.org/security/multikey/v1" in doc["@context"]
        [entry] = doc["assertionMethod"]
        assert entry == {
            "id": f"{uri}#ed25519-key",
            "type": "Multikey",
            "controller": uri,
            "publicKeyMultibase": entry["publicKeyMultibase"],
        }
        assert entry["publicKeyMultibase"].startswith("z6Mk")
        assert len(multikey_of(doc)) == 32
        assert doc["publicKey"]["publicKeyPem"].startswith("-----BEGIN PUBLIC KEY-----")


async def test_an_actor_without_an_ed25519_key_gets_one_when_it_first_signs(world: Fediverse) -> None:
    a = await world.add("a.example")
    alice = await a.create_account("alice")
    async with a.state.sessions() as session:
        for key in (await session.exec(select(Key).where(Key.actor_id == alice.id, Key.algorithm == "ed25519"))).all():
            await session.delete(key)
        await session.commit()
        me = await session.get(Actor, alice.id)
        assert me is not None
        assert "assertionMethod" not in actor_document(me, await actor_keys(session, me))
        signed = await sign_document(session, me, {"id": f"{alice.uri}/x", "type": "Note"})
        await session.commit()
        key = await assertion_key(session, me)
        assert signed["proof"]["verificationMethod"] == key.key_id == f"{alice.uri}#ed25519-key"
        assert actor_document(me, await actor_keys(session, me))["assertionMethod"][0]["id"] == key.key_id
    b = await world.add("b.example")
    assert await verified_by(b, signed) == alice.uri


# --- what we publish and serve --------------------------------------------------------------


async def test_published_create_and_its_note_carry_proofs_that_verify(world: Fediverse) -> None:
    a = await world.add("a.example")
    b = await world.add("b.example")
    alice = await a.create_account("alice")
    status, create = await write(a, alice, "signed words")

    proof = proof_of(create)
    assert proof is not None and proof["verificationMethod"] == f"{alice.uri}#ed25519-key"
    assert proof["@context"] == create["@context"]
    note = create["object"]
    assert note["id"] == status.uri and proof_of(note) is not None
    assert note["@context"] == create["@context"]  # kept, so the Note verifies alone

    # another instance verifies both, fetching alice's key from her actor document
    assert await verified_by(b, create, expected_controller=alice.uri) == alice.uri
    assert await verified_by(b, note) == alice.uri
    # and so does the independent implementation, with the key as published
    public = multikey_of(await fetch_json(a, alice.uri))
    assert awr_verify(create, create["proof"], public)
    assert awr_verify(note, note["proof"], public)


async def test_delivered_activities_are_the_signed_ones(world: Fediverse) -> None:
    a = await world.add("a.example")
    alice = await a.create_account("alice")
    peer = world.add_documents("p.example")
    remote = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": "https://p.example/users/pat", "type": "Person", "preferredUsername": "pat",
        "inbox": "https://p.example/users/pat/inbox",
    }
    peer.serve(remote["id"], remote)
    async with a.state.sessions() as session:
        from fedisora.federation.remote import get_actor
        from fedisora.processing import follows

        pat = await get_actor(session, a.state, remote["id"])
        me = await session.get(Actor, alice.id)
        await follows.follow(session, a.state, me, pat)  # type: ignore[arg-type]
        await session.commit()
    await world.settle()
    [follow] = peer.posted_activities()
    assert follow["type"] == "Follow" and proof_of(follow) is not None
    assert awr_verify(follow, follow["proof"], multikey_of(await fetch_json(a, alice.uri)))


async def test_served_posts_and_activities_carry_proofs(world: Fediverse) -> None:
    a = await world.add("a.example")
    b = await world.add("b.example")
    alice = await a.create_account("alice")
    status, _ = await write(a, alice, "fetch me")
    assert status.uri is not None

    note = await fetch_json(a, status.uri)
    create = await fetch_json(a, f"{status.uri}/activity")
    assert proof_of(note) is not None and proof_of(create) is not None and proof_of(create["object"]) is not None
    for document in (note, create, create["object"]):
        assert await verified_by(b, document) == alice.uri

    async with a.state.sessions() as session:
        me = await session.get(Actor, alice.id)
        record = await interactions.boost(session, a.state, me, status)  # type: ignore[arg-type]
        await session.commit()
    announce = await fetch_json(a, record.uri)
    assert announce["type"] == "Announce" and await verified_by(b, announce) == alice.uri


# --- what we receive ----------------------------------------------------------------------


async def test_relayed_activity_with_a_valid_proof_is_accepted_without_asking_its_origin(world: Fediverse) -> None:
    a = await world.add("a.example")
    b = await world.add("b.example")
    c = await world.add("c.example")
    bob = await b.create_account("bob")
    carol = await c.create_account("carol")
    status, create = await write(c, carol, "relayed words")
    relay_key = await rsa_key(b, bob)
    assert a.client is not None

    # bob tampers with the words: the proof no longer matches, and the reason says so
    tampered = copy.deepcopy(create)
    tampered["object"]["content"] = "<p>words carol never wrote</p>"
    response = await signed_post(a.client, "https://a.example/inbox", tampered, relay_key.key_id, relay_key.private_key_pem or "")
    assert response.status_code == 401
    assert "proof" in response.json()["error"]

    # relayed as carol signed it: accepted on the proof, her post is not fetched from c.example
    before = len(world.transport.requests)
    response = await signed_post(a.client, "https://a.example/inbox", create, relay_key.key_id, relay_key.private_key_pem or "")
    assert response.status_code == 202, response.text
    fetched = [str(r.url) for r in world.transport.requests[before:] if r.method == "GET"]
    assert status.uri not in fetched and f"{status.uri}/activity" not in fetched
    assert carol.uri in fetched  # only her key (actor document) was needed
    await world.settle()
    async with a.state.sessions() as session:
        stored = (await session.exec(select(Status).where(Status.uri == status.uri))).one()
    assert "relayed words" in stored.content


async def test_a_proof_by_someone_else_does_not_vouch_for_the_actor(world: Fediverse) -> None:
    a = await world.add("a.example")
    b = await world.add("b.example")
    c = await world.add("c.example")
    bob = await b.create_account("bob")
    carol = await c.create_account("carol")
    _, create = await write(c, carol, "real")
    fake = copy.deepcopy(create)
    fake["id"] = f"{carol.uri}/statuses/1/activity"
    fake["object"] = {k: v for k, v in fake["object"].items() if k != "proof"}
    fake["object"]["id"] = f"{carol.uri}/statuses/1"
    async with b.state.sessions() as session:
        me = await session.get(Actor, bob.id)
        fake = await sign_document(session, me, fake)  # type: ignore[arg-type]  # valid, but bob's
        await session.commit()
    relay_key = await rsa_key(b, bob)
    assert a.client is not None
    response = await signed_post(a.client, "https://a.example/inbox", fake, relay_key.key_id, relay_key.private_key_pem or "")
    assert response.status_code == 401
    assert "signed by" in response.json()["error"]  # not at its origin either


async def test_the_actors_own_bad_proof_is_refused_and_an_unsupported_one_ignored(world: Fediverse) -> None:
    a = await world.add("a.example")
    c = await world.add("c.example")
    carol = await c.create_account("carol")
    _, create = await write(c, carol, "words")
    key = await rsa_key(c, carol)
    assert a.client is not None

    broken = copy.deepcopy(create)
    broken["cc"] = ["https://a.example/users/nobody"]
    response = await signed_post(a.client, "https://a.example/inbox", broken, key.key_id, key.private_key_pem or "")
    assert response.status_code == 401 and "invalid" in response.json()["error"]

    # an embedded Note whose proof fails: its origin's copy is taken instead of the one sent
    inner = copy.deepcopy(create)
    inner["object"]["content"] = "<p>changed inside</p>"
    inner = {k: v for k, v in inner.items() if k != "proof"}
    response = await signed_post(a.client, "https://a.example/inbox", inner, key.key_id, key.private_key_pem or "")
    assert response.status_code == 202, response.text
    await world.settle()
    async with a.state.sessions() as session:
        kept = (await session.exec(select(Status).where(Status.uri == create["object"]["id"]))).one()
    assert "words" in kept.content and "changed inside" not in kept.content

    other = copy.deepcopy(create)
    other["proof"] = {"type": "DataIntegrityProof", "cryptosuite": "ecdsa-jcs-2019", "proofValue": "z1111"}
    response = await signed_post(a.client, "https://a.example/inbox", other, key.key_id, key.private_key_pem or "")
    assert response.status_code == 202


# --- resolving keys --------------------------------------------------------------------------


async def test_verification_methods_must_be_listed_by_their_controller(world: Fediverse) -> None:
    a = await world.add("a.example")
    b = await world.add("b.example")
    alice = await a.create_account("alice")
    bob = await b.create_account("bob")
    async with b.state.sessions() as session:
        controller, key = await resolve_verification_method(b.state, session, f"{bob.uri}#ed25519-key")
        assert controller == bob.uri
        for method, reason in [
            (f"{alice.uri}#no-such-key", "not an Ed25519 Multikey"),
            (f"{alice.uri}#main-key", "not an Ed25519 Multikey"),  # RSA: not for proofs
            ("https://z.example/users/zed#ed25519-key", "cannot get key"),
            (f"{bob.uri}#other-key", "no local key"),
        ]:
            with pytest.raises(ProofError) as caught:
                await resolve_verification_method(b.state, session, method)
            assert caught.value.code == "unknown-key" and reason in str(caught.value), method
        # a did:key holds its key: resolved without a fetch, the DID is its controller
        did = "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
        controller, public = await resolve_verification_method(b.state, session, f"{did}#{did[8:]}")
        assert controller == did
        assert public.public_bytes_raw() == ed25519_public_from_multibase(did[8:])
        with pytest.raises(ProofError) as caught:  # a fragment naming another key
            await resolve_verification_method(b.state, session, f"{did}#z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK")
        assert caught.value.code == "unknown-key"
        with pytest.raises(ProofError) as caught:
            await resolve_verification_method(b.state, session, "did:web:example.com#key-1")
        assert caught.value.code == "unsupported"

    # a key alice does not publish, used in her name, does not verify anything
    stranger = generate_ed25519()
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    private = load_pem_private_key(stranger.private_pem.encode(), password=None)
    forged = create_proof({"id": f"{alice.uri}/x", "type": "Note"}, private, f"{alice.uri}#ed25519-key")  # type: ignore[arg-type]
    with pytest.raises(ProofError) as caught:
        await verified_by(b, forged)
    assert caught.value.code == "invalid"
    async with a.state.sessions() as session:
        me = await session.get(Actor, alice.id)
        genuine = await sign_document(session, me, {"id": f"{alice.uri}/x", "type": "Note"})  # type: ignore[arg-type]
    assert await verified_by(b, genuine, expected_controller=alice.uri) == alice.uri
    with pytest.raises(ProofError) as caught:
        await verified_by(b, genuine, expected_controller=bob.uri)
    assert caught.value.code == "invalid"
    with pytest.raises(ProofError) as caught:
        await verified_by(b, {"id": f"{alice.uri}/x", "type": "Note"})
    assert caught.value.code == "missing"
    rows = await _keys_named(b, f"{alice.uri}#ed25519-key")
    assert len(rows) == 1  # fetched once, stored once


async def _keys_named(instance: Instance, key_id: str) -> list[Key]:
    async with instance.state.sessions() as session:
        return list((await session.exec(select(Key).where(col(Key.key_id) == key_id))).all())


async def test_a_rotated_key_is_fetched_again(world: Fediverse) -> None:
    a = await world.add("a.example")
    b = await world.add("b.example")
    alice = await a.create_account("alice")
    async with a.state.sessions() as session:
        me = await session.get(Actor, alice.id)
        first = await sign_document(session, me, {"id": f"{alice.uri}/1", "type": "Note"})  # type: ignore[arg-type]
    assert await verified_by(b, first) == alice.uri  # b now caches the key

    async with a.state.sessions() as session:  # alice rotates her key under the same id
        key = await assertion_key(session, await session.get(Actor, alice.id))  # type: ignore[arg-type]
        pair = generate_ed25519()
        key.private_key_pem, key.public_key_pem, key.public_key_multibase = pair.private_pem, pair.public_pem, pair.public_multibase
        await session.commit()
        me = await session.get(Actor, alice.id)
        second = await sign_document(session, me, {"id": f"{alice.uri}/2", "type": "Note"})  # type: ignore[arg-type]
    assert await verified_by(b, second) == alice.uri


async def test_a_key_fetched_for_a_failing_proof_is_not_fetched_again(world: Fediverse) -> None:
    """Only a key from our cache may be stale: one fetched for this very check is not
    fetched a second time to retry a proof that does not match."""
    a = await world.add("a.example")
    b = await world.add("b.example")
    alice = await a.create_account("alice")
    async with a.state.sessions() as session:
        me = await session.get(Actor, alice.id)
        signed = await sign_document(session, me, {"id": f"{alice.uri}/1", "type": "Note", "content": "x"})  # type: ignore[arg-type]
    forged = {**signed, "content": "y"}
    before = len(world.transport.requests)
    with pytest.raises(ProofError) as caught:
        await verified_by(b, forged)
    assert caught.value.code == "invalid"
    assert [str(r.url) for r in world.transport.requests[before:] if r.method == "GET"] == [alice.uri]


# --- every served document carries a proof --------------------------------------------------

DI_CONTEXTS = {
    "https://w3id.org/security/data-integrity/v1",
    "https://w3id.org/security/data-integrity/v2",
}


def own_multikey(document: dict[str, Any]) -> bytes:
    """The key the document's proof names, as the document itself lists it (a self-signed actor)."""
    method = document["proof"]["verificationMethod"]
    [entry] = [m for m in document["assertionMethod"] if m["id"] == method]
    return ed25519_public_from_multibase(entry["publicKeyMultibase"])


async def assert_signed_by(verifier: Instance, document: dict[str, Any], author_uri: str, public: bytes) -> None:
    """``document`` verifies with our verifier (on another instance) and with the independent one."""
    proof = proof_of(document)
    assert proof is not None, document
    assert proof["verificationMethod"] == f"{author_uri}#ed25519-key"
    context = document["@context"]
    assert DI_CONTEXTS & set(c for c in (context if isinstance(context, list) else [context]) if isinstance(c, str))
    assert await verified_by(verifier, document, expected_controller=author_uri) == author_uri
    assert awr_verify(document, document["proof"], public)


async def test_served_actor_documents_are_signed_with_the_key_they_list(world: Fediverse) -> None:
    from fedisora.attestations import service

    a = await world.add("a.example")
    b = await world.add("b.example")
    alice = await a.create_account("alice")
    bea = await a.create_account("bea")
    async with a.state.sessions() as session:
        me = await session.get(Actor, alice.id)
        await service.issue_account_attestation(session, a.config, me, operated_by="human", method="in-person")  # type: ignore[arg-type]
        # bea's account predates Ed25519 keys: serving her actor makes one, and lists it
        for key in (await session.exec(select(Key).where(Key.actor_id == bea.id, Key.algorithm == "ed25519"))).all():
            await session.delete(key)
        await session.commit()

    for uri in (alice.uri, bea.uri, "https://a.example/actor"):
        document = await fetch_json(a, uri)
        await assert_signed_by(b, document, uri, own_multikey(document))

    signed = await fetch_json(a, alice.uri)  # VC 2.0 attachments: the proof uses data-integrity v2
    assert "https://w3id.org/security/data-integrity/v2" in signed["proof"]["@context"]
    assert any("VerifiableCredential" in entry.get("type", []) for entry in signed["attachment"])
    changed = copy.deepcopy(signed)
    changed["name"] = "Mallory"
    with pytest.raises(ProofError):
        await verified_by(b, changed)
    assert not awr_verify(changed, changed["proof"], own_multikey(signed))


async def test_served_collections_pages_and_outbox_items_carry_proofs(world: Fediverse) -> None:
    from fedisora.processing import follows

    a = await world.add("a.example")
    b = await world.add("b.example")
    alice = await a.create_account("alice")
    bob = await a.create_account("bob")
    first, _ = await write(a, alice, "first words")
    await write(a, alice, "second words")
    async with a.state.sessions() as session:
        await follows.follow(session, a.state, await session.get(Actor, bob.id), await session.get(Actor, alice.id))  # type: ignore[arg-type]
        await session.commit()
    await world.settle()
    public = multikey_of(await fetch_json(a, alice.uri))

    for collection in ("outbox", "followers", "following", "collections/featured"):
        head = await fetch_json(a, f"{alice.uri}/{collection}")
        await assert_signed_by(b, head, alice.uri, public)
        if "first" in head:
            await assert_signed_by(b, await fetch_json(a, head["first"]), alice.uri, public)

    followers = await fetch_json(a, f"{alice.uri}/followers?page=1")
    assert followers["orderedItems"] == [bob.uri]
    padded = copy.deepcopy(followers)
    padded["orderedItems"].append("https://b.example/users/mallory")
    assert not awr_verify(padded, padded["proof"], public)

    page = await fetch_json(a, f"{alice.uri}/outbox?page=true")
    creates = page["orderedItems"]
    assert [c["object"]["content"] for c in creates] == ["<p>second words</p>", "<p>first words</p>"]
    for create in creates:  # each activity, and its Note, verifies once taken out of the page
        await assert_signed_by(b, create, alice.uri, public)
        await assert_signed_by(b, create["object"], alice.uri, public)
    assert creates[1]["object"]["id"] == first.uri


async def test_the_web_urls_serve_the_same_signed_documents(world: Fediverse) -> None:
    """``/@alice`` and ``/@alice/ID`` asked for AP JSON answer what the ids answer: signed."""
    a = await world.add("a.example")
    b = await world.add("b.example")
    alice = await a.create_account("alice")
    status, _ = await write(a, alice, "seen on the web")
    public = multikey_of(await fetch_json(a, alice.uri))
    note = await fetch_json(a, f"https://a.example/@alice/{status.id}")
    assert note["id"] == status.uri and "seen on the web" in note["content"]
    await assert_signed_by(b, note, alice.uri, public)
    person = await fetch_json(a, "https://a.example/@alice")
    assert person["id"] == alice.uri
    await assert_signed_by(b, person, alice.uri, public)


async def test_a_deleted_post_serves_a_signed_tombstone(world: Fediverse) -> None:
    a = await world.add("a.example")
    b = await world.add("b.example")
    alice = await a.create_account("alice")
    status, _ = await write(a, alice, "soon gone")
    async with a.state.sessions() as session:
        me = await session.get(Actor, alice.id)
        post = await session.get(Status, status.id)
        await posts.delete_post(session, a.state, me, post)  # type: ignore[arg-type]
        await session.commit()
    assert a.client is not None and status.uri is not None
    response = await a.client.get(status.uri, headers=AP)
    assert response.status_code == 410
    tombstone = response.json()
    assert tombstone["type"] == "Tombstone" and tombstone["id"] == status.uri
    await assert_signed_by(b, tombstone, alice.uri, multikey_of(await fetch_json(a, alice.uri)))
    web = await a.client.get(f"https://a.example/@alice/{status.id}", headers=AP)
    assert web.status_code == 410 and web.json()["type"] == "Tombstone" and "proof" in web.json()


async def test_an_activity_stored_before_proofs_is_signed_when_served(world: Fediverse) -> None:
    a = await world.add("a.example")
    b = await world.add("b.example")
    alice = await a.create_account("alice")
    status, _ = await write(a, alice, "liked")
    like = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": "https://a.example/activities/old-like",
        "type": "Like",
        "actor": alice.uri,
        "object": status.uri,
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
    }
    async with a.state.sessions() as session:
        session.add(Activity(uri=like["id"], activity_type="Like", actor_uri=alice.uri, object_uri=status.uri, local=True, raw=like))
        await session.commit()
    served = await fetch_json(a, like["id"])
    assert {k: v for k, v in served.items() if k not in ("proof", "@context")} == {
        k: v for k, v in like.items() if k != "@context"
    }
    await assert_signed_by(b, served, alice.uri, multikey_of(await fetch_json(a, alice.uri)))


async def test_an_announce_embedding_a_signed_post_needs_no_fetch_from_its_origin(world: Fediverse) -> None:
    """A relay or server that embeds what it boosts: the author's proof vouches for the copy;
    a copy that fails its proof is replaced by the origin's."""
    a = await world.add("a.example")
    b = await world.add("b.example")
    c = await world.add("c.example")
    bob = await b.create_account("bob")
    carol = await c.create_account("carol")
    first, create = await write(c, carol, "boosted words")
    second, other = await write(c, carol, "more words")
    key = await rsa_key(b, bob)
    assert a.client is not None

    def announce(n: int, note: dict[str, Any]) -> dict[str, Any]:
        return {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": f"{bob.uri}/boosts/{n}", "type": "Announce", "actor": bob.uri, "object": note,
            "to": ["https://www.w3.org/ns/activitystreams#Public"],
        }

    before = len(world.transport.requests)
    response = await signed_post(a.client, "https://a.example/inbox", announce(1, create["object"]), key.key_id, key.private_key_pem or "")
    assert response.status_code == 202, response.text
    await world.settle()
    fetched = [str(r.url) for r in world.transport.requests[before:] if r.method == "GET"]
    assert first.uri not in fetched
    async with a.state.sessions() as session:
        stored = (await session.exec(select(Status).where(Status.uri == first.uri))).one()
        boost = (await session.exec(select(Status).where(Status.uri == f"{bob.uri}/boosts/1"))).one()
    assert "boosted words" in stored.content and boost.reblog_of_id == stored.id

    forged = copy.deepcopy(other["object"])
    forged["content"] = "<p>words carol never wrote</p>"
    before = len(world.transport.requests)
    response = await signed_post(a.client, "https://a.example/inbox", announce(2, forged), key.key_id, key.private_key_pem or "")
    assert response.status_code == 202, response.text
    await world.settle()
    assert second.uri in [str(r.url) for r in world.transport.requests[before:] if r.method == "GET"]
    async with a.state.sessions() as session:
        stored = (await session.exec(select(Status).where(Status.uri == second.uri))).one()
    assert "more words" in stored.content and "never wrote" not in stored.content


async def test_a_did_key_proof_neither_vouches_nor_blocks_in_the_inbox(world: Fediverse) -> None:
    """FEP-ef61 style proofs with a did:key name no actor: the inbox ignores them (the
    HTTP signature and the origin decide), as it did before did:key was resolved."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    a = await world.add("a.example")
    c = await world.add("c.example")
    carol = await c.create_account("carol")
    status, create = await write(c, carol, "portable words")
    key = await rsa_key(c, carol)
    pair = generate_ed25519()
    did = f"did:key:{pair.public_multibase}"
    private = load_pem_private_key(pair.private_pem.encode(), password=None)
    unsigned = {k: v for k, v in create.items() if k != "proof"}
    unsigned["object"] = create_proof(
        {k: v for k, v in create["object"].items() if k != "proof"}, private, f"{did}#{pair.public_multibase}"  # type: ignore[arg-type]
    )
    assert a.client is not None
    response = await signed_post(a.client, "https://a.example/inbox", unsigned, key.key_id, key.private_key_pem or "")
    assert response.status_code == 202, response.text
    await world.settle()
    async with a.state.sessions() as session:
        stored = (await session.exec(select(Status).where(Status.uri == status.uri))).one()
    assert "portable words" in stored.content


async def test_an_old_activity_is_signed_once_and_one_that_cannot_be_is_served_as_stored(world: Fediverse) -> None:
    a = await world.add("a.example")
    alice = await a.create_account("alice")
    status, _ = await write(a, alice, "liked")
    like = {
        "@context": "https://www.w3.org/ns/activitystreams", "id": "https://a.example/activities/old-like",
        "type": "Like", "actor": alice.uri, "object": status.uri, "to": ["https://www.w3.org/ns/activitystreams#Public"],
    }  # fmt: skip
    huge = {**like, "id": "https://a.example/activities/huge", "votes": 2**60}  # not I-JSON: JCS refuses it
    async with a.state.sessions() as session:
        for doc in (like, huge):
            session.add(Activity(uri=doc["id"], activity_type="Like", actor_uri=alice.uri, object_uri=status.uri, local=True, raw=doc))
        await session.commit()
    first = await fetch_json(a, like["id"])
    async with a.state.sessions() as session:
        stored = (await session.exec(select(Activity).where(Activity.uri == like["id"]))).one()
    assert stored.raw == first  # kept signed: the next fetch serves the same proof
    assert await fetch_json(a, like["id"]) == first
    served = await fetch_json(a, huge["id"])
    assert served == huge and "proof" not in served


async def test_an_edited_post_is_verified_again(world: Fediverse) -> None:
    """A remote Update brings a new proof (and maybe new media credentials): its check is queued."""
    from fedisora.attestations.receive import VERIFY_ATTESTATIONS
    from fedisora.db.models import Job

    a = await world.add("a.example")
    c = await world.add("c.example")
    carol = await c.create_account("carol")
    status, create = await write(c, carol, "first words")
    key = await rsa_key(c, carol)
    assert a.client is not None
    response = await signed_post(a.client, "https://a.example/inbox", create, key.key_id, key.private_key_pem or "")
    assert response.status_code == 202
    await world.settle()

    async def checks() -> list[Job]:
        async with a.state.sessions() as session:
            return list((await session.exec(select(Job).where(Job.kind == VERIFY_ATTESTATIONS))).all())

    assert [j.state for j in await checks()] == ["done"]
    async with c.state.sessions() as session:
        me = await session.get(Actor, carol.id)
        post = await session.get(Status, status.id)
        await posts.edit_post(session, c.state, me, post, "second words")  # type: ignore[arg-type]
        await session.commit()
        update = (await session.exec(select(Activity).where(Activity.activity_type == "Update"))).one().raw
    response = await signed_post(a.client, "https://a.example/inbox", update, key.key_id, key.private_key_pem or "")
    assert response.status_code == 202
    await world.settle()
    assert [j.state for j in await checks()] == ["done", "done"]
    async with a.state.sessions() as session:
        stored = (await session.exec(select(Status).where(Status.uri == status.uri))).one()
    assert "second words" in stored.content
