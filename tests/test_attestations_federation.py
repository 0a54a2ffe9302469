"""Attestations across two and three instances (the in-process harness of tests/federation.py).

a.example issues; b.example and c.example receive, verify in a background job,
store the result and show it in the client API under their own trust policy.
"""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from sqlmodel import select

from activitypub.integrity import create_proof
from activitypub.keys import generate_ed25519

from fedisora.attestations import receive, service
from fedisora.attestations.credentials import sha256_multibase
from fedisora.convert.common import media_url
from fedisora.db.models import (
    Actor,
    AttestationVerification,
    Job,
    JobState,
    Key,
    KeyAlgorithm,
    KeyPurpose,
    MediaAttachment,
    Status,
    utcnow,
)
from fedisora.federation.handlers.interactions import fetch_post
from fedisora.federation.remote import resolve_handle
from fedisora.media.storage import MediaStorage
from fedisora.processing import follows
from tests.federation import Fediverse, Instance, signed_post, token_for
from tests.test_attestations_verify import sign_as

VIDEO = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64


async def local(instance: Instance, username: str) -> Actor:
    async with instance.state.sessions() as session:
        return (await session.exec(select(Actor).where(Actor.local, Actor.username == username))).one()


async def attest(instance: Instance, username: str, operated_by: str = "human", **kwargs: Any) -> int:
    async with instance.state.sessions() as session:
        actor = (await session.exec(select(Actor).where(Actor.local, Actor.username == username))).one()
        if operated_by == "human":
            kwargs.setdefault("method", "in-person")
        row = await service.issue_account_attestation(session, instance.config, actor, operated_by=operated_by, **kwargs)
        await session.commit()
        return row.id


async def revoke(instance: Instance, attestation_id: int) -> None:
    async with instance.state.sessions() as session:
        await service.revoke(session, instance.config, attestation_id, reason="test")
        await session.commit()


async def learn(instance: Instance, handle: str, *, follower: str | None = None) -> Actor:
    """``instance`` looks ``handle`` up (and follows it as ``follower``), then runs its jobs."""
    async with instance.state.sessions() as session:
        actor = await resolve_handle(session, instance.state, handle)
        if follower is not None:
            me = (await session.exec(select(Actor).where(Actor.local, Actor.username == follower))).one()
            await follows.follow(session, instance.state, me, actor)
        await session.commit()
        return actor


async def results(instance: Instance, **where: Any) -> list[AttestationVerification]:
    async with instance.state.sessions() as session:
        query = select(AttestationVerification).order_by(AttestationVerification.id)
        for name, value in where.items():
            query = query.where(getattr(AttestationVerification, name) == value)
        return list((await session.exec(query)).all())


async def account_entity(instance: Instance, acct: str) -> dict[str, Any]:
    assert instance.client is not None
    token = await token_for(instance, None, "read")
    response = await instance.client.get(
        "/api/v1/accounts/lookup", params={"acct": acct}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def status_entity(instance: Instance, uri: str) -> dict[str, Any]:
    assert instance.client is not None
    async with instance.state.sessions() as session:
        status = (await session.exec(select(Status).where(Status.uri == uri))).one()
    token = await token_for(instance, None, "read")
    response = await instance.client.get(f"/api/v1/statuses/{status.id}", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def verification_field(entity: dict[str, Any]) -> dict[str, Any] | None:
    return next((f for f in entity["fields"] if f["name"] == "Verification"), None)


async def recheck(world: Fediverse, instance: Instance) -> None:
    await receive.schedule_rechecks(instance.state, now=utcnow() + timedelta(days=400))
    await world.settle()


# ---- accounts --------------------------------------------------------------------------------


async def test_b_verifies_a_human_attestation_c_trusts_a_and_b_does_not(world: Fediverse) -> None:
    a = await world.add("a.example")
    b = await world.add("b.example")
    c = await world.add("c.example")
    c.config.attestations.trusted_issuers = ["a.example"]
    await a.create_account("alice")
    await attest(a, "alice")
    await world.settle()

    for instance in (b, c):
        await learn(instance, "@alice@a.example")
    await world.settle()

    for instance in (b, c):
        rows = await results(instance)
        assert [(r.kind, r.result) for r in rows] == [("human", "verified")], [r.reason for r in rows]
        assert rows[0].issuer_uri == "https://a.example/actor"
        assert rows[0].subject_uri == "https://a.example/users/alice"
        assert rows[0].next_check_at is not None

    on_c = await account_entity(c, "alice@a.example")
    field = verification_field(on_c)
    assert field is not None and field["verified_at"] is not None  # the green check
    assert "Verified human" in field["value"] and "a.example" in field["value"]
    summary = on_c["fedisora"]["verification"]
    assert summary["summary"] == "verified-human"
    [entry] = summary["attestations"]
    assert entry["kind"] == "human" and entry["status"] == "verified" and entry["trusted"] is True
    assert entry["method"] == "in-person" and entry["issuer"] == "https://a.example/actor"
    assert entry["valid_until"] is not None

    on_b = await account_entity(b, "alice@a.example")
    field = verification_field(on_b)
    assert field is not None and field["verified_at"] is None  # genuine, but B does not trust a.example
    assert "not trusted here" in field["value"]
    [entry] = on_b["fedisora"]["verification"]["attestations"]
    assert entry["status"] == "untrusted" and entry["trusted"] is False
    assert on_b["bot"] is False

    # B hides what it does not trust when told to.
    b.config.attestations.untrusted_display = "hidden"
    hidden = await account_entity(b, "alice@a.example")
    assert verification_field(hidden) is None
    assert hidden["fedisora"]["verification"]["attestations"][0]["shown"] is False

    # A's own view of alice: its own attestation, trusted by default.
    on_a = await account_entity(a, "alice")
    assert verification_field(on_a)["verified_at"] is not None  # type: ignore[index]


async def test_a_revokes_and_b_sees_it_revoked(world: Fediverse) -> None:
    """Path 1: the status list's TTL runs out and the hourly re-check reads it again."""
    a = await world.add("a.example")
    b = await world.add("b.example")
    await a.create_account("alice")
    attestation_id = await attest(a, "alice")
    await world.settle()
    await learn(b, "@alice@a.example")
    await world.settle()
    assert [r.result for r in await results(b)] == ["verified"]

    await revoke(a, attestation_id)
    await world.settle()
    # Before B's cached status list expires nothing is due yet ...
    assert await receive.schedule_rechecks(b.state) == 0
    # ... afterwards the re-check reads the list again.
    async with b.state.sessions() as session:
        from fedisora.db.models import StatusListCache

        for cached in (await session.exec(select(StatusListCache))).all():
            cached.expires_at = utcnow() - timedelta(seconds=1)
            session.add(cached)
        for row in (await session.exec(select(AttestationVerification))).all():
            row.next_check_at = utcnow() - timedelta(seconds=1)
            session.add(row)
        await session.commit()
    assert await receive.schedule_rechecks(b.state) == 1
    await world.settle()
    [row] = await results(b)
    assert row.result == "revoked" and "revoked by https://a.example/actor" in row.reason
    entity = await account_entity(b, "alice@a.example")
    assert entity["fedisora"]["verification"]["attestations"][0]["status"] == "revoked"
    field = verification_field(entity)
    assert field is not None and field["verified_at"] is None and "revoked" in field["value"]


async def test_revocation_reaches_a_follower_at_once(world: Fediverse) -> None:
    """Path 2: A announces the changed actor; B re-reads it, misses the credential and checks
    it once more against a fresh status list."""
    a = await world.add("a.example")
    b = await world.add("b.example")
    b.config.attestations.trusted_issuers = ["a.example"]
    await a.create_account("alice")
    await b.create_account("bob")
    attestation_id = await attest(a, "alice")
    await world.settle()
    await learn(b, "@alice@a.example", follower="bob")
    await world.settle()
    assert verification_field(await account_entity(b, "alice@a.example"))["verified_at"] is not None  # type: ignore[index]

    await revoke(a, attestation_id)
    await world.settle()
    [row] = await results(b)
    assert row.result == "revoked"
    assert row.details.get("withdrawn") is True
    assert verification_field(await account_entity(b, "alice@a.example"))["verified_at"] is None  # type: ignore[index]


async def test_an_expired_attestation_shows_expired(world: Fediverse, monkeypatch: pytest.MonkeyPatch) -> None:
    a = await world.add("a.example")
    b = await world.add("b.example")
    b.config.attestations.trusted_issuers = ["a.example"]
    await a.create_account("alice")
    now = utcnow()
    await attest(a, "alice", valid_until=now + timedelta(hours=1))
    await world.settle()
    await learn(b, "@alice@a.example")
    await world.settle()
    [row] = await results(b)
    assert row.result == "verified"
    assert row.next_check_at is not None and row.next_check_at <= now + timedelta(hours=1)

    later = now + timedelta(hours=2)
    monkeypatch.setattr("fedisora.attestations.verify.utcnow", lambda: later)
    await receive.schedule_rechecks(b.state, now=later)
    await world.settle()
    [row] = await results(b)
    assert row.result == "expired"
    entity = await account_entity(b, "alice@a.example")
    [entry] = entity["fedisora"]["verification"]["attestations"]
    assert entry["status"] == "expired"
    assert verification_field(entity)["verified_at"] is None  # type: ignore[index]
    assert "expired" in verification_field(entity)["value"]  # type: ignore[index]


async def test_automated_accounts_show_their_operator(world: Fediverse) -> None:
    a = await world.add("a.example")
    b = await world.add("b.example")
    await a.create_account("alice")
    await a.create_account("newsbot", bot=True)
    await attest(a, "newsbot", operated_by="automation", operator="alice")
    await world.settle()
    await learn(b, "@newsbot@a.example")
    await learn(b, "@alice@a.example")
    await world.settle()
    entity = await account_entity(b, "newsbot@a.example")
    assert entity["bot"] is True
    field = verification_field(entity)
    assert field is not None and field["verified_at"] is None
    assert field["value"].startswith("Automated account — operated by @alice@a.example")
    assert entity["fedisora"]["verification"]["summary"] == "automated"
    # Automation is shown whoever attests it: B does not trust a.example, the entry still verifies.
    assert entity["fedisora"]["verification"]["attestations"][0]["status"] == "verified"


async def test_an_actor_cannot_carry_someone_elses_attestation(world: Fediverse) -> None:
    a = await world.add("a.example")
    b = await world.add("b.example")
    await a.create_account("alice")
    await attest(a, "alice")
    await world.settle()
    alice_doc = (await a.client.get("/users/alice", headers={"Accept": "application/activity+json"})).json()  # type: ignore[union-attr]
    stolen = [item for item in alice_doc["attachment"] if "VerifiableCredential" in item.get("type", [])]
    assert stolen
    mallory = {
        "@context": alice_doc["@context"], "id": "https://evil.example/users/mallory", "type": "Person",
        "preferredUsername": "mallory", "inbox": "https://evil.example/users/mallory/inbox",
        "attachment": stolen,
    }  # fmt: skip
    world.add_documents("evil.example", {"https://evil.example/users/mallory": mallory})
    async with b.state.sessions() as session:
        from fedisora.federation.remote import get_actor

        await get_actor(session, b.state, "https://evil.example/users/mallory")
        await session.commit()
    await world.settle()
    [row] = await results(b)
    assert row.result == "tampered" and "not https://evil.example/users/mallory" in row.reason
    entity = await account_entity(b, "mallory@evil.example")
    assert entity["fedisora"]["verification"]["summary"] != "verified-human"


# ---- posts and media ------------------------------------------------------------------------


async def _alice_rsa(a: Instance) -> tuple[str, str]:
    async with a.state.sessions() as session:
        alice = (await session.exec(select(Actor).where(Actor.local, Actor.username == "alice"))).one()
        key = (
            await session.exec(
                select(Key).where(Key.actor_id == alice.id, Key.algorithm == KeyAlgorithm.RSA.value,
                                  Key.purpose == KeyPurpose.HTTP_SIGNATURE.value)
            )
        ).first()
        assert key is not None and key.private_key_pem
        return key.key_id, key.private_key_pem


async def _deliver(a: Instance, b: Instance, note: dict[str, Any]) -> None:
    key_id, pem = await _alice_rsa(a)
    create = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": note["id"] + "/activity", "type": "Create", "actor": "https://a.example/users/alice",
        "to": ["https://www.w3.org/ns/activitystreams#Public"], "object": note,
    }  # fmt: skip
    assert b.client is not None
    response = await signed_post(b.client, "https://b.example/inbox", create, key_id, pem)
    assert response.status_code == 202, response.text


def _note(number: int, **extra: Any) -> dict[str, Any]:
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"https://a.example/users/alice/statuses/{number}",
        "type": "Note",
        "attributedTo": "https://a.example/users/alice",
        "to": ["https://www.w3.org/ns/activitystreams#Public"],
        "published": "2026-11-25T12:00:00Z",
        "content": "<p>a video</p>",
        **extra,
    }


async def test_a_tampered_note_fails_verification(world: Fediverse) -> None:
    a = await world.add("a.example")
    b = await world.add("b.example")
    await a.create_account("alice")
    genuine = await sign_as(a, "alice", _note(1))
    await _deliver(a, b, genuine)
    tampered = copy.deepcopy(await sign_as(a, "alice", _note(2)))
    tampered["content"] = "<p>something alice never said</p>"
    with pytest.raises(AssertionError, match="401"):  # the inbox refuses it outright
        await _deliver(a, b, tampered)
    await world.settle()
    good = await status_entity(b, genuine["id"])
    assert good["fedisora"]["verification"]["proof"]["status"] == "verified"
    assert good["fedisora"]["verification"]["proof"]["issuer"] == "https://a.example/users/alice"

    # A post fetched rather than delivered (a boost of it, a search) is stored and shown tampered.
    pair = generate_ed25519()
    private = load_pem_private_key(pair.private_pem.encode(), password=None)
    dave = {
        "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/multikey/v1"],
        "id": "https://d.example/users/dave", "type": "Person", "preferredUsername": "dave",
        "inbox": "https://d.example/users/dave/inbox",
        "assertionMethod": [{"id": "https://d.example/users/dave#ed25519-key", "type": "Multikey",
                             "controller": "https://d.example/users/dave", "publicKeyMultibase": pair.public_multibase}],
    }  # fmt: skip
    note = {**_note(5), "id": "https://d.example/notes/5", "attributedTo": dave["id"]}
    signed = create_proof(note, private, "https://d.example/users/dave#ed25519-key")  # type: ignore[arg-type]
    changed = {**signed, "content": "<p>edited by someone in between</p>"}
    world.add_documents("d.example", {dave["id"]: dave, note["id"]: changed})
    async with b.state.sessions() as session:
        await fetch_post(session, b.state, note["id"])
        await session.commit()
    await world.settle()
    proof = (await status_entity(b, note["id"]))["fedisora"]["verification"]["proof"]
    assert proof["status"] == "tampered" and "does not verify" in proof["reason"]


async def _provenance(a: Instance, url: str, data: bytes) -> dict[str, Any]:
    claim = {
        "@context": ["https://www.w3.org/ns/credentials/v2", "https://fedisora.org/ns/attestations/v1"],
        "id": f"https://a.example/attestations/{hashlib.sha256(data).hexdigest()[:12]}",
        "type": ["VerifiableCredential", "MediaProvenance"],
        "issuer": "https://a.example/actor",
        "validFrom": "2026-11-25T00:00:00Z",
        "credentialSubject": {
            "id": url,
            "digestMultibase": sha256_multibase(data),
            "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia",
            "generatedWith": {"type": "Generator", "software": "fedisora", "model": "tiny-t2v"},
        },
    }
    return await sign_as(a, None, claim)


async def _settle_media(world: Fediverse, b: Instance) -> None:
    for _ in range(3):  # the copy of the file, then the verification that waited for it
        await world.settle()
        await world.make_due(b)
    await world.settle()


async def test_media_provenance_verifies_against_our_copy_and_a_changed_file_fails(world: Fediverse) -> None:
    a = await world.add("a.example")
    b = await world.add("b.example")
    await a.create_account("alice")
    storage = MediaStorage.from_config(a.config)
    genuine_file = storage.store_bytes(VIDEO + b"genuine", "mp4")
    swapped_file = storage.store_bytes(VIDEO + b"swapped", "mp4")
    genuine_url = media_url(a.config, genuine_file.path)
    swapped_url = media_url(a.config, swapped_file.path)
    good = _note(3, attachment=[{
        "type": "Document", "mediaType": "video/mp4", "url": genuine_url,
        "provenance": await _provenance(a, genuine_url, VIDEO + b"genuine"),
    }])  # fmt: skip
    # The credential vouches for one file, the post points at another.
    bad = _note(4, attachment=[{
        "type": "Document", "mediaType": "video/mp4", "url": swapped_url,
        "provenance": await _provenance(a, swapped_url, VIDEO + b"genuine"),
    }])  # fmt: skip
    await _deliver(a, b, good)
    await _deliver(a, b, bad)
    await _settle_media(world, b)

    async with b.state.sessions() as session:
        cached = (await session.exec(select(MediaAttachment).where(MediaAttachment.remote_url == genuine_url))).one()
        assert cached.sha256 == hashlib.sha256(VIDEO + b"genuine").hexdigest(), cached.error

    entity = await status_entity(b, good["id"])
    [media] = entity["media_attachments"]
    provenance = media["fedisora"]["provenance"]
    assert provenance["status"] == "verified", provenance
    assert provenance["digest_check"] == "match"
    assert provenance["digital_source_type"] == "trainedAlgorithmicMedia"
    assert provenance["generator"] == {"software": "fedisora", "model": "tiny-t2v"}
    assert entity["fedisora"]["verification"]["provenance"][0]["kind"] == "media-provenance"

    entity = await status_entity(b, bad["id"])
    provenance = entity["media_attachments"][0]["fedisora"]["provenance"]
    assert provenance["status"] == "digest-mismatch", provenance
    rows = await results(b, result="digest-mismatch")
    assert len(rows) == 1 and rows[0].media_id is not None
    assert json.dumps(rows[0].credential)  # the credential is kept as received


async def test_self_declarations_are_weaker_and_services_are_always_automated(world: Fediverse) -> None:
    a = await world.add("a.example")
    c = await world.add("c.example")
    c.config.attestations.trusted_issuers = ["a.example"]
    await a.create_account("alice")
    await a.create_account("carebot", bot=True)  # a Service
    async with a.state.sessions() as session:
        alice = (await session.exec(select(Actor).where(Actor.local, Actor.username == "alice"))).one()
        await service.issue_self_declaration(session, a.config, alice, "human")
        await session.commit()
    await attest(a, "carebot")  # an instance attests a Service as human: the type still wins
    await world.settle()
    await learn(c, "@alice@a.example")
    await learn(c, "@carebot@a.example")
    await world.settle()

    alice_entity = await account_entity(c, "alice@a.example")
    field = verification_field(alice_entity)
    assert field == {"name": "Verification", "value": "Self-declared human (not verified)", "verified_at": None}
    [entry] = alice_entity["fedisora"]["verification"]["attestations"]
    assert entry["kind"] == "self-declared-human" and entry["status"] == "verified"
    assert entry["issuer"] == "https://a.example/users/alice"
    assert alice_entity["fedisora"]["verification"]["summary"] == "self-declared-human"

    bot_entity = await account_entity(c, "carebot@a.example")
    assert bot_entity["bot"] is True
    assert bot_entity["fedisora"]["verification"]["summary"] == "automated"
    field = verification_field(bot_entity)
    assert field is not None and field["verified_at"] is None and field["value"].startswith("Automated account")


async def test_rechecks_take_the_most_overdue_first_and_forget_deleted_posts(
    world: Fediverse, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = await world.add("a.example")
    b = await world.add("b.example", database_url)  # SQLite and PostgreSQL
    await a.create_account("alice")
    first, second = await sign_as(a, "alice", _note(11)), await sign_as(a, "alice", _note(12))
    await _deliver(a, b, first)
    await _deliver(a, b, second)
    await world.settle()
    async with b.state.sessions() as session:
        ids = {s.uri: s.id for s in (await session.exec(select(Status).where(Status.uri.in_([first["id"], second["id"]])))).all()}  # type: ignore[attr-defined]
        rows = (await session.exec(select(AttestationVerification))).all()
        assert sorted(r.status_id for r in rows) == sorted(ids.values())
        for row in rows:  # the second post's result is the longer overdue
            row.next_check_at = utcnow() - timedelta(hours=2 if row.status_id == ids[second["id"]] else 1)
            session.add(row)
        await session.commit()

    monkeypatch.setattr(receive, "RECHECK_BATCH", 1)
    assert await receive.schedule_rechecks(b.state) == 1
    async with b.state.sessions() as session:
        queued = (
            await session.exec(select(Job).where(Job.kind == receive.VERIFY_ATTESTATIONS, Job.state == JobState.PENDING.value))
        ).all()
        assert [j.payload for j in queued] == [{"status_id": ids[second["id"]]}]
    await world.settle()
    monkeypatch.setattr(receive, "RECHECK_BATCH", 500)

    # The first post is deleted: its re-check forgets its results instead of coming back every hour.
    async with b.state.sessions() as session:
        status = await session.get(Status, ids[first["id"]])
        assert status is not None
        status.deleted_at = utcnow()
        session.add(status)
        await session.commit()
    assert await receive.schedule_rechecks(b.state) == 1
    await world.settle()
    assert await results(b, status_id=ids[first["id"]]) == []
    assert [r.result for r in await results(b, status_id=ids[second["id"]])] == ["verified"]
    assert await receive.schedule_rechecks(b.state) == 0
    assert await receive.schedule_rechecks(b.state, now=utcnow() + timedelta(days=400)) == 1  # the second post only
