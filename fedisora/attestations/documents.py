"""Where our credentials travel: actor-document attachments and a post's ``Document``.

- An actor document carries its subject's valid account attestation,
  self-declaration and likeness consent as ``attachment`` entries (whole
  signed credentials, each with its own ``@context``, in the spirit of
  FEP-c390), plus a ``PropertyValue`` line per account attestation or
  self-declaration so Mastodon and others show it as a profile field.
- A post's ``Document`` attachment carries the media provenance credential
  (:func:`provenance_for_media`), issued lazily and stored.

JSON-LD: the VC 2.0 context and ``https://w3id.org/security/data-integrity/v1``
both protect ``DataIntegrityProof`` with different definitions, so everything
we sign uses data-integrity ``v2`` (identical to VC 2.0's; see
``activitypub.integrity``), and credentials can be embedded in any of it.  The
VC 2.0 context is *not* added at the top level of the actor or the Note: it
would turn the actor's ``name`` into ``schema:name``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any
from urllib.parse import urlsplit

from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub.integrity import DATA_INTEGRITY_V1, DATA_INTEGRITY_V2
from instance_config import Config

from ..db.models import Actor, Attestation, Key, MediaAttachment
from . import service
from .vocabulary import PROVENANCE_KEY, Kind, OperatedBy, source_type_name

__all__ = [
    "DATA_INTEGRITY_V1",
    "DATA_INTEGRITY_V2",
    "attestation_entries",
    "add_attestations",
    "local_actor_document",
    "property_value",
    "provenance_for_media",
    "attach_provenance",
]



def _host(uri: str) -> str:
    return urlsplit(uri).netloc or uri


def property_value(row: Attestation) -> dict[str, str] | None:
    """The profile-field line for an account attestation or self-declaration."""
    credential = row.credential
    url = escape(str(credential.get("id", "")), quote=True)
    issuer = str(credential.get("issuer", ""))
    until = str(credential.get("validUntil", ""))[:10]
    if row.kind == Kind.ACCOUNT.value:
        if row.claim == OperatedBy.HUMAN.value:
            name = "Verified human"
            text = f"attested by {_host(issuer)} ({row.method or 'admin-vouched'})"
        else:
            name = "Automated account"
            operator = credential.get("credentialSubject", {}).get("operatorName")
            text = f"attested by {_host(issuer)}" + (f", operated by {operator}" if operator else "")
        if until:
            text += f", until {until}"
    elif row.kind == Kind.SELF_DECLARATION.value:
        name = "Self-declared"
        text = "human (not verified)" if row.claim == OperatedBy.HUMAN.value else "automated account"
    else:
        return None
    value = f'<a href="{url}" rel="nofollow noopener noreferrer" target="_blank">{escape(text)}</a>'
    return {"type": "PropertyValue", "name": name, "value": value}


async def attestation_entries(session: AsyncSession, actor: Actor) -> list[dict[str, Any]]:
    """The ``attachment`` entries for ``actor``: profile-field lines first, then the credentials."""
    rows = await service.current_attestations(session, actor)
    order = {Kind.ACCOUNT.value: 0, Kind.SELF_DECLARATION.value: 1, Kind.LIKENESS_CONSENT.value: 2}
    rows.sort(key=lambda r: (order.get(r.kind, 9), -r.id))
    lines = [line for line in (property_value(r) for r in rows) if line is not None]
    return [*lines, *(dict(r.credential) for r in rows)]


def add_attestations(document: dict[str, Any], entries: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Append ``entries`` to an actor document's ``attachment`` (in place).  Its ``@context``
    must not carry data-integrity ``v1`` beside them (see the module doc): ours does not."""
    if not entries:
        return document
    attachment = document.setdefault("attachment", [])
    attachment.extend(dict(e) for e in entries)
    return document


async def local_actor_document(
    session: AsyncSession, config: Config, actor: Actor, keys: list[Key]
) -> dict[str, Any]:
    """A local actor's document with its attestations (what ``/users/NAME`` serves)."""
    from ..federation.documents import actor_document

    return actor_document(actor, keys, await attestation_entries(session, actor))


async def provenance_for_media(session: AsyncSession, config: Config, media: MediaAttachment) -> dict[str, Any] | None:
    """The signed media provenance credential for a local media file, to put in its
    ``Document`` with :func:`attach_provenance`.

    Issued on first use and stored; re-issued when the file's digest changed
    (re-processing).  ``None`` for media without a digest yet and for remote
    media (its origin is the one to vouch for it).  The caller commits.

    ``digitalSourceType`` is stated only when known (declared at upload, read
    from C2PA, or generated here); for an upload with no such information the
    credential says only "this instance received this file, with this digest,
    from this account" and leaves the source type out rather than guess
    ``digitalCapture``.
    """
    if not media.sha256 or media.remote_url and not media.file_path:
        return None
    from sqlmodel import col, select

    query = (
        select(Attestation)
        .where(Attestation.subject_media_id == media.id, col(Attestation.revoked_at).is_(None))
        .order_by(col(Attestation.id).desc())
    )
    existing = (await session.exec(query)).first()
    from .credentials import digest_multibase

    if existing is not None:
        subject = existing.credential.get("credentialSubject", {})
        declared = source_type_name(media.digital_source_type)
        same_source = declared is None or declared == existing.claim
        if subject.get("digestMultibase") == digest_multibase(media.sha256) and same_source:
            return dict(existing.credential)
    owner = await session.get(Actor, media.actor_id)
    if owner is None or not owner.local:
        return None
    row = await service.issue_media_provenance(session, config, media)
    return dict(row.credential)


async def existing_provenance(session: AsyncSession, media: Sequence[MediaAttachment]) -> dict[int, dict[str, Any]]:
    """The provenance credentials already issued (and not revoked) for ``media``, by media
    id, when they still match the file's digest: for read paths, which issue nothing."""
    from sqlmodel import col, select

    from .credentials import digest_multibase

    by_id = {m.id: m for m in media if m.sha256 and m.file_path}
    if not by_id:
        return {}
    query = (
        select(Attestation)
        .where(col(Attestation.subject_media_id).in_(list(by_id)), col(Attestation.revoked_at).is_(None))
        .order_by(col(Attestation.id))
    )
    found: dict[int, dict[str, Any]] = {}
    for row in (await session.exec(query)).all():
        item = by_id[row.subject_media_id]  # type: ignore[index]
        if row.credential.get("credentialSubject", {}).get("digestMultibase") == digest_multibase(item.sha256 or ""):
            found[item.id] = dict(row.credential)  # the newest wins
    return found


def attach_provenance(document: dict[str, Any], credential: Mapping[str, Any] | None) -> dict[str, Any]:
    """Put ``credential`` in a ``Document`` attachment under ``provenance`` (in place).

    The Note's ``@context`` should then carry ``vocabulary.PROVENANCE_TERMS`` and must
    not carry ``https://w3id.org/security/data-integrity/v1`` (see the module doc).
    """
    if credential is not None:
        document[PROVENANCE_KEY] = dict(credential)
    return document
