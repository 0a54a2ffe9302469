"""Verifying one credential: each step's failure has its own result and reason.

a.example issues (with the issuing service), b.example verifies
(``fedisora.attestations.verify``), fetching keys and status lists over the
in-process harness.
"""

from __future__ import annotations

import copy
import hashlib
from datetime import timedelta
from typing import Any

from sqlmodel import select

from fedisora.accounts.service import ensure_instance_actor
from fedisora.attestations import service, trust
from fedisora.attestations.credentials import sha256_multibase
from fedisora.attestations.signing import sign
from fedisora.attestations.verify import (
    DIGEST_MISMATCH,
    ERROR,
    EXPIRED,
    NOT_YET_VALID,
    REVOKED,
    TAMPERED,
    UNKNOWN_ISSUER,
    UNTRUSTED,
    VERIFIED,
    VerificationResult,
    describe,
    digest_matches,
    verify_credential,
)
from fedisora.db.models import Actor, StatusListCache, utcnow
from tests.federation import Fediverse, Instance


async def local(instance: Instance, username: str) -> Actor:
    async with instance.state.sessions() as session:
        return (await session.exec(select(Actor).where(Actor.local, Actor.username == username))).one()


async def issue_human(instance: Instance, username: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    async with instance.state.sessions() as session:
        actor = (await session.exec(select(Actor).where(Actor.local, Actor.username == username))).one()
        row = await service.issue_account_attestation(
            session, instance.config, actor, operated_by="human", method="in-person", **kwargs
        )
        await session.commit()
        return row.id, dict(row.credential)


async def revoke(instance: Instance, attestation_id: int) -> None:
    async with instance.state.sessions() as session:
        await service.revoke(session, instance.config, attestation_id, reason="test")
        await session.commit()


async def sign_as(instance: Instance, username: str | None, doc: dict[str, Any]) -> dict[str, Any]:
    async with instance.state.sessions() as session:
        if username is None:
            actor = await ensure_instance_actor(session, instance.config)
        else:
            actor = (await session.exec(select(Actor).where(Actor.local, Actor.username == username))).one()
        signed = await sign(session, actor, doc)
        await session.commit()
        return signed


async def check(instance: Instance, doc: Any, **kwargs: Any) -> VerificationResult:
    async with instance.state.sessions() as session:
        result = await verify_credential(session, instance.state, doc, **kwargs)
        await session.commit()
        return result


async def two(world: Fediverse) -> tuple[Instance, Instance]:
    a = await world.add("a.example")
    b = await world.add("b.example")
    await a.create_account("alice")
    return a, b


# ---- pure parts ----------------------------------------------------------------------------


def test_digest_multibase_forms() -> None:
    data = b"a video"
    sha = hashlib.sha256(data).hexdigest()
    assert digest_matches(sha256_multibase(data), sha)
    assert not digest_matches(sha256_multibase(b"other"), sha)
    assert digest_matches("f" + sha, sha)  # a bare hex digest in multibase
    assert not digest_matches("x123", sha)
    assert not digest_matches("u", sha)


def test_describe_kinds() -> None:
    subject = {"id": "https://a.example/users/alice", "operatedBy": "human", "attestationMethod": "in-person"}
    human = {"type": ["VerifiableCredential", "AccountAttestation"], "credentialSubject": subject}
    assert describe(human)["kind"] == "human"
    assert describe(human)["method"] == "in-person"
    bot = {"type": ["VerifiableCredential", "AccountAttestation"],
           "credentialSubject": {"id": "x", "operatedBy": "automation", "operator": "https://b.example/users/bob"}}
    assert describe(bot)["kind"] == "automation"
    assert describe(bot)["operator"] == "https://b.example/users/bob"
    declared = {"type": ["VerifiableCredential", "SelfDeclaration"], "credentialSubject": {"id": "x", "operatedBy": "human"}}
    assert describe(declared)["kind"] == "self-declared-human"
    media = {"type": ["VerifiableCredential", "MediaProvenance"], "credentialSubject": {
        "id": "https://a.example/m.mp4", "digestMultibase": "uEi", "generatedWith": {"type": "Generator", "model": "m"},
        "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"}}
    info = describe(media)
    assert info["kind"] == "media-provenance"
    assert info["digital_source_type"] == "trainedAlgorithmicMedia"
    assert info["generator"] == {"model": "m"}
    note = {"type": "Note", "id": "https://a.example/n/1", "attributedTo": "https://a.example/users/alice"}
    assert describe(note)["kind"] == "object-proof"
    assert describe({"type": 5, "credentialSubject": [1, None]})["kind"] == "object-proof"  # junk stays junk


async def test_trust_policy(world: Fediverse) -> None:
    b = await world.add("b.example")
    config = b.config
    assert trust.issuer_trusted(config, "https://b.example/actor")  # trust_self
    assert not trust.issuer_trusted(config, "https://a.example/actor")
    config.attestations.trusted_issuers = ["a.example", "https://c.example/users/notary"]
    assert trust.issuer_trusted(config, "https://a.example/actor")
    assert trust.issuer_trusted(config, "https://c.example/users/notary")
    assert not trust.issuer_trusted(config, "https://c.example/actor")  # only that actor on c.example
    assert not trust.issuer_trusted(config, "https://evil.a.example/actor")  # no subdomain matching
    assert trust.apply_policy(config, "human", VERIFIED, "https://c.example/actor") == (UNTRUSTED, False)
    # Automation and provenance are shown as what they are, whoever says so.
    assert trust.apply_policy(config, "automation", VERIFIED, "https://c.example/actor") == (VERIFIED, False)
    config.attestations.trust_self = False
    assert not trust.issuer_trusted(config, "https://b.example/actor")
    config.attestations.untrusted_display = "hidden"
    assert not trust.display(config, "human", VERIFIED, "https://d.example/actor").shown
    assert trust.display(config, "automation", VERIFIED, "https://d.example/actor").shown


# ---- each failure ----------------------------------------------------------------------------


async def test_a_genuine_attestation_verifies(world: Fediverse) -> None:
    a, b = await two(world)
    _, credential = await issue_human(a, "alice")
    result = await check(b, credential)
    assert result.result == VERIFIED, result.reason
    assert result.kind == "human"
    assert result.issuer == "https://a.example/actor" == result.signer
    assert result.subject == "https://a.example/users/alice"
    assert result.details["method"] == "in-person"
    assert result.next_check_at is not None and result.next_check_at > utcnow()
    # B does not trust a.example: shown untrusted; C-style policy trusting it: verified.
    assert result.apply_policy(b.config).result == UNTRUSTED
    b.config.attestations.trusted_issuers = ["a.example"]
    assert result.apply_policy(b.config).result == VERIFIED


async def test_tampered_credential(world: Fediverse) -> None:
    a, b = await two(world)
    _, credential = await issue_human(a, "alice")
    forged = copy.deepcopy(credential)
    forged["credentialSubject"]["id"] = "https://a.example/users/mallory"
    result = await check(b, forged)
    assert result.result == TAMPERED
    assert "does not verify" in result.reason
    unsigned = {k: v for k, v in credential.items() if k != "proof"}
    assert (await check(b, unsigned)).result == TAMPERED


async def test_signed_by_someone_else_than_the_issuer(world: Fediverse) -> None:
    a, b = await two(world)
    _, credential = await issue_human(a, "alice")
    claim = {k: v for k, v in credential.items() if k != "proof"}
    forged = await sign_as(a, "alice", claim)  # alice signs "a.example's instance actor says I am human"
    result = await check(b, forged)
    assert result.result == UNKNOWN_ISSUER
    assert "not by its issuer" in result.reason


async def test_unknown_issuer_key(world: Fediverse) -> None:
    a, b = await two(world)
    _, credential = await issue_human(a, "alice")
    moved = copy.deepcopy(credential)
    moved["proof"]["verificationMethod"] = "https://gone.example/actor#ed25519-key"
    result = await check(b, moved)
    assert result.result == UNKNOWN_ISSUER
    assert "cannot be resolved" in result.reason


async def test_expired_and_not_yet_valid(world: Fediverse) -> None:
    a, b = await two(world)
    now = utcnow()
    _, short = await issue_human(a, "alice", valid_from=now - timedelta(days=10), valid_until=now + timedelta(hours=1))
    fresh = await check(b, short)
    assert fresh.result == VERIFIED
    assert fresh.next_check_at is not None and fresh.next_check_at <= now + timedelta(hours=1)  # looked at again then
    result = await check(b, short, now=now + timedelta(hours=2))
    assert result.result == EXPIRED and "expired" in result.reason
    _, future = await issue_human(a, "alice", valid_from=now + timedelta(days=1), valid_until=now + timedelta(days=30))
    result = await check(b, future)
    assert result.result == NOT_YET_VALID
    assert result.next_check_at is not None and result.next_check_at > now


async def test_revoked_after_the_status_list_ttl(world: Fediverse) -> None:
    a, b = await two(world)
    attestation_id, credential = await issue_human(a, "alice")
    assert (await check(b, credential)).result == VERIFIED
    await revoke(a, attestation_id)
    # Within the TTL B still uses its cached list ...
    assert (await check(b, credential)).result == VERIFIED
    # ... after it, B reads the list again and sees the bit.
    later = utcnow() + timedelta(seconds=b.config.attestations.status_list_ttl_seconds + 1)
    result = await check(b, credential, now=later)
    assert result.result == REVOKED
    assert "revoked by https://a.example/actor" in result.reason
    assert result.next_check_at is None
    assert (await check(b, credential, fresh_status=True)).result == REVOKED


async def test_status_list_unavailable_is_an_error_not_a_pass(world: Fediverse) -> None:
    a, b = await two(world)
    _, credential = await issue_human(a, "alice")
    await check(b, "not even a dict")  # never raises
    world.transport.down.add("a.example")
    result = await check(b, credential)
    # the key could not be fetched either: an unknown issuer
    assert result.result == UNKNOWN_ISSUER
    world.transport.down.discard("a.example")
    assert (await check(b, credential)).result == VERIFIED  # key and list are now cached
    world.transport.down.add("a.example")
    async with b.state.sessions() as session:  # forget the list: nothing to fall back on
        for row in (await session.exec(select(StatusListCache))).all():
            await session.delete(row)
        await session.commit()
    result = await check(b, credential)
    assert result.result == ERROR and "unavailable" in result.reason
    assert result.next_check_at is not None


async def test_media_digest_mismatch(world: Fediverse) -> None:
    a, b = await two(world)
    data = b"\x00\x00\x00\x18ftypmp42 a tiny video"
    claim = {
        "@context": ["https://www.w3.org/ns/credentials/v2", "https://fedisora.org/ns/attestations/v1"],
        "id": "https://a.example/attestations/77",
        "type": ["VerifiableCredential", "MediaProvenance"],
        "issuer": "https://a.example/actor",
        "validFrom": "2026-01-01T00:00:00Z",
        "credentialSubject": {
            "id": "https://a.example/media/ab/cd/video.mp4",
            "digestMultibase": sha256_multibase(data),
            "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia",
        },
    }
    credential = await sign_as(a, None, claim)
    matching = await check(b, credential, media_sha256=hashlib.sha256(data).hexdigest())
    assert matching.result == VERIFIED and matching.details["digest_check"] == "match"
    pending = await check(b, credential)
    assert pending.result == VERIFIED and pending.details["digest_check"] == "pending"
    result = await check(b, credential, media_sha256=hashlib.sha256(b"another file").hexdigest())
    assert result.result == DIGEST_MISMATCH


async def test_any_document_with_a_proof(world: Fediverse) -> None:
    a, b = await two(world)
    note = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": "https://a.example/users/alice/statuses/1",
        "type": "Note",
        "attributedTo": "https://a.example/users/alice",
        "content": "hello",
    }
    signed = await sign_as(a, "alice", note)
    result = await check(b, signed)
    assert result.result == VERIFIED and result.kind == "object-proof"
    assert result.signer == "https://a.example/users/alice"
    changed = {**signed, "content": "goodbye"}
    assert (await check(b, changed)).result == TAMPERED


async def test_a_status_entry_must_have_its_lists_purpose(world: Fediverse) -> None:
    a, b = await two(world)
    _, credential = await issue_human(a, "alice")
    claim = {k: v for k, v in credential.items() if k != "proof"}
    entry = claim["credentialStatus"]
    assert entry["statusPurpose"] == "revocation"
    # The issuer itself signs it, but points a "suspension" entry at its revocation list:
    # that list's bits say nothing about suspension.
    moved = {**claim, "credentialStatus": {**entry, "statusPurpose": "suspension"}}
    result = await check(b, await sign_as(a, None, moved))
    assert result.result == ERROR
    assert "statusPurpose is 'suspension'" in result.reason and "'revocation'" in result.reason
    assert (await check(b, credential)).result == VERIFIED  # the genuine one, against the same cached list
