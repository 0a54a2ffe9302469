"""FEP-8b32 object integrity proofs on our documents, and checking the proofs of others.

The cryptography is :mod:`activitypub.integrity` (eddsa-jcs-2022); this module
finds the keys.  We sign with the local actor's active Ed25519 key (the
``assertion`` key in ``keys``, published per FEP-521a in ``assertionMethod``).
A remote proof's ``verificationMethod`` is trusted only when the actor that
controls it lists it as a ``Multikey`` in its ``assertionMethod`` with itself
as ``controller``, on its own server (the rules :func:`remote.store_actor`
applies when it stores keys).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub import keys as keylib
from activitypub.extract import domain_of, id_of, ids_of, same_origin
from activitypub.integrity import (
    ProofError,
    create_proof,
    require_proof,
    verification_method_of,
    verify_proof,
    with_proof_context,
)

from ..db.models import Actor, Key, KeyAlgorithm, KeyPurpose, utcnow
from ..state import AppState
from .remote import RemoteError, _keys_of, fetch_key_owner

__all__ = [
    "ProofError",
    "assertion_key",
    "resolve_verification_method",
    "Signer",
    "sign_document",
    "signer_for",
    "verify_document",
]

log = logging.getLogger(__name__)


async def assertion_key(session: AsyncSession, actor: Actor) -> Key:
    """The local actor's active Ed25519 assertion key; one is made (and published) when it has none.

    Accounts created before Ed25519 keys existed get theirs on first use; the
    actor document lists it from then on.  The caller commits.
    """
    query = (
        select(Key)
        .where(
            Key.actor_id == actor.id,
            Key.algorithm == KeyAlgorithm.ED25519.value,
            Key.purpose == KeyPurpose.ASSERTION.value,
            Key.private_key_pem.is_not(None),  # type: ignore[union-attr]
            Key.revoked_at.is_(None),  # type: ignore[union-attr]
        )
        .order_by(Key.id.desc())  # type: ignore[union-attr]
    )
    key = (await session.exec(query)).first()
    if key is not None:
        return key
    if not actor.local:
        raise ValueError(f"{actor.uri} is not a local actor: we hold no private key for it")
    key_id = f"{actor.uri}#ed25519-key"
    taken = (await session.exec(select(Key).where(Key.key_id == key_id))).first()
    if taken is not None:  # revoked, or without its private half: a fresh id for the new key
        key_id = f"{actor.uri}#ed25519-key-{int(utcnow().timestamp())}"
    pair = keylib.generate_ed25519()
    key = Key(
        actor_id=actor.id,
        key_id=key_id,
        algorithm=KeyAlgorithm.ED25519.value,
        purpose=KeyPurpose.ASSERTION.value,
        public_key_pem=pair.public_pem,
        public_key_multibase=pair.public_multibase,
        private_key_pem=pair.private_pem,
    )
    session.add(key)
    await session.flush()
    log.info("made an Ed25519 assertion key for %s", actor.uri)
    return key


def _private_key(key: Key) -> Ed25519PrivateKey:
    assert key.private_key_pem is not None
    loaded = load_pem_private_key(key.private_key_pem.encode("ascii"), password=None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise ValueError(f"key {key.key_id} is not an Ed25519 private key")
    return loaded


def _signs_for(obj: dict[str, Any], actor: Actor) -> bool:
    """Whether an object embedded in ``actor``'s activity is ``actor``'s own (and so gets its own proof)."""
    object_id = id_of(obj.get("id"))
    if not object_id or not same_origin(object_id, actor.uri):
        return False
    return actor.uri in ids_of(obj.get("attributedTo")) or id_of(obj.get("actor")) == actor.uri


@dataclass(frozen=True)
class Signer:
    """One actor's loaded Ed25519 key: signs any number of documents without the database."""

    actor: Actor
    private_key: Ed25519PrivateKey
    key_id: str

    def sign(self, document: dict[str, Any]) -> dict[str, Any]:
        """A new dict: ``document`` with a proof made with the actor's key.

        An object embedded in ``object`` that is the actor's own (a ``Note`` in a
        ``Create``) is signed first, so it verifies on its own when it is relayed
        or stored alone; it keeps a copy of the activity's ``@context`` for that.
        Objects of others (the ``Follow`` inside an ``Accept``) are left as they are.
        A document whose ``@context`` does not define ``DataIntegrityProof`` gets
        the data-integrity context appended (FEP-8b32).
        """
        document = with_proof_context(document)
        obj = document.get("object")
        if isinstance(obj, dict) and _signs_for(obj, self.actor):
            inner = dict(obj)
            if "@context" not in inner and "@context" in document:
                inner = {"@context": document["@context"], **inner}
            document["object"] = create_proof(inner, self.private_key, self.key_id)
        return create_proof(document, self.private_key, self.key_id)


async def signer_for(session: AsyncSession, actor: Actor) -> Signer:
    """``actor``'s :class:`Signer` (its key is made first if it has none; the caller commits)."""
    key = await assertion_key(session, actor)
    return Signer(actor, _private_key(key), key.key_id)


async def sign_document(session: AsyncSession, actor: Actor, document: dict[str, Any]) -> dict[str, Any]:
    """A new dict: ``document`` signed with ``actor``'s Ed25519 key (see :meth:`Signer.sign`)."""
    return (await signer_for(session, actor)).sign(document)


async def _listed_key(session: AsyncSession, verification_method: str) -> tuple[Key, Actor] | None:
    key = (
        await session.exec(
            select(Key).where(
                Key.key_id == verification_method,
                Key.algorithm == KeyAlgorithm.ED25519.value,
                Key.purpose == KeyPurpose.ASSERTION.value,
                Key.revoked_at.is_(None),  # type: ignore[union-attr]
            )
        )
    ).first()
    if key is None or not key.public_key_multibase:
        return None
    owner = await session.get(Actor, key.actor_id)
    if owner is None or owner.deleted_at is not None:
        return None
    if not owner.local and not any(k["key_id"] == verification_method for k in _keys_of(owner.raw or {}, owner.uri)):
        return None  # no longer in the actor's assertionMethod
    return key, owner


def _public_key(key: Key) -> Ed25519PublicKey:
    try:
        raw = keylib.ed25519_public_from_multibase(key.public_key_multibase or "")
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:
        raise ProofError("unknown-key", f"key {key.key_id} is not a usable Ed25519 Multikey: {exc}") from None


async def resolve_verification_method(
    state: AppState, session: AsyncSession, verification_method: str, *, refresh: bool = False
) -> tuple[str, Ed25519PublicKey]:
    """``(controller actor URI, public key)`` for a proof's ``verificationMethod``.

    Known keys come from our tables; unknown ones (or all, with ``refresh``)
    by fetching the controlling actor, which must list the key in its
    ``assertionMethod`` as a ``Multikey`` it controls.  An Ed25519 ``did:key``
    holds its key in itself: its controller is the DID (no actor of ours).
    ``ProofError("unknown-key")`` otherwise (``"unsupported"`` for other DID
    methods and anything else that is not an http(s) URL).
    """
    controller, key, _ = await _resolve(state, session, verification_method, refresh=refresh)
    return controller, key


async def _resolve(
    state: AppState, session: AsyncSession, verification_method: str, *, refresh: bool
) -> tuple[str, Ed25519PublicKey, bool]:
    """:func:`resolve_verification_method`, and whether the key was fetched just now."""
    if isinstance(verification_method, str) and verification_method.startswith("did:key:"):
        try:
            did, raw = keylib.ed25519_public_from_did_key(verification_method)
        except ValueError as exc:
            raise ProofError("unknown-key", f"verificationMethod {verification_method!r}: {exc}") from None
        return did, Ed25519PublicKey.from_public_bytes(raw), False
    if not isinstance(verification_method, str) or not verification_method.startswith(("https://", "http://")):
        # did:web, did:plc … (FEP-ef61 portable objects): not something we resolve yet
        raise ProofError("unsupported", f"verificationMethod {verification_method!r} is not an http(s) URL or a did:key")
    local = domain_of(verification_method) == state.config.instance.domain
    found = None if refresh and not local else await _listed_key(session, verification_method)
    fetched = False
    if found is None:
        if local:
            raise ProofError("unknown-key", f"no local key {verification_method}")
        try:
            await fetch_key_owner(session, state, verification_method)
        except RemoteError as exc:
            raise ProofError("unknown-key", f"cannot get key {verification_method}: {exc}") from None
        fetched = True
        found = await _listed_key(session, verification_method)
        if found is None:
            raise ProofError(
                "unknown-key", f"{verification_method} is not an Ed25519 Multikey in its controller's assertionMethod"
            )
    key, owner = found
    return owner.uri, _public_key(key), fetched


async def verify_document(
    state: AppState, session: AsyncSession, document: dict[str, Any], *, expected_controller: str | None = None
) -> str:
    """Verify ``document``'s eddsa-jcs-2022 proof; the URI of the actor that made it.

    With ``expected_controller``, the proof must have been made by that actor.
    A proof that fails with a cached key is tried once more with the key
    fetched afresh (the actor may have rotated it).  Raises :class:`ProofError`.
    """
    require_proof(document)  # missing / malformed / unsupported, before any key is fetched
    method = verification_method_of(document)
    if method is None:
        raise ProofError("malformed", "the proof has no verificationMethod")
    controller, public_key, fetched = await _resolve(state, session, method, refresh=False)
    if expected_controller is not None and controller != expected_controller:
        raise ProofError("invalid", f"the proof was made by {controller}, not by {expected_controller}")
    try:
        verify_proof(document, public_key)
    except ProofError as exc:
        # a cached key may be stale (rotated); a key fetched just now, or one of ours, is not
        if exc.code != "invalid" or fetched or domain_of(method) == state.config.instance.domain:
            raise
        try:
            controller, fresh = await resolve_verification_method(state, session, method, refresh=True)
        except ProofError:
            raise exc from None
        if fresh == public_key:
            raise
        if expected_controller is not None and controller != expected_controller:
            raise ProofError("invalid", f"the proof was made by {controller}, not by {expected_controller}") from None
        verify_proof(document, fresh)
    return controller

