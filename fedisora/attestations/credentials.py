"""The four fedisora credentials as plain (unsigned) W3C VC 2.0 dicts.

Pure functions: ids, times and status entries are passed in; the service
signs the result (eddsa-jcs-2022) and stores it.  Shapes are documented,
with examples, in docs/ATTESTATIONS.md.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from activitypub.vocab import iso_datetime

from .vocabulary import Kind, LikenessPolicy, OperatedBy, credential_context, source_type_iri

__all__ = [
    "digest_multibase",
    "sha256_multibase",
    "account_attestation",
    "self_declaration",
    "media_provenance",
    "likeness_consent",
]

_SHA2_256 = b"\x12\x20"  # multihash: sha2-256, 32 bytes


def digest_multibase(sha256_hex: str) -> str:
    """VC 2.0 ``digestMultibase`` of a SHA-256 digest: ``u`` + base64url(multihash), no padding."""
    raw = bytes.fromhex(sha256_hex)
    if len(raw) != 32:
        raise ValueError("a SHA-256 digest is 32 bytes")
    return "u" + base64.urlsafe_b64encode(_SHA2_256 + raw).decode("ascii").rstrip("=")


def sha256_multibase(data: bytes | str) -> str:
    """``digestMultibase`` of ``data`` (UTF-8 for text), e.g. a prompt."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return digest_multibase(hashlib.sha256(raw).hexdigest())


def _credential(
    *,
    id: str,
    kind: Kind,
    issuer: str,
    subject: dict[str, Any],
    valid_from: datetime,
    valid_until: datetime | None,
    status: Mapping[str, Any] | None,
    name: str | None = None,
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "@context": credential_context(),
        "id": id,
        "type": ["VerifiableCredential", kind.value],
    }
    if name:
        doc["name"] = name
    doc["issuer"] = issuer
    doc["validFrom"] = iso_datetime(valid_from)
    if valid_until is not None:
        doc["validUntil"] = iso_datetime(valid_until)
    doc["credentialSubject"] = subject
    if status is not None:
        doc["credentialStatus"] = dict(status)
    return doc


def account_attestation(
    *,
    id: str,
    issuer: str,
    subject: str,
    operated_by: OperatedBy | str,
    valid_from: datetime,
    valid_until: datetime | None,
    status: Mapping[str, Any] | None,
    method: str | None = None,
    operator: str | None = None,
    operator_name: str | None = None,
) -> dict[str, Any]:
    """An instance's statement about an actor: operated by a human (``method`` says how
    that was checked) or by automation (``operator``/``operator_name``: who runs it)."""
    who = OperatedBy(operated_by)
    claim: dict[str, Any] = {"id": subject, "operatedBy": who.value}
    if who is OperatedBy.HUMAN and method:
        claim["attestationMethod"] = method
    if operator:
        claim["operator"] = operator
    if operator_name:
        claim["operatorName"] = operator_name
    name = "Operated by a human" if who is OperatedBy.HUMAN else "Automated account"
    return _credential(
        id=id, kind=Kind.ACCOUNT, issuer=issuer, subject=claim, valid_from=valid_from,
        valid_until=valid_until, status=status, name=name,
    )  # fmt: skip


def self_declaration(
    *,
    id: str,
    actor: str,
    operated_by: OperatedBy | str,
    valid_from: datetime,
    status: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """An actor's own statement "I am a human" / "I am an automated account" (issuer = subject)."""
    who = OperatedBy(operated_by)
    name = "Self-declared human" if who is OperatedBy.HUMAN else "Self-declared automated account"
    return _credential(
        id=id, kind=Kind.SELF_DECLARATION, issuer=actor, subject={"id": actor, "operatedBy": who.value},
        valid_from=valid_from, valid_until=None, status=status, name=name,
    )  # fmt: skip


def media_provenance(
    *,
    id: str,
    issuer: str,
    media: str,
    sha256_hex: str,
    valid_from: datetime,
    status: Mapping[str, Any] | None,
    media_type: str | None = None,
    digital_source_type: str | None = None,
    uploaded_by: str | None = None,
    generated_for: str | None = None,
    attached_to: str | None = None,
    software: str | None = None,
    model: str | None = None,
    model_digest: str | None = None,
    prompt_digest: str | None = None,
) -> dict[str, Any]:
    """What the issuing instance knows about a media file: its digest, and its IPTC digital
    source type only when known; for generated media, the generator and prompt digest."""
    claim: dict[str, Any] = {"id": media, "digestMultibase": digest_multibase(sha256_hex)}
    if media_type:
        claim["encodingFormat"] = media_type
    source = source_type_iri(digital_source_type)
    if source:
        claim["digitalSourceType"] = source
    if software or model or model_digest:
        generator: dict[str, Any] = {"type": "Generator"}
        if software:
            generator["software"] = software
        if model:
            generator["model"] = model
        if model_digest:
            generator["modelDigest"] = model_digest
        claim["generatedWith"] = generator
    if prompt_digest:
        claim["promptDigest"] = prompt_digest
    if generated_for:
        claim["generatedFor"] = generated_for
    if uploaded_by:
        claim["uploadedBy"] = uploaded_by
    if attached_to:
        claim["attachedTo"] = attached_to
    return _credential(
        id=id, kind=Kind.MEDIA_PROVENANCE, issuer=issuer, subject=claim, valid_from=valid_from,
        valid_until=None, status=status, name="Media provenance",
    )  # fmt: skip


def likeness_consent(
    *,
    id: str,
    actor: str,
    policy: LikenessPolicy | str,
    valid_from: datetime,
    status: Mapping[str, Any] | None,
    allowed_actors: Iterable[str] = (),
) -> dict[str, Any]:
    """Who may generate videos showing ``actor`` ("cameo" consent); revocable at any time."""
    chosen = LikenessPolicy(policy)
    claim: dict[str, Any] = {"id": actor, "likenessPolicy": chosen.value}
    allowed = list(dict.fromkeys(allowed_actors))
    if chosen is LikenessPolicy.NAMED:
        claim["allowedActors"] = allowed
    return _credential(
        id=id, kind=Kind.LIKENESS_CONSENT, issuer=actor, subject=claim, valid_from=valid_from,
        valid_until=None, status=status, name="Likeness consent",
    )  # fmt: skip
