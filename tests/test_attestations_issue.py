"""Issuing and revoking attestations (fedisora.attestations.service and .documents): every
credential kind is a VC 2.0 credential whose eddsa-jcs-2022 proof verifies with its issuer's
key, revocation flips its status-list bit, and the audit log records both."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlmodel import col, select

from activitypub import jsonld
from activitypub import statuslist as bitstring
from activitypub.integrity import verify_proof
from fedisora.accounts.service import ensure_instance_actor
from fedisora.attestations import documents, service, statuslist
from fedisora.attestations.credentials import digest_multibase, sha256_multibase
from fedisora.attestations.vocabulary import CREDENTIALS_V2, NAMESPACE, Kind
from fedisora.db.models import (
    Activity,
    Actor,
    Attestation,
    Domain,
    MediaAttachment,
    MediaState,
    ModerationAuditEntry,
    StatusList,
    utcnow,
)
from fedisora.federation.documents import actor_document, actor_keys
from tests.federation import Instance, independently_verified, stored_ed25519_key

HERE = "video.example.org"  # the ``here`` fixture's instance (tests/conftest.py)
SHA = hashlib.sha256(b"a video").hexdigest()


def assert_vc_shape(credential: dict[str, Any], kind: Kind) -> None:
    assert credential["@context"][0] == CREDENTIALS_V2
    assert credential["type"] == ["VerifiableCredential", kind.value]
    assert credential["id"].startswith(f"https://{HERE}/attestations/")
    assert isinstance(credential["issuer"], str)
    assert credential["validFrom"].endswith("Z")
    assert isinstance(credential["credentialSubject"], dict) and credential["credentialSubject"]["id"]
    status = credential["credentialStatus"]
    assert status["type"] == "BitstringStatusListEntry"
    assert status["statusPurpose"] == "revocation"
    assert status["statusListIndex"].isdigit()
    assert status["statusListCredential"].startswith(f"https://{HERE}/status-lists/")
    assert status["id"] == f"{status['statusListCredential']}#{status['statusListIndex']}"
    proof = credential["proof"]
    assert proof["type"] == "DataIntegrityProof"
    assert proof["cryptosuite"] == "eddsa-jcs-2022"
    assert proof["proofPurpose"] == "assertionMethod"
    assert proof["verificationMethod"] == f"{credential['issuer']}#ed25519-key"
    # A JSON-LD processor reads it offline, with our terms in our namespace.
    expanded = jsonld.expand(credential)
    assert f"{NAMESPACE}{kind.value}" in expanded[0]["@type"]


async def verified(instance: Instance, credential: dict[str, Any]) -> None:
    """The proof verifies with our verifier (raises ValueError otherwise) and with awr, an
    independent one, under the key the issuer publishes in its actor document."""
    verify_proof(credential, await stored_ed25519_key(instance, credential["issuer"]))
    assert await independently_verified(instance, credential)


async def actor_named(instance: Instance, username: str) -> Actor:
    async with instance.state.sessions() as session:
        return (await session.exec(select(Actor).where(Actor.local, Actor.username == username))).one()


async def audit_rows(instance: Instance) -> list[ModerationAuditEntry]:
    async with instance.state.sessions() as session:
        query = select(ModerationAuditEntry).order_by(col(ModerationAuditEntry.id))
        return list((await session.exec(query)).all())


async def test_account_attestation_human(here: Instance) -> None:
    alice = await here.create_account("alice")
    admin = await here.create_account("boss", admin=True)
    async with here.state.sessions() as session:
        row = await service.issue_account_attestation(
            session, here.config, alice, operated_by="human", method="in-person", by=admin
        )
        await session.commit()
    credential = row.credential
    assert_vc_shape(credential, Kind.ACCOUNT)
    assert credential["issuer"] == f"https://{HERE}/actor"
    assert credential["credentialSubject"] == {
        "id": alice.uri, "operatedBy": "human", "attestationMethod": "in-person",
    }  # fmt: skip
    assert credential["name"] == "Operated by a human"
    assert row.valid_until is not None
    days = (row.valid_until - row.valid_from).total_seconds() / 86400
    assert days == pytest.approx(here.config.attestations.account_validity_days)
    assert credential["validUntil"].startswith(row.valid_until.strftime("%Y-%m-%dT%H:%M:%S"))
    await verified(here, credential)
    tampered = {**credential, "credentialSubject": {**credential["credentialSubject"], "operatedBy": "automation"}}
    with pytest.raises(ValueError):
        await verified(here, tampered)
    assert not await independently_verified(here, tampered)

    [entry] = await audit_rows(here)
    assert (entry.action, entry.target, entry.actor_id) == ("attestation.issue", f"attestation:{row.id}", admin.id)
    assert entry.details["subject"] == alice.uri and entry.details["method"] == "in-person"

    # The change is announced to followers: an Update of the actor, carrying the credential.
    async with here.state.sessions() as session:
        update = (await session.exec(select(Activity).where(Activity.activity_type == "Update"))).one()
    assert update.raw is not None
    attached = update.raw["object"]["attachment"]
    assert credential in attached
    assert documents.DATA_INTEGRITY_V1 not in update.raw["@context"]
    jsonld.expand(update.raw)


async def test_account_attestation_automated_names_its_operator(here: Instance) -> None:
    bot = await here.create_account("newsbot", bot=True)
    bob = await here.create_account("bob")
    async with here.state.sessions() as session:
        local = await service.issue_account_attestation(
            session, here.config, bot, operated_by="automation", operator="@bob"
        )
        remote = await service.issue_account_attestation(
            session, here.config, bot, operated_by="automation", operator="@carol@elsewhere.example"
        )
        org = await service.issue_account_attestation(
            session, here.config, bot, operated_by="automation", operator="Example News Ltd"
        )
        await session.commit()
    assert local.credential["credentialSubject"] == {
        "id": bot.uri, "operatedBy": "automation", "operator": bob.uri, "operatorName": f"@bob@{HERE}",
    }  # fmt: skip
    assert remote.credential["credentialSubject"]["operatorName"] == "@carol@elsewhere.example"
    assert "operator" not in remote.credential["credentialSubject"]
    assert org.credential["credentialSubject"]["operatorName"] == "Example News Ltd"
    for row in (local, remote, org):
        assert_vc_shape(row.credential, Kind.ACCOUNT)
        await verified(here, row.credential)
    # Each new attestation replaced the one before.
    async with here.state.sessions() as session:
        current = await service.current_attestations(session, bot)
        assert [r.id for r in current] == [org.id]
        assert (await session.get(Attestation, local.id)).revoked_at is not None  # type: ignore[union-attr]
    actions = [(e.action, e.details.get("reason")) for e in await audit_rows(here)]
    assert actions == [
        ("attestation.issue", None), ("attestation.revoke", "superseded"), ("attestation.issue", None),
        ("attestation.revoke", "superseded"), ("attestation.issue", None),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"operated_by": "robot"}, "human' or 'automation"),
        ({"operated_by": "human", "method": "Bad Method!"}, "method"),
        ({"operated_by": "human", "operator": "@bob"}, "only for automated"),
        ({"operated_by": "automation"}, "names its operator"),
        ({"operated_by": "automation", "operator": "nobody-here"}, "no account @nobody-here"),
        ({"operated_by": "automation", "operator": "@bob", "method": "in-person"}, "only for human"),
        ({"operated_by": "human", "valid_until": utcnow() - timedelta(days=1)}, "in the past"),
    ],
)
async def test_account_attestation_refuses_bad_input(here: Instance, kwargs: dict[str, Any], message: str) -> None:
    alice = await here.create_account("alice")
    await here.create_account("bob")
    async with here.state.sessions() as session:
        with pytest.raises(service.AttestationError, match=message):
            await service.issue_account_attestation(session, here.config, alice, **kwargs)
        assert (await session.exec(select(Attestation))).first() is None


async def test_only_local_accounts_are_attested(here: Instance) -> None:
    async with here.state.sessions() as session:
        session.add(Domain(domain="elsewhere.example"))
        await session.flush()
        remote = Actor(uri="https://elsewhere.example/users/x", domain="elsewhere.example", username="x", username_key="x")
        session.add(remote)
        await session.flush()
        instance_actor = await ensure_instance_actor(session, here.config)
        with pytest.raises(service.AttestationError, match="not a local account"):
            await service.issue_account_attestation(session, here.config, remote, operated_by="human")
        with pytest.raises(service.AttestationError, match="instance actor"):
            await service.issue_account_attestation(session, here.config, instance_actor, operated_by="human")
        with pytest.raises(service.AttestationError, match="only local accounts"):
            await service.issue_self_declaration(session, here.config, remote, "human")


async def test_self_declaration_is_signed_by_the_actor(here: Instance) -> None:
    alice = await here.create_account("alice")
    async with here.state.sessions() as session:
        first = await service.issue_self_declaration(session, here.config, alice, "human")
        second = await service.issue_self_declaration(session, here.config, alice, "automation")
        await session.commit()
    for row, claim in ((first, "human"), (second, "automation")):
        assert_vc_shape(row.credential, Kind.SELF_DECLARATION)
        assert row.credential["issuer"] == alice.uri
        assert row.credential["credentialSubject"] == {"id": alice.uri, "operatedBy": claim}
        assert "validUntil" not in row.credential
        await verified(here, row.credential)
    async with here.state.sessions() as session:
        assert [r.id for r in await service.current_attestations(session, alice)] == [second.id]
    rows = await audit_rows(here)
    assert [e.action for e in rows] == ["attestation.issue", "attestation.revoke", "attestation.issue"]
    assert {e.actor_id for e in rows} == {alice.id}


async def test_likeness_consent(here: Instance) -> None:
    alice = await here.create_account("alice")
    bob = await here.create_account("bob")
    async with here.state.sessions() as session:
        named = await service.issue_likeness_consent(session, here.config, alice, "named", ["@bob"])
        with pytest.raises(service.AttestationError, match="policy must be one of"):
            await service.issue_likeness_consent(session, here.config, alice, "friends")
        with pytest.raises(service.AttestationError, match="at least one"):
            await service.issue_likeness_consent(session, here.config, alice, "named")
        with pytest.raises(service.AttestationError, match="only with policy 'named'"):
            await service.issue_likeness_consent(session, here.config, alice, "everyone", ["@bob"])
        with pytest.raises(service.AttestationError, match="unknown account"):
            await service.issue_likeness_consent(session, here.config, alice, "named", ["@zed@nowhere.example"])
        nobody = await service.issue_likeness_consent(session, here.config, alice, "nobody")
        await session.commit()
    assert_vc_shape(named.credential, Kind.LIKENESS_CONSENT)
    assert named.credential["issuer"] == alice.uri
    assert named.credential["credentialSubject"] == {"id": alice.uri, "likenessPolicy": "named", "allowedActors": [bob.uri]}
    assert nobody.credential["credentialSubject"] == {"id": alice.uri, "likenessPolicy": "nobody"}
    await verified(here, named.credential)
    await verified(here, nobody.credential)


async def media_of(instance: Instance, actor: Actor, **fields: Any) -> MediaAttachment:
    async with instance.state.sessions() as session:
        media = MediaAttachment(
            actor_id=actor.id, state=MediaState.READY.value, mime_type="video/mp4",
            file_path=f"{SHA[:2]}/{SHA[2:4]}/{SHA}.mp4", sha256=SHA, **fields,
        )  # fmt: skip
        session.add(media)
        await session.commit()
        await session.refresh(media)
        return media


async def test_media_provenance_of_an_upload_states_only_what_is_known(here: Instance) -> None:
    alice = await here.create_account("alice")
    media = await media_of(here, alice)
    async with here.state.sessions() as session:
        credential = await documents.provenance_for_media(session, here.config, media)
        again = await documents.provenance_for_media(session, here.config, media)
        await session.commit()
    assert credential is not None and again == credential
    assert_vc_shape(credential, Kind.MEDIA_PROVENANCE)
    assert credential["issuer"] == f"https://{HERE}/actor"
    subject = credential["credentialSubject"]
    assert subject == {
        "id": f"https://{HERE}/media/{SHA[:2]}/{SHA[2:4]}/{SHA}.mp4",
        "digestMultibase": digest_multibase(SHA),
        "encodingFormat": "video/mp4",
        "uploadedBy": alice.uri,
    }
    assert "digitalSourceType" not in subject
    await verified(here, credential)
    # digestMultibase is the multibase (base64url, "u") of the sha2-256 multihash.
    assert digest_multibase(SHA) == sha256_multibase(b"a video")


async def test_media_provenance_of_generated_media(here: Instance) -> None:
    alice = await here.create_account("alice")
    generation = {"software": "fedisora-generation 0.1", "model": "tiny-t2v", "model_digest": "uEiAAAA", "prompt_sha256": SHA}
    media = await media_of(here, alice, meta={"generation": generation})
    async with here.state.sessions() as session:
        credential = await documents.provenance_for_media(session, here.config, media)
        await session.commit()
    assert credential is not None
    subject = credential["credentialSubject"]
    assert subject["digitalSourceType"] == "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
    assert subject["generatedWith"] == {"type": "Generator", "software": "fedisora-generation 0.1", "model": "tiny-t2v", "modelDigest": "uEiAAAA"}
    assert subject["promptDigest"] == digest_multibase(SHA)
    assert subject["generatedFor"] == alice.uri
    assert "uploadedBy" not in subject
    await verified(here, credential)


async def test_media_provenance_is_reissued_when_the_file_changes(here: Instance) -> None:
    alice = await here.create_account("alice")
    media = await media_of(here, alice, digital_source_type="digitalCapture")
    async with here.state.sessions() as session:
        first = await documents.provenance_for_media(session, here.config, media)
        await session.commit()
    assert first is not None
    assert first["credentialSubject"]["digitalSourceType"].endswith("/digitalCapture")
    other = hashlib.sha256(b"re-encoded").hexdigest()
    async with here.state.sessions() as session:
        row = await session.get(MediaAttachment, media.id)
        assert row is not None
        row.sha256 = other
        second = await documents.provenance_for_media(session, here.config, row)
        await session.commit()
    assert second is not None and second["id"] != first["id"]
    assert second["credentialSubject"]["digestMultibase"] == digest_multibase(other)
    async with here.state.sessions() as session:
        rows = list((await session.exec(select(Attestation).order_by(col(Attestation.id)))).all())
    assert [r.revoked_at is not None for r in rows] == [True, False]
    # Automatic provenance is not a moderation action: no audit rows.
    assert await audit_rows(here) == []


async def test_no_provenance_without_a_digest_or_for_remote_media(here: Instance) -> None:
    alice = await here.create_account("alice")
    pending = await media_of(here, alice)
    async with here.state.sessions() as session:
        row = await session.get(MediaAttachment, pending.id)
        assert row is not None
        row.sha256 = None
        assert await documents.provenance_for_media(session, here.config, row) is None
        session.add(Domain(domain="elsewhere.example"))
        await session.flush()
        remote = Actor(uri="https://elsewhere.example/users/x", domain="elsewhere.example", username="x", username_key="x")
        session.add(remote)
        await session.flush()
        theirs = MediaAttachment(actor_id=remote.id, sha256=SHA, remote_url="https://elsewhere.example/v.mp4", file_path="x/y/z.mp4")
        session.add(theirs)
        await session.flush()
        assert await documents.provenance_for_media(session, here.config, theirs) is None


async def test_revocation_flips_the_bit_in_a_signed_status_list(here: Instance) -> None:
    alice = await here.create_account("alice")
    async with here.state.sessions() as session:
        row = await service.issue_account_attestation(session, here.config, alice, operated_by="human")
        other = await service.issue_self_declaration(session, here.config, alice, "human")
        await session.commit()
    assert row.status_list_id is not None and row.status_index is not None
    async with here.state.sessions() as session:
        status_list = await session.get(StatusList, row.status_list_id)
        assert status_list is not None
        before = await statuslist.list_credential(session, here.config, status_list)
        await session.commit()
    entry = row.credential["credentialStatus"]
    assert bitstring.status_of(entry, before) is False
    assert before["issuer"] == row.credential["issuer"]
    assert before["credentialSubject"]["ttl"] == int(here.config.attestations.status_list_ttl_seconds * 1000)
    await verified(here, before)

    async with here.state.sessions() as session:
        revoked, changed = await service.revoke(session, here.config, row.id, reason="mistake")
        again, changed_again = await service.revoke(session, here.config, row.id)
        await session.commit()
    assert changed and not changed_again and revoked.revoked_at == again.revoked_at
    async with here.state.sessions() as session:
        status_list = await session.get(StatusList, row.status_list_id)
        assert status_list is not None and status_list.credential is None  # re-signed on next use
        after = await statuslist.list_credential(session, here.config, status_list)
        current = await service.current_attestations(session, alice)
    assert bitstring.status_of(entry, after) is True
    await verified(here, after)
    assert [r.id for r in current] == [other.id]
    revocations = [e for e in await audit_rows(here) if e.action == "attestation.revoke"]
    assert len(revocations) == 1 and revocations[0].details["reason"] == "mistake"
    async with here.state.sessions() as session:
        with pytest.raises(service.AttestationNotFound):
            await service.revoke(session, here.config, 12345)
        with pytest.raises(service.AttestationNotFound):
            await service.revoke(session, here.config, other.id, owner=await ensure_instance_actor(session, here.config))


async def test_indexes_are_unique_and_lists_are_per_issuer(here: Instance) -> None:
    alice = await here.create_account("alice")
    async with here.state.sessions() as session:
        issuer = await ensure_instance_actor(session, here.config)
        # An index counts as taken once an attestation holds it: issue them, as the service does.
        rows = [
            await service.issue_account_attestation(session, here.config, alice, operated_by="human") for _ in range(20)
        ]
        taken = [row.status_index for row in rows]
        instance_list, _ = await statuslist.allocate(session, issuer)
        alice_list, _ = await statuslist.allocate(session, alice)
    assert {row.status_list_id for row in rows} == {instance_list.id}
    assert all(i is not None and 0 <= i < bitstring.MIN_BITS for i in taken)
    assert len(set(taken)) == len(taken)  # no index handed out twice
    assert taken != sorted(taken)  # random, not handed out in order
    assert instance_list.allocated == 21
    assert alice_list.id != instance_list.id and alice_list.issuer_id == alice.id
    assert alice_list.size == bitstring.MIN_BITS


async def test_actor_document_carries_the_attestations(here: Instance) -> None:
    alice = await here.create_account("alice")
    async with here.state.sessions() as session:
        alice = await session.get(Actor, alice.id)  # with a display name: the actor has a "name"
        assert alice is not None
        alice.display_name = "Alice"
        session.add(alice)
        account = await service.issue_account_attestation(session, here.config, alice, operated_by="human", method="video-check")
        declared = await service.issue_self_declaration(session, here.config, alice, "human")
        consent = await service.issue_likeness_consent(session, here.config, alice, "followers")
        await session.commit()
        entries = await documents.attestation_entries(session, alice)
        document = actor_document(alice, await actor_keys(session, alice), entries)
        plain = actor_document(alice, await actor_keys(session, alice))
    lines = [a for a in document["attachment"] if a.get("type") == "PropertyValue"]
    assert [line["name"] for line in lines] == ["Verified human", "Self-declared"]
    assert f'href="{account.credential["id"]}"' in lines[0]["value"]
    assert f"attested by {HERE} (video-check)" in lines[0]["value"]
    credentials = [a for a in document["attachment"] if "VerifiableCredential" in a.get("type", [])]
    assert credentials == [account.credential, declared.credential, consent.credential]
    for credential in credentials:
        await verified(here, credential)  # as found in the actor document
    assert documents.DATA_INTEGRITY_V2 in document["@context"]
    assert documents.DATA_INTEGRITY_V1 not in document["@context"]
    assert plain["attachment"] == [] and plain["@context"] == document["@context"]  # one context, credentials or not
    expanded = jsonld.expand(document)
    # The actor's own terms keep their ActivityStreams meaning.
    assert "https://www.w3.org/ns/activitystreams#name" in expanded[0]


# ---- docs/ATTESTATIONS.md "Verifying without fedisora", step by step ------------------------

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def _b58decode(text: str) -> bytes:
    number = 0
    for char in text:
        number = number * 58 + _B58.index(char)
    body = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return b"\x00" * (len(text) - len(text.lstrip("1"))) + body


def _verify_like_a_third_party(credential: dict[str, Any], public_key_multibase: str) -> None:
    import rfc8785

    assert public_key_multibase.startswith("z")
    multikey = _b58decode(public_key_multibase[1:])
    assert multikey[:2] == b"\xed\x01"
    key = Ed25519PublicKey.from_public_bytes(multikey[2:])
    proof = dict(credential["proof"])
    assert (proof["type"], proof["cryptosuite"], proof["proofPurpose"]) == ("DataIntegrityProof", "eddsa-jcs-2022", "assertionMethod")
    assert proof["verificationMethod"].startswith(credential["issuer"] + "#")
    signature = _b58decode(proof.pop("proofValue")[1:])
    unsecured = {k: v for k, v in credential.items() if k != "proof"}
    assert unsecured["@context"][: len(proof["@context"])] == proof["@context"]
    data = hashlib.sha256(rfc8785.dumps(proof)).digest() + hashlib.sha256(rfc8785.dumps(unsecured)).digest()
    key.verify(signature, data)  # raises InvalidSignature


async def test_documented_verification_steps(here: Instance) -> None:
    alice = await here.create_account("alice")
    async with here.state.sessions() as session:
        row = await service.issue_account_attestation(session, here.config, alice, operated_by="human")
        own = await service.issue_likeness_consent(session, here.config, alice, "everyone")
        await session.commit()
    for credential in (row.credential, own.credential):
        response = await here.client.get(  # type: ignore[union-attr]
            credential["issuer"], headers={"Accept": "application/activity+json"}
        )
        issuer = response.json()
        [method] = [m for m in issuer["assertionMethod"] if m["id"] == credential["proof"]["verificationMethod"]]
        assert method["controller"] == credential["issuer"]
        _verify_like_a_third_party(credential, method["publicKeyMultibase"])
        with pytest.raises(InvalidSignature):
            _verify_like_a_third_party({**credential, "validFrom": "2000-01-01T00:00:00Z"}, method["publicKeyMultibase"])


async def test_provenance_travels_inside_the_document_attachment(here: Instance) -> None:
    from activitypub import vocab
    from fedisora.attestations.vocabulary import PROVENANCE_TERMS

    alice = await here.create_account("alice")
    media = await media_of(here, alice)
    async with here.state.sessions() as session:
        credential = await documents.provenance_for_media(session, here.config, media)
        await session.commit()
    assert credential is not None
    attachment = documents.attach_provenance(
        vocab.document_attachment(url=credential["credentialSubject"]["id"], media_type="video/mp4"), credential
    )
    assert attachment["provenance"] == credential
    assert documents.attach_provenance({"type": "Document"}, None) == {"type": "Document"}
    note = vocab.note(
        id=f"https://{HERE}/users/alice/statuses/1", attributed_to=alice.uri, content="<p>hi</p>",
        published=utcnow(), to=["https://www.w3.org/ns/activitystreams#Public"], cc=[],
    )  # fmt: skip
    note["@context"] = [note["@context"][0], {**note["@context"][1], **PROVENANCE_TERMS}]
    note["attachment"] = [attachment]
    expanded = jsonld.expand(note)
    [document] = expanded[0]["https://www.w3.org/ns/activitystreams#attachment"]
    assert f"{NAMESPACE}provenance" in document
    await verified(here, note["attachment"][0]["provenance"])
