"""What a real Fedify server sends, at our inbox (tests/data/fedify/README.md).

Fedify adds a FEP-8b32 proof first and then a Linked Data Signature
(``signature``) to the same JSON: the proof verifies once ``signature`` is
removed, as FEP-8b32 says and as Fedify and Mitra verify.  When Fedify embeds
a signed Note it drops that proof's ``@context``, so the Note's own proof fails
everywhere: the post is then fetched from its origin instead of refused.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from awr.proof import verify_document_signature as awr_verify
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_private_key
from sqlmodel import select

from activitypub.integrity import ProofError, verify_proof
from fedisora.db.models import Status
from tests.federation import Fediverse, Instance, signed_post

FEDIFY = json.loads((Path(__file__).parent / "data" / "fedify" / "sent-with-ld-signature.json").read_text())
ACTOR = FEDIFY["actor"]["id"]
KEY_ID = FEDIFY["actor"]["publicKey"]["id"]
RSA_PEM = FEDIFY["keys"]["rsaPrivatePem"]


def ed25519_public() -> Any:
    return load_pem_private_key(FEDIFY["keys"]["edPrivatePem"].encode(), password=None).public_key()


async def deliver(instance: Instance, body: dict[str, Any]) -> Any:
    """POST ``body`` to ``instance``'s shared inbox, HTTP-signed with the Fedify actor's RSA key."""
    assert instance.client is not None
    return await signed_post(instance.client, f"{instance.base_url}/inbox", body, KEY_ID, RSA_PEM)


async def stored(instance: Instance, uri: str) -> Status | None:
    async with instance.state.sessions() as session:
        return (await session.exec(select(Status).where(Status.uri == uri))).first()


def test_the_proof_of_a_body_with_an_ld_signature_verifies_without_it() -> None:
    public = ed25519_public()
    raw_public = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    for name in ("create", "create_with_signed_note"):
        body = FEDIFY[name]
        assert body["signature"]["type"] == "RsaSignature2017"
        # awr, an independent eddsa-jcs-2022 implementation: the proof does not cover the
        # body as sent, and covers it with the LD signature removed
        assert not awr_verify(body, body["proof"], raw_public), name
        without = {k: v for k, v in body.items() if k != "signature"}
        assert awr_verify(without, body["proof"], raw_public), name
        assert verify_proof(body, public)["verificationMethod"] == f"{ACTOR}#multikey-2"
        # the proof does not cover the LD signature, but it still covers everything else
        changed = copy.deepcopy(body)
        changed["object"]["content"] = "<p>not what fred wrote</p>"
        with pytest.raises(ProofError) as caught:
            verify_proof(changed, public)
        assert caught.value.code == "invalid", name


async def test_a_fedify_create_with_an_ld_signature_is_accepted_and_stored(world: Fediverse) -> None:
    a = await world.add("a.example")
    world.add_documents("fedify.example", {ACTOR: FEDIFY["actor"]})
    body = FEDIFY["create"]

    changed = copy.deepcopy(body)
    changed["object"]["content"] = "<p>not what fred wrote</p>"
    response = await deliver(a, changed)
    assert response.status_code == 401 and "proof does not verify" in response.json()["error"]

    response = await deliver(a, body)
    assert response.status_code == 202, response.text
    await world.settle()
    status = await stored(a, body["object"]["id"])
    assert status is not None and "Hello from Fedify" in status.content


async def test_an_embedded_note_whose_proof_fails_is_fetched_from_its_origin(world: Fediverse) -> None:
    a = await world.add("a.example")
    body = FEDIFY["create_with_signed_note"]
    embedded = body["object"]
    # what the origin serves at the Note's id
    origin_copy = {"@context": "https://www.w3.org/ns/activitystreams", **{k: v for k, v in embedded.items() if k != "proof"}}
    origin_copy["content"] = "<p>Hello from Fedify, as served</p>"
    peer = world.add_documents("fedify.example", {ACTOR: FEDIFY["actor"], embedded["id"]: origin_copy})

    response = await deliver(a, body)
    assert response.status_code == 202, response.text
    assert ("GET", embedded["id"]) in [(m, u) for m, u, _ in peer.requests]
    await world.settle()
    status = await stored(a, embedded["id"])
    assert status is not None and "as served" in status.content  # the origin's copy, not the embedded one

    # an origin that does not confirm the object: the activity is refused, with the reason
    gone = copy.deepcopy(body)
    gone["id"] = f"{ACTOR}/posts/3#create"
    gone["object"]["id"] = f"{ACTOR}/posts/3"
    gone = {k: v for k, v in gone.items() if k not in ("proof", "signature")}
    response = await deliver(a, gone)
    assert response.status_code == 401 and "object's proof" in response.json()["error"]
    assert await stored(a, f"{ACTOR}/posts/3") is None


def test_our_proofs_follow_the_same_order() -> None:
    """A proof we make leaves a stale LD signature out (it would no longer match), and an
    LD signature added after our proof, as FEP-8b32 orders them, does not break it."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from activitypub.integrity import create_proof

    key = Ed25519PrivateKey.generate()
    document = {"@context": "https://www.w3.org/ns/activitystreams", "id": "https://a.example/n/1", "type": "Note",
                "content": "hi", "signature": {"type": "RsaSignature2017", "signatureValue": "stale"}}  # fmt: skip
    signed = create_proof(document, key, "https://a.example/users/alice#ed25519-key")
    assert "signature" not in signed
    resigned = {**signed, "signature": {"type": "RsaSignature2017", "signatureValue": "new"}}
    assert verify_proof(resigned, key.public_key())
    with pytest.raises(ProofError) as caught:
        verify_proof({**resigned, "content": "bye"}, key.public_key())
    assert caught.value.code == "invalid"
