"""Verifying one credential (or any document with a Data Integrity proof) received from a peer.

The steps, each with its own failure:

1. the document has a proof whose ``verificationMethod`` resolves to an Ed25519
   key in its controller's ``assertionMethod`` (fetched from the controller's
   server when we do not have it) — else ``unknown-issuer``;
2. for a credential, the key's controller is the credential's ``issuer`` —
   else ``unknown-issuer``;
3. the ``eddsa-jcs-2022`` proof verifies over the document as received — else
   ``tampered``;
4. ``validFrom``/``validUntil`` include now — else ``not-yet-valid``/``expired``;
5. every ``BitstringStatusListEntry`` bit is clear in the issuer's status list
   (fetched, its own proof verified, cached for ``status_list_ttl_seconds``) —
   else ``revoked`` (``error`` when no list could be read, or when the list's
   ``statusPurpose`` is not the entry's);
6. given our copy's SHA-256, a media credential's ``digestMultibase`` matches
   it — else ``digest-mismatch``.

The result is cryptographic truth only; :mod:`.trust` decides what is shown.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub import integrity
from activitypub.extract import as_list, datetime_of, domain_of, id_of, int_of, str_of, types_of
from activitypub.keys import base58btc_decode
from activitypub.statuslist import StatusListError, decode_list, get_bit

from ..db.models import StatusListCache, utcnow
from ..state import AppState
from . import trust

__all__ = [
    "VERIFIED",
    "UNTRUSTED",
    "EXPIRED",
    "REVOKED",
    "TAMPERED",
    "UNKNOWN_ISSUER",
    "DIGEST_MISMATCH",
    "NOT_YET_VALID",
    "ERROR",
    "RESULTS",
    "VerificationResult",
    "verify_credential",
    "digest_matches",
    "credential_subject",
    "is_credential",
]

VERIFIED = "verified"
UNTRUSTED = "untrusted"
EXPIRED = "expired"
REVOKED = "revoked"
TAMPERED = "tampered"
UNKNOWN_ISSUER = "unknown-issuer"
DIGEST_MISMATCH = "digest-mismatch"
NOT_YET_VALID = "not-yet-valid"
ERROR = "error"
RESULTS = (VERIFIED, UNTRUSTED, EXPIRED, REVOKED, TAMPERED, UNKNOWN_ISSUER, DIGEST_MISMATCH, NOT_YET_VALID, ERROR)

# Digest states of a media credential: checked against our copy, or not (yet).
DIGEST_MATCH = "match"
DIGEST_PENDING = "pending"  # we have no copy of the file (yet)
DIGEST_NONE = "none"  # the credential names no digest

# When nothing else bounds a result, look again after this long (key rotation,
# an actor that changed its mind).
RECHECK_DEFAULT = timedelta(days=1)
RETRY_ERROR = timedelta(minutes=10)
MAX_STATUS_ENTRIES = 4


class _Fail(Exception):
    def __init__(self, result: str, reason: str) -> None:
        super().__init__(reason)
        self.result = result
        self.reason = reason


@dataclass
class VerificationResult:
    """What verifying one document concluded (``result`` is one of :data:`RESULTS`)."""

    result: str
    reason: str = ""
    kind: str = "unknown"
    credential_id: str | None = None
    issuer: str | None = None  # the credential's issuer, else the proof key's controller
    subject: str | None = None
    signer: str | None = None  # the controller of the key that made the proof
    details: dict[str, Any] = field(default_factory=dict)
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    checked_at: datetime = field(default_factory=utcnow)
    next_check_at: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.result == VERIFIED

    def apply_policy(self, config: Any) -> VerificationResult:
        """This result with :mod:`.trust` applied (``verified`` may become ``untrusted``)."""
        shown, _ = trust.apply_policy(config, self.kind, self.result, self.issuer)
        if shown == self.result:
            return self
        reason = f"{self.issuer} is not a trusted issuer of {self.kind} attestations here"
        return VerificationResult(**{**self.__dict__, "result": shown, "reason": reason})


# ---- what a credential says ---------------------------------------------------------------

KIND_HUMAN = "human"
KIND_AUTOMATION = "automation"
KIND_SELF_HUMAN = "self-declared-human"
KIND_SELF_AUTOMATION = "self-declared-automation"
KIND_MEDIA = "media-provenance"
KIND_LIKENESS = "likeness-consent"
KIND_OBJECT = "object-proof"
ACCOUNT_KINDS = (KIND_HUMAN, KIND_AUTOMATION, KIND_SELF_HUMAN, KIND_SELF_AUTOMATION)


def credential_subject(doc: dict[str, Any]) -> dict[str, Any]:
    """The document's (first) ``credentialSubject`` object; ``{}`` when it has none."""
    subjects = [s for s in as_list(doc.get("credentialSubject")) if isinstance(s, dict)]
    return subjects[0] if subjects else {}


def describe(doc: dict[str, Any]) -> dict[str, Any]:
    """``kind``, ``subject`` and the display details a credential (or proved object) states.

    Read tolerantly: nothing here is trusted until the proof verifies.
    """
    types = types_of(doc)
    claim = credential_subject(doc)
    operated = str_of(claim.get("operatedBy"))
    info: dict[str, Any] = {"subject": id_of(claim.get("id")), "name": str_of(doc.get("name"))}
    if "AccountAttestation" in types:
        info["kind"] = KIND_HUMAN if operated == "human" else KIND_AUTOMATION if operated == "automation" else "account"
    elif "SelfDeclaration" in types:
        info["kind"] = KIND_SELF_HUMAN if operated == "human" else KIND_SELF_AUTOMATION if operated == "automation" else "self-declaration"
    elif "MediaProvenance" in types:
        info["kind"] = KIND_MEDIA
    elif "LikenessConsent" in types:
        info["kind"] = KIND_LIKENESS
    elif "VerifiableCredential" in types:
        info["kind"] = "credential"
    else:
        info["kind"] = KIND_OBJECT
        info["subject"] = id_of(doc.get("id"))
        info["object_type"] = next(iter(sorted(types)), None)
        info["attributed_to"] = id_of(doc.get("attributedTo")) or id_of(doc.get("actor"))
        return info
    info["method"] = str_of(claim.get("attestationMethod"))
    info["operator"] = id_of(claim.get("operator"))
    info["operator_name"] = str_of(claim.get("operatorName"))
    if info["kind"] == KIND_MEDIA:
        info["digest"] = str_of(claim.get("digestMultibase"))
        source = str_of(claim.get("digitalSourceType")) or id_of(claim.get("digitalSourceType"))
        info["digital_source_type"] = source.rstrip("/").rsplit("/", 1)[-1] if source else None
        generator = claim.get("generatedWith")
        if isinstance(generator, dict):
            info["generator"] = {
                k: v for k in ("software", "model", "modelDigest") if isinstance(v := generator.get(k), str)
            } or None
        info["prompt_digest"] = str_of(claim.get("promptDigest"))
        info["media_type"] = str_of(claim.get("encodingFormat"))
        info["generated_for"] = id_of(claim.get("generatedFor"))
        info["uploaded_by"] = id_of(claim.get("uploadedBy"))
        info["attached_to"] = id_of(claim.get("attachedTo"))
    if info["kind"] == KIND_LIKENESS:
        info["likeness_policy"] = str_of(claim.get("likenessPolicy"))
        info["allowed_actors"] = [a for a in (id_of(x) for x in as_list(claim.get("allowedActors"))[:100]) if a] or None
    return info


# ---- digests -----------------------------------------------------------------------------


def _multibase_decode(value: str) -> bytes:
    prefix, body = value[:1], value[1:]
    if prefix == "u":
        return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    if prefix == "z":
        return base58btc_decode(body)
    if prefix == "f":
        return bytes.fromhex(body)
    raise ValueError(f"unsupported multibase prefix {prefix!r}")


def digest_matches(digest_multibase: str, sha256_hex: str) -> bool:
    """Whether ``digestMultibase`` (a multihash, or a bare 32-byte digest) is the SHA-256 ``sha256_hex``."""
    try:
        raw = _multibase_decode(digest_multibase.strip())
    except ValueError:
        return False
    if len(raw) == 34 and raw[:2] == b"\x12\x20":
        raw = raw[2:]
    elif len(raw) != 32:
        return False
    return raw.hex() == sha256_hex.lower()


# ---- status lists ------------------------------------------------------------------------


def _bit(encoded: str, index: int, url: str) -> bool:
    """Bit ``index`` of the status list ``encoded`` (``encodedList``)."""
    try:
        return get_bit(decode_list(encoded), index)
    except StatusListError as exc:
        raise _Fail(ERROR, f"status list {url}: {exc}") from None


async def _local_status_list(session: AsyncSession, state: AppState, url: str) -> dict[str, Any] | None:
    """Our own status list credential, read from our tables (never fetched over HTTP)."""
    from ..db.models import StatusList
    from .statuslist import list_credential

    prefix = f"{state.config.base_url}/status-lists/"
    tail = url[len(prefix):] if url.startswith(prefix) else ""
    if not tail.isdigit():
        return None
    status_list = await session.get(StatusList, int(tail))
    if status_list is None:
        return None
    return await list_credential(session, state.config, status_list)


async def _fetch_status_list(
    session: AsyncSession, state: AppState, url: str, issuer: str, now: datetime, *, fresh: bool = False
) -> StatusListCache:
    from ..federation.remote import RemoteError, fetch

    ttl = timedelta(seconds=state.config.attestations.status_list_ttl_seconds)
    cached = await session.get(StatusListCache, url)
    if cached is not None and cached.expires_at > now and cached.issuer_uri == issuer and not fresh:
        return cached
    try:
        if (domain_of(url) or "") == state.config.instance.domain:
            doc = await _local_status_list(session, state, url)
            if doc is None:
                raise _Fail(ERROR, f"no local status list at {url}")
        else:
            doc = (await fetch(session, state, url)).data
    except (RemoteError, _Fail) as exc:
        if cached is not None and cached.issuer_uri == issuer:
            return cached  # the issuer is down: what we last knew beats nothing
        raise _Fail(ERROR, f"status list {url} unavailable: {exc}") from None
    # The list is itself a credential from the same issuer: check it as one.
    checked = await _check_proof(session, state, doc)
    if id_of(doc.get("issuer")) != issuer:
        raise _Fail(TAMPERED, f"status list {url} was issued by {id_of(doc.get('issuer'))}, not {issuer}")
    if checked != issuer:
        raise _Fail(UNKNOWN_ISSUER, f"status list {url} is signed by {checked}, not {issuer}")
    subject = doc.get("credentialSubject")
    subject = as_list(subject)[0] if as_list(subject) else {}
    encoded = str_of(subject.get("encodedList")) if isinstance(subject, dict) else None
    if not encoded:
        raise _Fail(ERROR, f"status list {url} has no encodedList")
    expires = now + ttl
    until = datetime_of(doc.get("validUntil"))
    if until is not None and until < expires:
        expires = max(until, now)
    if cached is None:
        cached = StatusListCache(url=url)
        session.add(cached)
    cached.issuer_uri = issuer
    cached.purpose = str_of(subject.get("statusPurpose")) or "revocation"
    cached.encoded_list = encoded
    cached.fetched_at = now
    cached.expires_at = expires
    await session.flush()
    return cached


async def _check_status(
    session: AsyncSession, state: AppState, credential: dict[str, Any], issuer: str, now: datetime, *, fresh: bool = False
) -> datetime | None:
    """Raise ``revoked`` (or ``error``) from the credential's status entries; returns when
    the earliest list we read must be read again."""
    recheck: datetime | None = None
    entries = [e for e in as_list(credential.get("credentialStatus")) if isinstance(e, dict)]
    for entry in entries[:MAX_STATUS_ENTRIES]:
        if "BitstringStatusListEntry" not in types_of(entry):
            continue
        url = id_of(entry.get("statusListCredential"))
        index = int_of(entry.get("statusListIndex"))
        if not url or index is None or index < 0:
            raise _Fail(ERROR, "malformed credentialStatus entry")
        purpose = str_of(entry.get("statusPurpose")) or "revocation"
        cached = await _fetch_status_list(session, state, url, issuer, now, fresh=fresh)
        if cached.purpose != purpose:  # as activitypub.statuslist.status_of: a bit means only what its list says
            raise _Fail(ERROR, f"status list {url} is for {cached.purpose!r}, the entry's statusPurpose is {purpose!r}")
        if _bit(cached.encoded_list, index, url):
            word = "revoked" if purpose == "revocation" else f"marked {purpose}"
            raise _Fail(REVOKED, f"{word} by {issuer} (status list {url}, index {index})")
        recheck = cached.expires_at if recheck is None else min(recheck, cached.expires_at)
    return recheck


# ---- proofs ------------------------------------------------------------------------------


async def _check_proof(session: AsyncSession, state: AppState, doc: dict[str, Any]) -> str:
    """Verify the document's proof (:func:`fedisora.federation.proofs.verify_document`: the key
    resolved, fetched afresh once on a mismatch); returns the key's controller."""
    from ..federation import proofs
    from ..federation.remote import RemoteError

    if not isinstance(doc.get("proof"), dict | list):
        raise _Fail(TAMPERED, "no proof")
    method = integrity.verification_method_of(doc)
    if not method:  # also: no eddsa-jcs-2022 proof at all
        raise _Fail(TAMPERED, "proof has no verificationMethod")
    try:
        return await proofs.verify_document(state, session, doc)
    except integrity.ProofError as exc:
        if exc.code in ("unknown-key", "unsupported"):
            raise _Fail(UNKNOWN_ISSUER, f"key {method} cannot be resolved: {exc}") from None
        raise _Fail(TAMPERED, f"proof does not verify ({exc.code}): {exc}") from None
    except (RemoteError, ValueError) as exc:
        raise _Fail(UNKNOWN_ISSUER, f"key {method} cannot be resolved: {exc}") from None


# ---- the whole check ---------------------------------------------------------------------


def credential_id_of(doc: dict[str, Any]) -> str:
    """The document's id, or a stable digest of it for a credential without one."""
    ident = id_of(doc.get("id"))
    if ident:
        return ident
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "urn:sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def is_credential(value: Any) -> bool:
    """Whether ``value`` is a credential with a proof (one worth verifying)."""
    return isinstance(value, dict) and "VerifiableCredential" in types_of(value) and "proof" in value


async def verify_credential(
    session: AsyncSession,
    state: AppState,
    doc: dict[str, Any],
    *,
    media_sha256: str | None = None,
    now: datetime | None = None,
    fresh_status: bool = False,
) -> VerificationResult:
    """Verify ``doc`` (a credential, or any document with a proof); never raises for bad input.

    ``media_sha256`` (hex) is our copy's digest, checked against a media
    credential's ``digestMultibase``.  ``fresh_status`` reads status lists
    from their issuers even when our cached copy has not expired.
    """
    now = now or utcnow()
    info = describe(doc) if isinstance(doc, dict) else {}
    result = VerificationResult(
        result=ERROR,
        kind=str(info.get("kind") or "unknown"),
        credential_id=credential_id_of(doc) if isinstance(doc, dict) else None,
        issuer=id_of(doc.get("issuer")) if isinstance(doc, dict) else None,
        subject=info.get("subject"),
        details={k: v for k, v in info.items() if k not in ("kind", "subject") and v is not None},
        checked_at=now,
    )
    if isinstance(doc, dict):
        result.valid_from = datetime_of(doc.get("validFrom"))
        result.valid_until = datetime_of(doc.get("validUntil"))
    try:
        if not isinstance(doc, dict):
            raise _Fail(ERROR, "not a JSON object")
        result.signer = await _check_proof(session, state, doc)
        if is_credential(doc):
            if not result.issuer:
                raise _Fail(UNKNOWN_ISSUER, "the credential names no issuer")
            if result.signer != result.issuer:
                raise _Fail(UNKNOWN_ISSUER, f"signed by {result.signer}, not by its issuer {result.issuer}")
        else:
            result.issuer = result.issuer or result.signer
        if doc.get("validFrom") is not None and result.valid_from is None:
            raise _Fail(ERROR, "validFrom is not a date")
        if doc.get("validUntil") is not None and result.valid_until is None:
            raise _Fail(ERROR, "validUntil is not a date")
        if result.valid_from is not None and now < result.valid_from:
            result.next_check_at = result.valid_from
            raise _Fail(NOT_YET_VALID, f"valid from {result.valid_from.isoformat()}")
        if result.valid_until is not None and now >= result.valid_until:
            raise _Fail(EXPIRED, f"expired {result.valid_until.isoformat()}")
        list_recheck = await _check_status(session, state, doc, result.issuer or "", now, fresh=fresh_status)
        digest = info.get("digest")
        if digest:
            if media_sha256:
                if not digest_matches(str(digest), media_sha256):
                    raise _Fail(DIGEST_MISMATCH, "the media file's SHA-256 differs from the credential's digestMultibase")
                result.details["digest_check"] = DIGEST_MATCH
            else:
                result.details["digest_check"] = DIGEST_PENDING
        elif result.kind == "media-provenance":
            result.details["digest_check"] = DIGEST_NONE
        result.result = VERIFIED
        candidates = [t for t in (result.valid_until, list_recheck) if t is not None]
        result.next_check_at = min(candidates) if candidates else now + RECHECK_DEFAULT
    except _Fail as failure:
        result.result, result.reason = failure.result, failure.reason
        if failure.result == ERROR:
            result.next_check_at = now + RETRY_ERROR
        elif failure.result == REVOKED:
            result.next_check_at = None  # revocation is final
        elif failure.result == UNKNOWN_ISSUER:
            result.next_check_at = now + RECHECK_DEFAULT
    return result

