"""What people see of attestations in the client API.

- ``Account.fields`` gets one ``Verification`` field: with ``verified_at`` set
  (the green check in stock Mastodon apps) only for a human attestation that
  verifies under our trust policy; a plain "Automated account — operated by
  @bob@example.social" for automated accounts; "Self-declared human" and the
  failures ("revoked", "expired"…) as plain text.
- ``Account``, ``Status`` and ``MediaAttachment`` carry a ``fedisora`` object
  with every verification result (kind, issuer, method, dates, status).

Results come from two places: what we issued ourselves (``attestations``,
for local accounts and media) and what we verified from peers
(``attestation_verifications``).  Each entity costs at most one query (none for
a remote post that carries no proof or provenance).
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub.extract import domain_of
from instance_config import Config

from ..attestations import trust
from ..attestations.receive import post_has_proofs
from ..attestations.verify import (
    EXPIRED,
    KIND_AUTOMATION,
    KIND_HUMAN,
    KIND_MEDIA,
    KIND_OBJECT,
    KIND_SELF_AUTOMATION,
    KIND_SELF_HUMAN,
    NOT_YET_VALID,
    REVOKED,
    VERIFIED,
    describe,
)
from ..db.models import Actor, ActorType, Attestation, AttestationVerification, MediaAttachment, Status, utcnow
from .common import iso_or_none

__all__ = ["FIELD_NAME", "account_verification", "status_verification", "entry_of_result", "entry_of_issued"]

FIELD_NAME = "Verification"
BOT_TYPES = (ActorType.SERVICE.value, ActorType.APPLICATION.value)
AUTOMATION_KINDS = (KIND_AUTOMATION, KIND_SELF_AUTOMATION)


# ---- one result as JSON --------------------------------------------------------------------


def _entry(
    config: Config,
    *,
    kind: str,
    result: str,
    reason: str,
    issuer: str | None,
    subject: str | None,
    details: dict[str, Any],
    valid_from: datetime | None,
    valid_until: datetime | None,
    checked_at: datetime | None,
    credential_id: str | None,
    local: bool,
) -> dict[str, Any]:
    shown = trust.display(config, kind, result, issuer)
    entry: dict[str, Any] = {
        "kind": kind,
        "status": shown.result,
        "reason": reason or None,
        "issuer": issuer,
        "issuer_domain": domain_of(issuer) if issuer else None,
        "trusted": shown.trusted,
        "shown": shown.shown,
        "subject": subject,
        "valid_from": iso_or_none(valid_from),
        "valid_until": iso_or_none(valid_until),
        "checked_at": iso_or_none(checked_at),
        "credential_id": credential_id,
        "local": local,
    }
    if shown.result != result:
        entry["reason"] = f"{issuer} is not a trusted issuer of {kind} attestations here"
    for key in ("method", "operator", "operator_name", "digest", "digest_check", "digital_source_type",
                "generator", "prompt_digest", "likeness_policy", "allowed_actors", "signer"):
        if details.get(key) is not None:
            entry[key] = details[key]
    return entry


def entry_of_result(config: Config, row: AttestationVerification) -> dict[str, Any]:
    """A stored verification result (of a peer's credential) as JSON."""
    return _entry(
        config, kind=row.kind, result=row.result, reason=row.reason, issuer=row.issuer_uri,
        subject=row.subject_uri, details=row.details or {}, valid_from=row.valid_from,
        valid_until=row.valid_until, checked_at=row.checked_at, credential_id=row.credential_id, local=False,
    )  # fmt: skip


def _issued_result(row: Attestation, now: datetime) -> tuple[str, str]:
    if row.revoked_at is not None:
        return REVOKED, f"revoked {row.revoked_at.isoformat()}"
    if row.valid_until is not None and row.valid_until <= now:
        return EXPIRED, f"expired {row.valid_until.isoformat()}"
    if row.valid_from > now:
        return NOT_YET_VALID, f"valid from {row.valid_from.isoformat()}"
    return VERIFIED, ""


def entry_of_issued(config: Config, row: Attestation, now: datetime | None = None) -> dict[str, Any]:
    """A credential we issued ourselves (our own records are the truth) as JSON."""
    credential = row.credential or {}
    info = describe(credential)
    result, reason = _issued_result(row, now or utcnow())
    return _entry(
        config, kind=str(info.get("kind")), result=result, reason=reason,
        issuer=credential.get("issuer") if isinstance(credential.get("issuer"), str) else None,
        subject=info.get("subject"), details=info, valid_from=row.valid_from, valid_until=row.valid_until,
        checked_at=None, credential_id=credential.get("id") if isinstance(credential.get("id"), str) else None,
        local=True,
    )  # fmt: skip


# ---- accounts ------------------------------------------------------------------------------


async def _account_entries(session: AsyncSession, config: Config, actor: Actor) -> list[dict[str, Any]]:
    if actor.local:
        issued = (
            await session.exec(
                select(Attestation).where(Attestation.subject_actor_id == actor.id).order_by(Attestation.id)
            )
        ).all()
        now = utcnow()
        latest: dict[str, dict[str, Any]] = {}  # the newest of each kind: earlier ones were superseded
        for row in reversed(issued):
            entry = entry_of_issued(config, row, now)
            latest.setdefault(entry["kind"], entry)
        return list(reversed(latest.values()))
    rows = (
        await session.exec(
            select(AttestationVerification)
            .where(AttestationVerification.actor_id == actor.id)
            .order_by(AttestationVerification.id)
        )
    ).all()
    return [entry_of_result(config, row) for row in rows]


async def _operator_label(session: AsyncSession, entry: dict[str, Any]) -> str | None:
    operator = entry.get("operator")
    if isinstance(operator, str):
        known = (await session.exec(select(Actor).where(Actor.uri == operator))).first()
        if known is not None:
            return f"@{known.username}@{known.domain}"
    name = entry.get("operator_name")
    if isinstance(name, str) and name:
        return name if name.startswith("@") or " " in name else f"@{name}" if "@" in name else name
    return operator if isinstance(operator, str) else None


def _by(entry: dict[str, Any]) -> str:
    return entry.get("issuer_domain") or entry.get("issuer") or "an unknown issuer"


async def account_verification(session: AsyncSession, config: Config, actor: Actor) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """``(profile field or None, the "verification" object)`` of ``actor``."""
    entries = await _account_entries(session, config, actor)
    account_entries = [e for e in entries if e["kind"] in (KIND_HUMAN, KIND_SELF_HUMAN, *AUTOMATION_KINDS)]
    service = actor.actor_type in BOT_TYPES
    automation = [e for e in account_entries if e["kind"] in AUTOMATION_KINDS and e["status"] != REVOKED]
    humans = [e for e in account_entries if e["kind"] == KIND_HUMAN and e["shown"]]
    verified_human = next((e for e in humans if e["status"] == VERIFIED), None)
    self_human = next((e for e in account_entries if e["kind"] == KIND_SELF_HUMAN and e["status"] == VERIFIED), None)

    field: dict[str, Any] | None = None
    if service or automation:
        summary = "automated"
        attested = next((e for e in automation if e["kind"] == KIND_AUTOMATION and e["status"] == VERIFIED), None)
        chosen = attested or (automation[0] if automation else None)
        text = "Automated account"
        if chosen is not None:
            operator = await _operator_label(session, chosen)
            if operator:
                text += f" — operated by {operator}"
            if chosen["kind"] == KIND_SELF_AUTOMATION:
                text += " (self-declared)"
            elif chosen["status"] == VERIFIED:
                text += f" (attested by {_by(chosen)})"
            field = {"name": FIELD_NAME, "value": escape(text), "verified_at": None}
        elif humans or self_human:  # a Service claiming a human: the type wins
            field = {"name": FIELD_NAME, "value": escape(text), "verified_at": None}
    elif verified_human is not None:
        summary = "verified-human"
        method = verified_human.get("method")
        text = f"Verified human — attested by {_by(verified_human)}" + (f" ({method})" if method else "")
        at = verified_human.get("checked_at") or verified_human.get("valid_from")
        field = {"name": FIELD_NAME, "value": escape(text), "verified_at": at}
    elif humans:
        shown = humans[0]
        summary = "unverified-human"
        if shown["status"] == trust.UNTRUSTED:
            text = f"Human (unverified) — attested by {_by(shown)}, not trusted here"
        else:
            text = f"Human attestation by {_by(shown)}: {shown['status']}"
        field = {"name": FIELD_NAME, "value": escape(text), "verified_at": None}
    elif self_human is not None:
        summary = "self-declared-human"
        field = {"name": FIELD_NAME, "value": escape("Self-declared human (not verified)"), "verified_at": None}
    else:
        summary = "none"
    return field, {"summary": summary, "bot": service or bool(automation), "attestations": entries}


async def add_account_verification(session: AsyncSession, config: Config, actor: Actor, entity: dict[str, Any]) -> None:
    """Put the verification field and ``fedisora.verification`` on an Account entity."""
    field, verification = await account_verification(session, config, actor)
    if field is not None:
        entity["fields"] = [*entity.get("fields", []), field]
    if verification["bot"]:
        entity["bot"] = True
    if verification["attestations"]:  # absent when there is nothing to say: plain Mastodon shape
        entity.setdefault("fedisora", {})["verification"] = verification


# ---- statuses and media --------------------------------------------------------------------


async def status_verification(
    session: AsyncSession, config: Config, status: Status, media: list[MediaAttachment]
) -> tuple[dict[str, Any], dict[int, dict[str, Any] | None]]:
    """``(the status's "verification" object, provenance per media id)``."""
    by_media: dict[int, dict[str, Any] | None] = {m.id: None for m in media}
    proof: dict[str, Any] | None = None
    others: list[dict[str, Any]] = []
    if status.local:
        if media:
            issued = (
                await session.exec(
                    select(Attestation)
                    .where(Attestation.subject_media_id.in_([m.id for m in media]))  # type: ignore[union-attr]
                    .order_by(Attestation.id)
                )
            ).all()
            now = utcnow()
            for row in issued:
                if row.subject_media_id in by_media:
                    by_media[row.subject_media_id] = entry_of_issued(config, row, now)
    elif post_has_proofs(status.raw or {}):  # nothing verified for posts without: no query
        rows = (
            await session.exec(
                select(AttestationVerification)
                .where(AttestationVerification.status_id == status.id)
                .order_by(AttestationVerification.id)
            )
        ).all()
        for row in rows:
            entry = entry_of_result(config, row)
            if row.media_id is not None and row.media_id in by_media:
                if row.kind == KIND_MEDIA or by_media[row.media_id] is None:
                    by_media[row.media_id] = entry
            elif row.kind == KIND_OBJECT:
                proof = entry
            else:
                others.append(entry)
    provenance = [e for e in by_media.values() if e is not None] + others
    return {"proof": proof, "provenance": provenance}, by_media


async def add_status_verification(
    session: AsyncSession,
    config: Config,
    status: Status,
    media: list[MediaAttachment],
    entity: dict[str, Any],
) -> None:
    """Put ``fedisora.verification`` on a Status entity and ``fedisora.provenance`` on each of
    its MediaAttachment entities (built from ``media``, in the same order)."""
    verification, by_media = await status_verification(session, config, status, media)
    if verification["proof"] is not None or verification["provenance"]:  # absent when there is nothing to say
        entity.setdefault("fedisora", {})["verification"] = verification
    for item, row in zip(entity.get("media_attachments", []), media, strict=False):
        found = by_media.get(row.id)
        if found is None:
            continue  # absent when there is nothing to say, as on the Status
        ours = item.get("fedisora")
        if not isinstance(ours, dict):
            ours = item["fedisora"] = {}
        ours["provenance"] = found
