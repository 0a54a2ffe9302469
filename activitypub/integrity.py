"""FEP-8b32 Object Integrity Proofs: W3C Data Integrity ``eddsa-jcs-2022``.

A proof is a ``DataIntegrityProof`` placed in the document's ``proof``
property.  Its ``proofValue`` is ``z`` + base58btc of an Ed25519 signature
over ``SHA-256(JCS(proof config)) || SHA-256(JCS(document without proof))``
(JCS is RFC 8785), following the "Create Proof" and "Verify Proof" algorithms
of the W3C vc-di-eddsa specification, section 3.3 (eddsa-jcs-2022).

Interoperability choices (see docs/FEDERATION.md, "Object integrity proofs"):

* Proofs we create carry a copy of the document's ``@context`` (the spec's
  proof configuration step does the same), so verifiers that hash the proof
  exactly as given (Mastodon) and verifiers that add the document's context
  to it (the spec, Fedify) compute the same bytes.  (bovine 0.5.19 hashes the
  proof with its ``@context`` renamed ``field_context``, so it verifies no
  proof that carries one, ours included.)
* A received proof without ``@context`` is checked both as given and with the
  document's ``@context`` added: implementations differ there, and each
  variant is a signature over the exact bytes hashed, so accepting either
  never lets a changed document through.
* A document without ``@context`` (an object embedded in an activity) is
  verified with the ``@context`` its proof carries, as the spec's verify step
  sets ``unsecuredDocument.@context`` from the proof options.
* A document that carries a Linked Data Signature (``signature``) beside its
  proof is verified with ``signature`` removed: FEP-8b32 ("Backward
  compatibility") has the proof made first and the LD signature added after,
  and says verifiers MUST remove it, as Fedify and Mitra do.  Fedify sends
  every activity so.  The proof still covers everything else.
* A document whose proof fails as given is also checked in the equivalent forms
  Fedify signs the objects it serves in (``as:Public`` written out, a lone
  ``attachment`` as a list; :mod:`activitypub.wire_forms`), as Fedify's own
  verifier does, when its contexts cannot make those forms mean anything else.

This module is pure: no network, no database.  Finding the public key for a
``verificationMethod`` is the caller's business.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .keys import base58btc_decode, base58btc_encode
from .wire_forms import fedify_forms

__all__ = [
    "CRYPTOSUITE",
    "PROOF_TYPE",
    "ProofError",
    "create_proof",
    "proof_of",
    "require_proof",
    "verification_method_of",
    "verify_proof",
    "with_proof_context",
]

PROOF_TYPE = "DataIntegrityProof"
CRYPTOSUITE = "eddsa-jcs-2022"
DATA_INTEGRITY_V1 = "https://w3id.org/security/data-integrity/v1"
DATA_INTEGRITY_V2 = "https://w3id.org/security/data-integrity/v2"
# Contexts that already define DataIntegrityProof.  v2 is the one we add: its
# protected terms are those of the VC 2.0 context, so a document that embeds a
# credential (a Note's media provenance, an actor's attestations) or is embedded
# in one stays valid JSON-LD; v1 protects the same terms with other definitions,
# and a processor refuses a document that has both ("tried to redefine a
# protected term").
_DEFINES_PROOF = (
    DATA_INTEGRITY_V2,
    DATA_INTEGRITY_V1,
    "https://www.w3.org/ns/credentials/v2",
)
_MAX_PROOFS = 8
# A Linked Data Signature (RsaSignature2017), added after the proof: not covered by it.
LD_SIGNATURE = "signature"


class ProofError(ValueError):
    """A proof that is absent, unusable or does not verify.

    ``code`` is one of ``missing``, ``malformed``, ``unsupported``,
    ``invalid``, ``purpose`` or ``unknown-key``; ``str(exc)`` says why.
    """

    CODES = ("missing", "malformed", "unsupported", "invalid", "purpose", "unknown-key")

    def __init__(self, code: str, reason: str) -> None:
        if code not in self.CODES:
            raise ValueError(f"unknown proof error code {code!r}")
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _types(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _proofs(document: Mapping[str, Any]) -> list[Any]:
    value = document.get("proof")
    if value is None:
        return []
    return value[:_MAX_PROOFS] if isinstance(value, list) else [value]


def _is_ours(proof: Any) -> bool:
    return (
        isinstance(proof, dict)
        and PROOF_TYPE in _types(proof.get("type"))
        and proof.get("cryptosuite") == CRYPTOSUITE
    )


def proof_of(document: Mapping[str, Any]) -> dict[str, Any] | None:
    """The document's ``eddsa-jcs-2022`` ``DataIntegrityProof`` (the first of a proof set), if any."""
    return next((p for p in _proofs(document) if _is_ours(p)), None)


def verification_method_of(document: Mapping[str, Any]) -> str | None:
    """The ``verificationMethod`` (a key id) of the document's ``eddsa-jcs-2022`` proof, if any."""
    proof = proof_of(document)
    if proof is None:
        return None
    method = proof.get("verificationMethod")
    if isinstance(method, dict):
        method = method.get("id")
    return method if isinstance(method, str) and method else None


def _timestamp(value: datetime | None) -> str:
    value = value or datetime.now(UTC)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _canonical(value: Any) -> bytes:
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise ProofError("malformed", f"the document cannot be canonicalized (JCS): {exc}") from None


def _hash_data(proof_config: Mapping[str, Any], unsecured: Mapping[str, Any]) -> bytes:
    """``SHA-256(JCS(proofConfig)) || SHA-256(JCS(document))``: the bytes eddsa-jcs-2022 signs."""
    return hashlib.sha256(_canonical(proof_config)).digest() + hashlib.sha256(_canonical(unsecured)).digest()


def create_proof(
    document: Mapping[str, Any],
    private_key: Ed25519PrivateKey,
    verification_method: str,
    *,
    purpose: str = "assertionMethod",
    created: datetime | None = None,
) -> dict[str, Any]:
    """A new dict: ``document`` (any earlier ``proof`` replaced) with an ``eddsa-jcs-2022`` proof.

    The proof carries a copy of the document's ``@context`` (see the module docstring).
    An LD ``signature`` already there is dropped: it would not match the document
    with a proof, and verifiers remove it before checking the proof.
    """
    if not isinstance(private_key, Ed25519PrivateKey):
        raise TypeError("eddsa-jcs-2022 proofs need an Ed25519 private key")
    unsecured = {k: copy.deepcopy(v) for k, v in document.items() if k not in ("proof", LD_SIGNATURE)}
    proof: dict[str, Any] = {}
    if "@context" in unsecured:
        proof["@context"] = copy.deepcopy(unsecured["@context"])
    proof.update(
        {
            "type": PROOF_TYPE,
            "cryptosuite": CRYPTOSUITE,
            "verificationMethod": verification_method,
            "proofPurpose": purpose,
            "created": _timestamp(created),
        }
    )
    signature = private_key.sign(_hash_data(proof, unsecured))
    proof["proofValue"] = "z" + base58btc_encode(signature)
    return {**unsecured, "proof": proof}


def with_proof_context(document: Mapping[str, Any]) -> dict[str, Any]:
    """A new dict: ``document`` whose ``@context`` defines ``DataIntegrityProof``.

    FEP-8b32 asks for the data-integrity context on documents that carry a
    proof, so that JSON-LD processors know what ``proof`` means.  The v2
    context is appended when no context there defines the proof already (v2,
    not v1: see ``_DEFINES_PROOF``); a document without ``@context`` (an object
    embedded in another) is returned as it is.
    """
    result = dict(document)
    context = result.get("@context")
    if context is None:
        return result
    entries = list(context) if isinstance(context, list) else [context]
    if not any(isinstance(entry, str) and entry in _DEFINES_PROOF for entry in entries):
        result["@context"] = [*entries, DATA_INTEGRITY_V2]
    return result


def _starts_with(document_context: Any, proof_context: Any) -> bool:
    doc = document_context if isinstance(document_context, list) else [document_context]
    ours = proof_context if isinstance(proof_context, list) else [proof_context]
    return len(ours) <= len(doc) and doc[: len(ours)] == ours


def require_proof(document: Mapping[str, Any]) -> dict[str, Any]:
    """The document's eddsa-jcs-2022 proof; :class:`ProofError` ``missing``, ``malformed`` or
    ``unsupported`` when there is none to check."""
    if not isinstance(document, Mapping):
        raise ProofError("malformed", "the secured document is not a JSON object")
    proofs = _proofs(document)
    if not proofs:
        raise ProofError("missing", "the document has no proof")
    proof = proof_of(document)
    if proof is None:
        if not any(isinstance(p, dict) for p in proofs):
            raise ProofError("malformed", "proof must be an object")
        kinds = sorted({f"{p.get('type')}/{p.get('cryptosuite')}" for p in proofs if isinstance(p, dict)})
        raise ProofError("unsupported", f"no {PROOF_TYPE} with cryptosuite {CRYPTOSUITE} (got {', '.join(kinds)})")
    return proof


def _forms(unsecured: dict[str, Any], received_context: Any) -> Iterator[dict[str, Any]]:
    """The document as given; only then the equivalent forms Fedify signs its served
    objects in (:mod:`.wire_forms`, judged by the ``@context`` the document came with),
    worked out only if the first fails."""
    yield unsecured
    yield from fedify_forms(unsecured, received_context=received_context)


def verify_proof(
    document: Mapping[str, Any], public_key: Ed25519PublicKey, *, purpose: str = "assertionMethod"
) -> dict[str, Any]:
    """Check the document's ``eddsa-jcs-2022`` proof with ``public_key``; the proof on success.

    Raises :class:`ProofError`: ``missing`` (no proof), ``unsupported`` (only
    other proof types or cryptosuites), ``malformed``, ``purpose`` (another
    ``proofPurpose``) or ``invalid`` (the signature does not match).
    """
    proof = require_proof(document)
    if not isinstance(public_key, Ed25519PublicKey):
        raise ProofError("unsupported", "eddsa-jcs-2022 proofs are verified with Ed25519 keys only")

    value = proof.get("proofValue")
    if not isinstance(value, str) or not value.startswith("z"):
        raise ProofError("malformed", "proofValue must be a base58btc multibase string ('z' prefix)")
    try:
        signature = base58btc_decode(value[1:])
    except ValueError as exc:
        raise ProofError("malformed", f"proofValue is not base58btc: {exc}") from None
    if len(signature) != 64:
        raise ProofError("malformed", f"proofValue holds {len(signature)} bytes, an Ed25519 signature is 64")
    if not isinstance(proof.get("verificationMethod"), (str, dict)):
        raise ProofError("malformed", "the proof has no verificationMethod")
    created = proof.get("created")
    if created is not None:
        if not isinstance(created, str):
            raise ProofError("malformed", "created must be an XML Schema dateTime string")
        try:
            datetime.fromisoformat(created.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise ProofError("malformed", f"created is not a dateTime: {created!r}") from None
    if proof.get("proofPurpose") != purpose:
        raise ProofError("purpose", f"the proof's purpose is {proof.get('proofPurpose')!r}, expected {purpose!r}")

    options = {k: v for k, v in proof.items() if k != "proofValue"}
    unsecured = {k: v for k, v in document.items() if k not in ("proof", LD_SIGNATURE)}
    if "@context" in options:
        if "@context" in unsecured and not _starts_with(unsecured["@context"], options["@context"]):
            raise ProofError("invalid", "the document's @context does not start with the proof's @context")
        unsecured["@context"] = options["@context"]

    candidates = [options]
    if "@context" not in options and "@context" in unsecured:
        candidates.append({**options, "@context": unsecured["@context"]})
    for form in _forms(unsecured, document.get("@context")):
        for candidate in candidates:
            try:
                public_key.verify(signature, _hash_data(candidate, form))
            except InvalidSignature:
                continue
            return dict(proof)
    raise ProofError("invalid", "the proof's signature does not match the document")
