"""Our eddsa-jcs-2022 proofs against an independent implementation, both ways.

The independent implementation is ``awr`` (PyPI, MIT; the AWR/2 reference
implementation of Data Integrity ``eddsa-jcs-2022``), a test-only dependency
in the ``test`` extra.  It has its own RFC 8785 canonicalizer, multibase codec
and proof configuration code, and follows the W3C algorithm (it passes the W3C
vector below).  Its JCS profile refuses non-integer numbers, so the documents
here have none.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from awr.didkey import SigningKey
from awr.proof import sign_document as awr_sign
from awr.proof import verify_document_signature as awr_verify
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from activitypub import vocab
from activitypub.integrity import ProofError, create_proof, verify_proof
from activitypub.keys import ed25519_public_from_multibase

VECTORS = Path(__file__).parent / "data" / "vc-di-eddsa"
KEY_ID = "https://a.example/users/alice#ed25519-key"
ALICE = "https://a.example/users/alice"


def raw_public(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def note() -> dict[str, Any]:
    return vocab.note(
        id=f"{ALICE}/statuses/1",
        attributed_to=ALICE,
        content="<p>héllo ✓ 𝄞 &lt;b&gt; \"quoted\"</p>",
        published=datetime(2026, 11, 25, tzinfo=UTC),
        url="https://a.example/@alice/1",
        to=[vocab.AS_CONTEXT + "#Public"],
        cc=[f"{ALICE}/followers"],
    )


def test_the_independent_implementation_passes_the_w3c_vector() -> None:
    document = json.loads((VECTORS / "signedJCS.json").read_text())
    public = ed25519_public_from_multibase(json.loads((VECTORS / "keyPair.json").read_text())["publicKeyMultibase"])
    assert awr_verify(document, document["proof"], public)
    document["name"] = "changed"
    assert not awr_verify(document, document["proof"], public)


def test_their_proofs_verify_with_ours() -> None:
    private = Ed25519PrivateKey.generate()
    theirs = awr_sign(note(), SigningKey(private), "2026-11-25T12:00:00Z", proof_extra={"verificationMethod": KEY_ID})
    assert theirs["proof"]["cryptosuite"] == "eddsa-jcs-2022"
    assert verify_proof(theirs, private.public_key())["verificationMethod"] == KEY_ID
    # their older form: the proof does not carry @context (the spec adds the document's)
    without_context = copy.deepcopy(theirs)
    del without_context["proof"]["@context"]
    verify_proof(without_context, private.public_key())
    tampered = copy.deepcopy(theirs)
    tampered["content"] = "<p>something else</p>"
    with pytest.raises(ProofError) as caught:
        verify_proof(tampered, private.public_key())
    assert caught.value.code == "invalid"
    with pytest.raises(ProofError):
        verify_proof(theirs, Ed25519PrivateKey.generate().public_key())


def test_our_proofs_verify_with_theirs() -> None:
    private = Ed25519PrivateKey.generate()
    ours = create_proof(note(), private, KEY_ID)
    assert awr_verify(ours, ours["proof"], raw_public(private))
    assert not awr_verify(ours, ours["proof"], raw_public(Ed25519PrivateKey.generate()))
    tampered = copy.deepcopy(ours)
    tampered["to"] = []
    assert not awr_verify(tampered, tampered["proof"], raw_public(private))


def test_our_create_and_its_note_verify_with_theirs() -> None:
    """As sign_document shapes them: the Note keeps the activity's @context and its own proof."""
    private = Ed25519PrivateKey.generate()
    signed_note = create_proof(note(), private, KEY_ID)
    create = vocab.create(id=f"{ALICE}/statuses/1/activity", actor=ALICE, object=signed_note)
    create["object"] = signed_note  # sign_document keeps the embedded object's @context
    signed = create_proof(create, private, KEY_ID)
    for document in (signed, signed["object"]):
        assert awr_verify(document, document["proof"], raw_public(private))
        verify_proof(document, private.public_key())


def test_same_bytes_both_ways_for_the_same_proof_options() -> None:
    """Same key, same document, same options: both implementations produce the same proof."""
    private = Ed25519PrivateKey.generate()
    created = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
    ours = create_proof(note(), private, KEY_ID, created=created)
    theirs = awr_sign(note(), SigningKey(private), "2026-11-25T12:00:00Z", proof_extra={"verificationMethod": KEY_ID})
    assert ours == theirs
