"""A Note as a real Fedify server serves it (tests/data/fedify-served/README.md): its proof
was made over Fedify's normalized JSON (``as:Public`` written out, the lone attachment as a
list), so it fails hashed as served and verifies in that equivalent form, as in Fedify's own
verifier.  pyld, an independent JSON-LD processor, confirms both forms mean the same; the
forms are not tried where a context could make them mean something else."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pyld import jsonld as pyld

from activitypub.integrity import ProofError, verify_proof
from activitypub.jsonld import expand
from activitypub.keys import ed25519_public_from_multibase
from activitypub.wire_forms import PUBLIC, fedify_forms

SERVED = json.loads((Path(__file__).parent / "data" / "fedify-served" / "note-with-video.json").read_text())
NOTE: dict[str, Any] = SERVED["note"]


def key() -> Ed25519PublicKey:
    method = SERVED["verificationMethod"]
    assert method["id"] == NOTE["proof"]["verificationMethod"]
    return Ed25519PublicKey.from_public_bytes(ed25519_public_from_multibase(method["publicKeyMultibase"]))


def unsecured(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != "proof"}


def test_the_fixture_is_what_fedify_serves() -> None:
    assert NOTE["to"] == "as:Public" and isinstance(NOTE["attachment"], dict)
    assert NOTE["proof"]["cryptosuite"] == "eddsa-jcs-2022"


def test_a_note_fedify_serves_verifies() -> None:
    assert verify_proof(NOTE, key())["verificationMethod"] == NOTE["proof"]["verificationMethod"]


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.__setitem__("content", "<p>something else</p>"),
        lambda d: d.__setitem__("to", "https://fedify.example/users/someone"),
        lambda d: d["attachment"].__setitem__("url", "https://elsewhere.example/v.mp4"),
    ],
    ids=["content", "audience", "attachment"],
)
def test_a_changed_copy_still_fails(change: Any) -> None:
    changed = copy.deepcopy(NOTE)
    change(changed)
    with pytest.raises(ProofError) as caught:
        verify_proof(changed, key())
    assert caught.value.code == "invalid"


def test_the_forms_mean_the_same_to_pyld() -> None:
    forms = fedify_forms(unsecured(NOTE))
    assert forms, "the served Note has equivalent forms"
    normalized = forms[0]
    assert normalized["to"] == PUBLIC and isinstance(normalized["attachment"], list)
    original = pyld.normalize(expand(unsecured(NOTE)), {"algorithm": "URDNA2015", "format": "application/n-quads"})
    for form in forms:
        quads = pyld.normalize(expand(form), {"algorithm": "URDNA2015", "format": "application/n-quads"})
        assert quads == original


@pytest.mark.parametrize(
    "context",
    [
        # "as" points elsewhere: "as:Public" is not the public collection here
        ["https://www.w3.org/ns/activitystreams", {"as": "https://other.example/ns#"}],
        # "to" is a plain string: "as:Public" stays a literal
        ["https://www.w3.org/ns/activitystreams", {"to": "https://www.w3.org/ns/activitystreams#to"}],
        # an "attachment" that is a list: a scalar and a one-element list differ
        ["https://www.w3.org/ns/activitystreams", {"attachment": {"@id": "as:attachment", "@container": "@list"}}],
        # a type-scoped context: inside a Note, "as" points elsewhere
        ["https://www.w3.org/ns/activitystreams", {"Note": {"@id": "as:Note", "@context": {"as": "https://other.example/ns#"}}}],
        # a property-scoped one: inside an attachment, "to" is a plain string
        ["https://www.w3.org/ns/activitystreams",
         {"attachment": {"@id": "as:attachment", "@type": "@id", "@context": {"to": "https://www.w3.org/ns/activitystreams#to"}}}],
        # a context we do not know could define anything
        ["https://www.w3.org/ns/activitystreams", "https://unknown.example/context.jsonld"],
        # no ActivityStreams at all
        ["https://w3id.org/security/data-integrity/v1"],
    ],
    ids=["as-redefined", "to-redefined", "attachment-list", "type-scoped", "property-scoped", "unknown-context",
         "no-activitystreams"],
)
def test_no_forms_where_a_context_could_change_their_meaning(context: list[Any]) -> None:
    assert fedify_forms({**unsecured(NOTE), "@context": context}) == []


def test_a_type_scoped_context_does_change_the_meaning() -> None:
    """Why the case above is refused: pyld reads the two forms differently."""
    context = ["https://www.w3.org/ns/activitystreams", {"Note": {"@id": "as:Note", "@context": {"as": "https://other.example/ns#"}}}]
    served, written_out = {**unsecured(NOTE), "@context": context}, {**unsecured(NOTE), "@context": context, "to": PUBLIC}
    options = {"algorithm": "URDNA2015", "format": "application/n-quads"}
    assert pyld.normalize(expand(served), options) != pyld.normalize(expand(written_out), options)


def test_no_forms_for_documents_with_nested_contexts() -> None:
    nested = {**unsecured(NOTE), "attachment": {**NOTE["attachment"], "@context": {"x": "https://x.example/#"}}}
    assert fedify_forms(nested) == []


def test_no_forms_when_nothing_would_change() -> None:
    plain = {**unsecured(NOTE), "to": [PUBLIC], "attachment": [NOTE["attachment"]]}
    assert fedify_forms(plain) == []


def test_a_context_appended_after_signing_rules_the_forms_out() -> None:
    """A proof whose ``@context`` is a prefix of the document's lets the document append
    contexts nobody signed.  One that redefines ``as`` makes the served ``"as:Public"`` mean
    something other than the signed full IRI (pyld says so), so that copy must not verify
    through the equivalent-forms rule."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from activitypub.integrity import create_proof

    private = Ed25519PrivateKey.generate()
    note = {"@context": ["https://www.w3.org/ns/activitystreams"], "id": "https://s.example/notes/1", "type": "Note",
            "attributedTo": "https://s.example/users/a", "content": "hi", "to": PUBLIC}
    signed = create_proof(note, private, "https://s.example/users/a#ed25519-key")
    assert verify_proof(signed, private.public_key())
    evil = {"as": "https://evil.example/ns#"}
    changed = {**signed, "@context": [*signed["@context"], evil], "to": "as:Public"}
    options = {"algorithm": "URDNA2015", "format": "application/n-quads"}
    assert pyld.normalize(expand(unsecured(changed)), options) != pyld.normalize(
        expand({**unsecured(changed), "to": PUBLIC}), options
    )
    with pytest.raises(ProofError) as caught:
        verify_proof(changed, private.public_key())
    assert caught.value.code == "invalid"
