"""eddsa-jcs-2022 object integrity proofs (activitypub.integrity) against the W3C vectors."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from activitypub.integrity import (
    ProofError,
    create_proof,
    proof_of,
    require_proof,
    verification_method_of,
    verify_proof,
)
from activitypub.keys import base58btc_decode, base58btc_encode, ed25519_public_from_multibase

VECTORS = Path(__file__).parent / "data" / "vc-di-eddsa"
ED25519_PRIVATE_MULTICODEC = b"\x80\x26"


def vector(name: str) -> Any:
    text = (VECTORS / name).read_text()
    return json.loads(text) if name.endswith(".json") else text


def vector_keys() -> tuple[Ed25519PrivateKey, Ed25519PublicKey]:
    pair = vector("keyPair.json")
    private = base58btc_decode(pair["privateKeyMultibase"][1:])
    assert private[:2] == ED25519_PRIVATE_MULTICODEC
    private_key = Ed25519PrivateKey.from_private_bytes(private[2:])
    public_key = Ed25519PublicKey.from_public_bytes(ed25519_public_from_multibase(pair["publicKeyMultibase"]))
    assert private_key.public_key() == public_key
    return private_key, public_key


def unsigned(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != "proof"}


# --- the W3C vc-di-eddsa vectors ---------------------------------------------------------


def test_vector_canonical_document_and_hashes() -> None:
    document = unsigned(vector("signedJCS.json"))
    assert rfc8785.dumps(document).decode() == vector("canonDocJCS.txt")
    assert hashlib.sha256(rfc8785.dumps(document)).hexdigest() == vector("docHashJCS.txt")
    proof_config = json.loads(vector("proofCanonJCS.txt"))
    assert rfc8785.dumps(proof_config).decode() == vector("proofCanonJCS.txt")
    assert hashlib.sha256(rfc8785.dumps(proof_config)).hexdigest() == vector("proofHashJCS.txt")
    combined = hashlib.sha256(rfc8785.dumps(proof_config)).digest() + hashlib.sha256(rfc8785.dumps(document)).digest()
    assert combined.hex() == vector("combinedHashJCS.txt")


def test_vector_signed_credential_verifies() -> None:
    _, public_key = vector_keys()
    proof = verify_proof(vector("signedJCS.json"), public_key)
    assert proof["proofValue"] == vector("sigBTC58JCS.txt")
    assert base58btc_decode(proof["proofValue"][1:]).hex() == vector("sigHexJCS.txt")


def test_vector_earlier_revision_without_proof_context_verifies() -> None:
    _, public_key = vector_keys()
    verify_proof(vector("signedJCS-proof-without-context.json"), public_key)


def test_create_proof_reproduces_the_vector_exactly() -> None:
    private_key, _ = vector_keys()
    config = vector("proofConfigJCS.json")
    signed = create_proof(
        unsigned(vector("signedJCS.json")),
        private_key,
        config["verificationMethod"],
        created=datetime(2023, 2, 24, 23, 36, 38, tzinfo=UTC),
    )
    assert signed == vector("signedJCS.json")
    assert {k: v for k, v in signed["proof"].items() if k != "proofValue"} == config
    assert signed["proof"]["proofValue"] == vector("sigBTC58JCS.txt")


@pytest.mark.parametrize("field", ["name", "issuer", "validFrom", "@context"])
def test_vector_with_a_changed_field_fails(field: str) -> None:
    _, public_key = vector_keys()
    document = vector("signedJCS.json")
    document[field] = ["https://www.w3.org/ns/credentials/v2"] if field == "@context" else "changed"
    with pytest.raises(ProofError) as caught:
        verify_proof(document, public_key)
    assert caught.value.code == "invalid"


def test_vector_with_a_changed_proof_option_fails() -> None:
    _, public_key = vector_keys()
    document = vector("signedJCS.json")
    document["proof"]["created"] = "2023-02-24T23:36:39Z"
    with pytest.raises(ProofError) as caught:
        verify_proof(document, public_key)
    assert caught.value.code == "invalid"


# --- our proofs ------------------------------------------------------------------------------

NOTE = {
    "@context": ["https://www.w3.org/ns/activitystreams", {"sensitive": "as:sensitive"}],
    "id": "https://a.example/users/alice/statuses/1",
    "type": "Note",
    "attributedTo": "https://a.example/users/alice",
    "content": "<p>héllo ✓ 𝄞</p>",
    "to": ["https://www.w3.org/ns/activitystreams#Public"],
    "sensitive": False,
    "published": "2026-11-25T00:00:00Z",
    "tag": [],
    "replies": None,
    "count": 1.5e30,
}
KEY_ID = "https://a.example/users/alice#ed25519-key"


def test_round_trip_and_accessors() -> None:
    key = Ed25519PrivateKey.generate()
    signed = create_proof(NOTE, key, KEY_ID)
    assert "proof" not in NOTE  # a new dict; the input is untouched
    proof = signed["proof"]
    assert proof["type"] == "DataIntegrityProof" and proof["cryptosuite"] == "eddsa-jcs-2022"
    assert proof["@context"] == NOTE["@context"] and proof["@context"] is not NOTE["@context"]
    assert proof["proofPurpose"] == "assertionMethod" and proof["proofValue"].startswith("z")
    datetime.strptime(proof["created"], "%Y-%m-%dT%H:%M:%SZ")
    assert proof_of(signed) == proof and verification_method_of(signed) == KEY_ID
    assert verify_proof(signed, key.public_key()) == proof
    # the JSON round trip a peer makes does not matter
    assert verify_proof(json.loads(json.dumps(signed, indent=2)), key.public_key())
    assert proof_of(NOTE) is None and verification_method_of(NOTE) is None


def test_re_signing_replaces_the_proof() -> None:
    key = Ed25519PrivateKey.generate()
    twice = create_proof(create_proof(NOTE, Ed25519PrivateKey.generate(), KEY_ID), key, KEY_ID)
    assert isinstance(twice["proof"], dict)
    verify_proof(twice, key.public_key())


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.__setitem__("content", "<p>other words</p>"),
        lambda d: d.__setitem__("to", []),
        lambda d: d.__setitem__("extra", True),
        lambda d: d.pop("tag"),
        lambda d: d["proof"].__setitem__("verificationMethod", "https://b.example/users/mallory#ed25519-key"),
        lambda d: d["proof"].__setitem__("created", "2030-01-01T00:00:00Z"),
        lambda d: d["proof"]["@context"].append("https://w3id.org/security/v1"),
    ],
)
def test_tampered_document_fails(change: Any) -> None:
    key = Ed25519PrivateKey.generate()
    signed = copy.deepcopy(create_proof(NOTE, key, KEY_ID))
    change(signed)
    with pytest.raises(ProofError) as caught:
        verify_proof(signed, key.public_key())
    assert caught.value.code == "invalid"


def test_wrong_key_fails() -> None:
    signed = create_proof(NOTE, Ed25519PrivateKey.generate(), KEY_ID)
    with pytest.raises(ProofError) as caught:
        verify_proof(signed, Ed25519PrivateKey.generate().public_key())
    assert caught.value.code == "invalid"
    assert "does not match" in str(caught.value)


def test_purpose_is_checked() -> None:
    key = Ed25519PrivateKey.generate()
    signed = create_proof(NOTE, key, KEY_ID, purpose="authentication")
    with pytest.raises(ProofError) as caught:
        verify_proof(signed, key.public_key())
    assert caught.value.code == "purpose"
    verify_proof(signed, key.public_key(), purpose="authentication")


def test_missing_unsupported_and_malformed() -> None:
    key = Ed25519PrivateKey.generate()
    with pytest.raises(ProofError) as caught:
        verify_proof(NOTE, key.public_key())
    assert caught.value.code == "missing"
    rdfc = {**NOTE, "proof": {"type": "DataIntegrityProof", "cryptosuite": "eddsa-rdfc-2022", "proofValue": "z1"}}
    with pytest.raises(ProofError) as caught:
        verify_proof(rdfc, key.public_key())
    assert caught.value.code == "unsupported" and "eddsa-rdfc-2022" in str(caught.value)
    with pytest.raises(ProofError) as caught:
        require_proof({**NOTE, "proof": "z123"})
    assert caught.value.code == "malformed"
    signed = create_proof(NOTE, key, KEY_ID)
    for bad_value in ["uAAAA", "z0OIl", "z" + "1" * 10, 42]:
        broken = copy.deepcopy(signed)
        broken["proof"]["proofValue"] = bad_value
        with pytest.raises(ProofError) as caught:
            verify_proof(broken, key.public_key())
        assert caught.value.code == "malformed", bad_value
    broken = copy.deepcopy(signed)
    broken["proof"]["created"] = "yesterday"
    with pytest.raises(ProofError) as caught:
        verify_proof(broken, key.public_key())
    assert caught.value.code == "malformed"


def test_proof_sets_pick_ours() -> None:
    key = Ed25519PrivateKey.generate()
    signed = create_proof(NOTE, key, KEY_ID)
    other = {"type": "Ed25519Signature2020", "proofValue": "zabc"}
    in_a_set = {**unsigned(signed), "proof": [other, signed["proof"]]}
    assert proof_of(in_a_set) == signed["proof"]
    verify_proof(in_a_set, key.public_key())


def test_embedded_object_verifies_with_the_context_in_its_proof() -> None:
    """An object embedded without its @context (as vocab.embed does) still verifies."""
    key = Ed25519PrivateKey.generate()
    embedded = {k: v for k, v in create_proof(NOTE, key, KEY_ID).items() if k != "@context"}
    verify_proof(embedded, key.public_key())
    embedded["content"] = "<p>changed</p>"
    with pytest.raises(ProofError):
        verify_proof(embedded, key.public_key())


def test_a_document_context_that_does_not_start_with_the_proofs_fails() -> None:
    key = Ed25519PrivateKey.generate()
    signed = create_proof(NOTE, key, KEY_ID)
    signed["@context"] = ["https://example.org/evil", *NOTE["@context"]]
    with pytest.raises(ProofError) as caught:
        verify_proof(signed, key.public_key())
    assert caught.value.code == "invalid"


def test_a_proof_without_context_is_checked_as_given_and_as_the_spec_configures_it() -> None:
    """Mastodon and bovine hash a received proof as given; the spec adds the document's @context."""
    key = Ed25519PrivateKey.generate()
    document = unsigned(NOTE)
    options = {"type": "DataIntegrityProof", "cryptosuite": "eddsa-jcs-2022", "verificationMethod": KEY_ID,
               "proofPurpose": "assertionMethod", "created": "2026-11-25T00:00:00Z"}
    doc_hash = hashlib.sha256(rfc8785.dumps(document)).digest()
    for config in (options, {**options, "@context": document["@context"]}):
        signature = key.sign(hashlib.sha256(rfc8785.dumps(config)).digest() + doc_hash)
        signed = {**document, "proof": {**options, "proofValue": "z" + base58btc_encode(signature)}}
        verify_proof(signed, key.public_key())


def test_proof_error_codes() -> None:
    assert ProofError("unknown-key", "no such key").code == "unknown-key"
    assert str(ProofError("invalid", "bad")) == "bad"
    with pytest.raises(ValueError):
        ProofError("nope", "x")


def test_documents_outside_i_json_cannot_be_signed() -> None:
    with pytest.raises(ProofError) as caught:
        create_proof({**NOTE, "size": 2**60}, Ed25519PrivateKey.generate(), KEY_ID)
    assert caught.value.code == "malformed"
