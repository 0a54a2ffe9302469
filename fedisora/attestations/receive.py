"""Verifying the attestations that arrive with remote actors and posts, in the background.

Hooks (each one line at its call site):

- :func:`actor_stored` — ``federation.remote.store_actor``: a remote actor was
  stored or refreshed; its credentials (actor ``attachment`` entries) are
  verified by a job.
- :func:`post_stored` — ``federation.handlers.posts.store_remote_post``: a
  remote post was stored; the provenance credentials inside its ``Document``
  attachments (and the post's own proof, when it has one) are verified by a job.
- :func:`schedule_rechecks` — hourly ``maintenance``: results whose validity
  or cached revocation status ran out are verified again.

Verification itself never runs inside the inbox transaction: it may fetch
issuer keys and status lists from other servers.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub.extract import as_list, id_of

from ..db.models import Actor, AttestationVerification, MediaAttachment, Status, utcnow
from ..jobs import queue
from ..jobs.runner import JobContext
from ..state import AppState
from .verify import (
    ACCOUNT_KINDS,
    DIGEST_PENDING,
    ERROR,
    EXPIRED,
    KIND_LIKENESS,
    KIND_OBJECT,
    REVOKED,
    TAMPERED,
    VERIFIED,
    credential_subject,
    is_credential,
    verify_credential,
)

log = logging.getLogger(__name__)

__all__ = [
    "VERIFY_ATTESTATIONS",
    "credentials_of_actor",
    "credentials_of_attachment",
    "post_has_proofs",
    "actor_stored",
    "post_stored",
    "verify_attestations",
    "verify_actor",
    "verify_post",
    "schedule_rechecks",
]

VERIFY_ATTESTATIONS = "verify_attestations"
MAX_CREDENTIALS = 16
# A media credential is checked against our copy of the file: while the copy is
# being made, look again shortly, a bounded number of times.
DIGEST_WAIT = timedelta(seconds=30)
DIGEST_WAITS = 10
RECHECK_BATCH = 500


# ---- finding credentials -------------------------------------------------------------------


def _credentials_in(value: Any) -> list[dict[str, Any]]:
    """Credentials in ``value``: itself, or under the keys peers (and we) put them."""
    if is_credential(value):
        return [value]
    found: list[dict[str, Any]] = []
    if isinstance(value, dict):
        for key in ("credential", "verifiableCredential", "attestation", "provenance", "proofOfProvenance"):
            for item in as_list(value.get(key)):
                if is_credential(item):
                    found.append(item)
    return found


def credentials_of_actor(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The credentials an actor document carries (``attachment`` entries, ``verifiableCredential``)."""
    found: list[dict[str, Any]] = []
    for item in as_list(doc.get("attachment"))[:64]:
        found.extend(_credentials_in(item))
    for item in as_list(doc.get("verifiableCredential"))[:MAX_CREDENTIALS]:
        if is_credential(item):
            found.append(item)
    return found[:MAX_CREDENTIALS]


def credentials_of_attachment(item: dict[str, Any]) -> list[dict[str, Any]]:
    """The credentials inside one post attachment (a ``Document``)."""
    found: list[dict[str, Any]] = []
    for key, value in item.items():
        if key in ("url", "icon", "preview", "image"):
            continue
        for entry in as_list(value)[:MAX_CREDENTIALS]:
            if is_credential(entry):
                found.append(entry)
    return found[:MAX_CREDENTIALS]


def post_has_proofs(obj: dict[str, Any]) -> bool:
    """Whether a post (its stored ``raw``) has a proof of its own or credentials in its attachments."""
    if isinstance(obj.get("proof"), dict | list):
        return True
    return any(isinstance(i, dict) and credentials_of_attachment(i) for i in as_list(obj.get("attachment"))[:16])


# ---- hooks ---------------------------------------------------------------------------------


async def _enqueue(target: queue.Target, payload: dict[str, Any], key: str, *, run_at: datetime | None = None) -> None:
    await queue.enqueue(target, VERIFY_ATTESTATIONS, payload, run_at=run_at, max_attempts=5, dedupe_key=f"{VERIFY_ATTESTATIONS}:{key}")


async def _has_results(session: AsyncSession, column: Any, value: int) -> bool:
    return (await session.exec(select(AttestationVerification.id).where(column == value).limit(1))).first() is not None


async def actor_stored(session: AsyncSession, actor: Actor, doc: dict[str, Any]) -> None:
    """A remote actor was stored or refreshed: verify what it carries (or forget what it dropped)."""
    if actor.local:
        return
    if credentials_of_actor(doc) or await _has_results(session, AttestationVerification.actor_id, actor.id):
        await _enqueue(session, {"actor_id": actor.id}, f"actor:{actor.id}")


async def post_stored(session: AsyncSession, status: Status, obj: dict[str, Any]) -> None:
    """A remote post was stored: verify the provenance of its media (and its own proof)."""
    if status.local or not post_has_proofs(obj):
        return
    await _enqueue(session, {"status_id": status.id}, f"status:{status.id}")


# ---- storing results -----------------------------------------------------------------------


async def _store(
    session: AsyncSession,
    target: str,
    result: Any,
    credential: dict[str, Any],
    *,
    actor_id: int | None = None,
    status_id: int | None = None,
    media_id: int | None = None,
) -> AttestationVerification:
    row = (
        await session.exec(
            select(AttestationVerification).where(
                AttestationVerification.target == target,
                AttestationVerification.credential_id == result.credential_id,
            )
        )
    ).first()
    if row is None:
        row = AttestationVerification(target=target, credential_id=result.credential_id, kind=result.kind, result=result.result)
        session.add(row)
    row.kind = result.kind
    row.issuer_uri = result.issuer
    row.subject_uri = result.subject
    row.actor_id, row.status_id, row.media_id = actor_id, status_id, media_id
    row.result = result.result
    row.reason = result.reason[:2000]
    row.details = dict(result.details)
    row.valid_from, row.valid_until = result.valid_from, result.valid_until
    row.checked_at = result.checked_at
    row.next_check_at = result.next_check_at
    row.credential = credential
    row.updated_at = utcnow()
    return row


async def _forget_others(session: AsyncSession, targets: list[str], keep: set[tuple[str, str]]) -> None:
    rows = (await session.exec(select(AttestationVerification).where(AttestationVerification.target.in_(targets)))).all()  # type: ignore[attr-defined]
    for row in rows:
        if (row.target, row.credential_id) not in keep:
            await session.delete(row)


def _mismatch(result: Any, reason: str) -> None:
    result.result, result.reason, result.next_check_at = TAMPERED, reason, None


# ---- the job -------------------------------------------------------------------------------


async def verify_actor(session: AsyncSession, state: AppState, actor: Actor) -> list[AttestationVerification]:
    """Verify every credential ``actor``'s stored document carries and store the results."""
    target = f"actor:{actor.id}"
    keep: set[tuple[str, str]] = set()
    rows = []
    for credential in credentials_of_actor(actor.raw or {}):
        result = await verify_credential(session, state, credential)
        if result.kind in ACCOUNT_KINDS or result.kind == KIND_LIKENESS:
            # An actor may only carry statements about itself; self-statements only by itself.
            if result.subject != actor.uri:
                _mismatch(result, f"the credential is about {result.subject}, not {actor.uri}")
            elif result.kind.startswith("self-declared") or result.kind == KIND_LIKENESS:
                if result.result == VERIFIED and result.issuer != actor.uri:
                    _mismatch(result, f"a self-declaration of {actor.uri} issued by {result.issuer}")
        rows.append(await _store(session, target, result, credential, actor_id=actor.id))
        keep.add((target, result.credential_id or ""))
    await _withdrawn(session, state, target, keep)
    return rows


async def _withdrawn(session: AsyncSession, state: AppState, target: str, keep: set[tuple[str, str]]) -> None:
    """Credentials an actor no longer carries: checked once more against a fresh status list.
    Revoked or expired ones stay (so people see "revoked"); the rest are forgotten."""
    gone = (
        await session.exec(select(AttestationVerification).where(AttestationVerification.target == target))
    ).all()
    for row in gone:
        if (row.target, row.credential_id) in keep:
            continue
        if row.details.get("withdrawn"):
            continue  # already settled
        result = await verify_credential(session, state, row.credential, fresh_status=True)
        if result.result == ERROR:  # the issuer is unreachable: try again later
            row.reason, row.checked_at, row.next_check_at = result.reason[:2000], result.checked_at, result.next_check_at
        elif result.result in (REVOKED, EXPIRED) and result.credential_id == row.credential_id:
            row.result, row.reason = result.result, result.reason[:2000]
            row.details = {**result.details, "withdrawn": True}
            row.checked_at, row.next_check_at = result.checked_at, None
        else:  # still valid (superseded or removed by its holder), or never genuine: forget it
            await session.delete(row)
            continue
        row.updated_at = utcnow()


def _attachment_url(item: dict[str, Any]) -> str | None:
    from ..federation.handlers.posts import remote_attachments

    found = remote_attachments({"attachment": [item]})
    return found[0]["remote_url"] if found else None


async def verify_post(session: AsyncSession, state: AppState, status: Status, *, waits: int = 0) -> bool:
    """Verify a remote post's proof and its media credentials; returns whether a media digest
    is still waiting for our copy of the file."""
    obj = status.raw or {}
    media = list((await session.exec(select(MediaAttachment).where(MediaAttachment.status_id == status.id))).all())
    by_url = {m.remote_url: m for m in media if m.remote_url}
    keep: set[tuple[str, str]] = set()
    targets = [f"status:{status.id}"] + [f"media:{m.id}" for m in media]
    waiting = False
    author = await session.get(Actor, status.actor_id)
    if isinstance(obj.get("proof"), dict | list):
        result = await verify_credential(session, state, obj)
        result.kind = KIND_OBJECT
        if result.ok and author is not None and result.signer != author.uri:
            _mismatch(result, f"the post is signed by {result.signer}, not its author {author.uri}")
        target = f"status:{status.id}"
        await _store(session, target, result, {"id": status.uri, "proof": obj.get("proof")}, status_id=status.id)
        keep.add((target, result.credential_id or ""))
    for item in as_list(obj.get("attachment"))[:16]:
        if not isinstance(item, dict):
            continue
        credentials = credentials_of_attachment(item)
        if not credentials:
            continue
        url = _attachment_url(item)
        row = by_url.get(url) if url else None
        for credential in credentials:
            if row is None:  # match on the credential's subject (the media file's URL)
                subject = id_of(credential_subject(credential).get("id"))
                row = by_url.get(subject) if subject else None
            sha = row.sha256 if row is not None and row.sha256 else None
            result = await verify_credential(session, state, credential, media_sha256=sha)
            pending = result.details.get("digest_check") == DIGEST_PENDING and row is not None and not row.error
            waiting = waiting or pending
            if row is not None:
                target = f"media:{row.id}"
                stored = await _store(session, target, result, credential, status_id=status.id, media_id=row.id)
            else:
                target = f"status:{status.id}"
                stored = await _store(session, target, result, credential, status_id=status.id)
            if pending and waits < DIGEST_WAITS:
                stored.next_check_at = utcnow() + DIGEST_WAIT
            keep.add((target, result.credential_id or ""))
    await _forget_others(session, targets, keep)
    return waiting


async def _forget_status(session: AsyncSession, status_id: int) -> None:
    await session.exec(sa.delete(AttestationVerification).where(AttestationVerification.status_id == status_id))  # type: ignore[arg-type]


async def verify_attestations(ctx: JobContext, *, state: AppState) -> None:
    """The ``verify_attestations`` job: ``{"actor_id": N}`` or ``{"status_id": N}``."""
    payload = ctx.payload
    async with state.sessions() as session:
        actor_id = payload.get("actor_id")
        status_id = payload.get("status_id")
        if isinstance(actor_id, int):
            actor = await session.get(Actor, actor_id)
            if actor is None or actor.local:
                return
            await verify_actor(session, state, actor)
            await session.commit()
        elif isinstance(status_id, int):
            status = await session.get(Status, status_id)
            if status is None or status.local or status.deleted_at is not None:
                # Nothing to verify any more: forget the results, or their next_check_at
                # (long past) would queue this job again at every re-check.
                await _forget_status(session, status_id)
                await session.commit()
                return
            waits = payload.get("waits")
            waits = waits if isinstance(waits, int) else 0
            waiting = await verify_post(session, state, status, waits=waits)
            await session.commit()
            if waiting and waits < DIGEST_WAITS:
                await _enqueue(  # its own key: this job still holds the post's
                    state.engine, {"status_id": status_id, "waits": waits + 1}, f"status:{status_id}:wait",
                    run_at=utcnow() + DIGEST_WAIT,
                )


async def schedule_rechecks(state: AppState, *, now: datetime | None = None) -> int:
    """Queue verification again for every actor and post with a result due for re-checking
    (validity ending, cached status list expired, or an earlier error); returns how many."""
    now = now or utcnow()
    async with state.sessions() as session:
        due = (
            await session.exec(
                select(AttestationVerification.actor_id, AttestationVerification.status_id)
                .where(AttestationVerification.next_check_at <= now)  # type: ignore[operator]
                .group_by(AttestationVerification.actor_id, AttestationVerification.status_id)
                .order_by(sa.func.min(AttestationVerification.next_check_at))  # the longest overdue first
                .limit(RECHECK_BATCH)
            )
        ).all()
        queued = 0
        for actor_id, status_id in due:
            if actor_id is not None:
                await _enqueue(session, {"actor_id": actor_id}, f"actor:{actor_id}")
            elif status_id is not None:
                await _enqueue(session, {"status_id": status_id}, f"status:{status_id}")
            else:
                continue
            queued += 1
        await session.commit()
    return queued
