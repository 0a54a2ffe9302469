"""Issuing, revoking and listing the credentials this instance and its actors sign.

The CLI (``fedisora attest``), the admin API and the user endpoints call these;
each returns :class:`~fedisora.db.models.Attestation` rows and leaves the
commit to the caller.  Every issuance and revocation of an account
attestation, self-declaration or likeness consent is written to the
moderation audit log; a changed actor is announced to its followers with
``Update(actor)`` so peers re-read its attachments.

Who signs: account attestations and media provenance are issued by the
instance actor; self-declarations and likeness consent by the actor itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from instance_config import Config

from ..accounts.service import ensure_instance_actor
from ..db.ids import new_id
from ..db.models import Actor, Attestation, MediaAttachment, ModerationAuditEntry, Status, utcnow
from . import credentials, statuslist
from .signing import sign
from .vocabulary import HUMAN_METHODS, Kind, LikenessPolicy, OperatedBy, source_type_name

__all__ = [
    "AttestationError",
    "AttestationNotFound",
    "attestation_url",
    "audit",
    "get_attestation",
    "list_attestations",
    "current_attestations",
    "issue_account_attestation",
    "issue_self_declaration",
    "issue_likeness_consent",
    "issue_media_provenance",
    "revoke",
    "is_valid_now",
    "ACTION_ISSUE",
    "ACTION_REVOKE",
]

ACTION_ISSUE = "attestation.issue"
ACTION_REVOKE = "attestation.revoke"
_METHOD = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
_ACTOR_KINDS = (Kind.ACCOUNT, Kind.SELF_DECLARATION, Kind.LIKENESS_CONSENT)


class AttestationError(ValueError):
    """An attestation operation that cannot be done; the message says why."""


class AttestationNotFound(AttestationError, LookupError):
    """No attestation (or account) with that id."""


def attestation_url(config: Config, attestation_id: int) -> str:
    return f"{config.base_url}/attestations/{attestation_id}"


# ---- reading ---------------------------------------------------------------------------------


async def get_attestation(session: AsyncSession, attestation_id: int) -> Attestation | None:
    return await session.get(Attestation, attestation_id)


async def list_attestations(
    session: AsyncSession,
    *,
    subject: Actor | None = None,
    kinds: Iterable[Kind | str] | None = None,
    include_revoked: bool = True,
    limit: int = 200,
) -> list[Attestation]:
    """Issued attestations, newest first; optionally about one actor, of some kinds, unrevoked only."""
    query = select(Attestation)
    if subject is not None:
        query = query.where(Attestation.subject_actor_id == subject.id)
    if kinds is not None:
        query = query.where(col(Attestation.kind).in_([Kind(k).value for k in kinds]))
    if not include_revoked:
        query = query.where(col(Attestation.revoked_at).is_(None))
    query = query.order_by(col(Attestation.id).desc()).limit(limit)
    return list((await session.exec(query)).all())


def is_valid_now(attestation: Attestation, now: datetime | None = None) -> bool:
    """Not revoked, and ``now`` within ``valid_from``..``valid_until``."""
    now = now or utcnow()
    if attestation.revoked_at is not None or attestation.valid_from > now:
        return False
    return attestation.valid_until is None or attestation.valid_until > now


async def current_attestations(
    session: AsyncSession, subject: Actor, kinds: Sequence[Kind] = _ACTOR_KINDS
) -> list[Attestation]:
    """The valid, unrevoked attestations about ``subject`` (what its actor document carries)."""
    rows = await list_attestations(session, subject=subject, kinds=kinds, include_revoked=False)
    now = utcnow()
    return [row for row in rows if is_valid_now(row, now)]


# ---- the audit log ---------------------------------------------------------------------------


async def audit(
    session: AsyncSession, *, actor: Actor | None, action: str, target: str, details: dict[str, Any] | None = None
) -> ModerationAuditEntry:
    """Add one row to the moderation audit log (``actor`` is who did it; ``None``: the console)."""
    entry = ModerationAuditEntry(
        actor_id=actor.id if actor is not None else None, action=action, target=target, details=details or {}
    )
    session.add(entry)
    return entry


# ---- issuing ---------------------------------------------------------------------------------


async def _store(
    session: AsyncSession,
    config: Config,
    *,
    kind: Kind,
    issuer: Actor,
    build: Callable[..., dict[str, Any]],
    subject_actor: Actor | None = None,
    subject_media: MediaAttachment | None = None,
    claim: str | None = None,
    method: str | None = None,
    valid_from: datetime,
    valid_until: datetime | None = None,
) -> Attestation:
    attestation_id = new_id()
    status_list, index = await statuslist.allocate(session, issuer)
    entry = statuslist.bitstring.entry(list_url=statuslist.list_url(config, status_list.id), index=index)
    unsigned = build(id=attestation_url(config, attestation_id), status=entry)
    signed = await sign(session, issuer, unsigned)
    row = Attestation(
        id=attestation_id,
        kind=kind.value,
        issuer_id=issuer.id,
        subject_actor_id=subject_actor.id if subject_actor is not None else None,
        subject_media_id=subject_media.id if subject_media is not None else None,
        claim=claim,
        method=method,
        credential=signed,
        status_list_id=status_list.id,
        status_index=index,
        valid_from=valid_from,
        valid_until=valid_until,
    )
    session.add(row)
    await session.flush()
    return row


def _details(row: Attestation, subject: Actor | None, **extra: Any) -> dict[str, Any]:
    details: dict[str, Any] = {"kind": row.kind, "claim": row.claim}
    if subject is not None:
        details["subject"] = subject.uri
    if row.method:
        details["method"] = row.method
    details.update({k: v for k, v in extra.items() if v is not None})
    return details


async def _supersede(session: AsyncSession, subject: Actor, kind: Kind, by: Actor | None) -> None:
    for old in await list_attestations(session, subject=subject, kinds=[kind], include_revoked=False):
        await _revoke_row(session, old, by=by, reason="superseded")


def _local_subject(subject: Actor) -> None:
    if not subject.local:
        raise AttestationError(f"{subject.uri} is not a local account: an instance attests only its own accounts")
    if subject.actor_type == "Application":
        raise AttestationError("the instance actor cannot be the subject of an attestation")
    if subject.suspended_at is not None or subject.deleted_at is not None:
        raise AttestationError(f"@{subject.username} is suspended or deleted")


async def resolve_operator(session: AsyncSession, config: Config, operator: str) -> tuple[str | None, str]:
    """``(actor_uri or None, display name)`` for an operator given as ``@user@host``,
    ``user`` (local), an actor URL, or free text (an organisation's name)."""
    text = operator.strip()
    if not text or len(text) > 200:
        raise AttestationError("the operator must be 1 to 200 characters")
    if text.startswith(("https://", "http://")):
        actor = (await session.exec(select(Actor).where(Actor.uri == text))).first()
        return text, (f"@{actor.username}@{actor.domain}" if actor else text)
    handle = text.lstrip("@")
    if re.fullmatch(r"[A-Za-z0-9_.-]+(@[A-Za-z0-9.:-]+)?", handle):
        username, _, host = handle.partition("@")
        host = (host or config.instance.domain).lower()
        query = select(Actor).where(Actor.username_key == username.lower(), Actor.domain == host)
        actor = (await session.exec(query)).first()
        if actor is not None:
            return actor.uri, f"@{actor.username}@{actor.domain}"
        if "@" in handle:
            return None, f"@{username}@{host}"
        raise AttestationError(f"no account @{username} on this instance (give @user@host for a remote operator)")
    return None, text


async def issue_account_attestation(
    session: AsyncSession,
    config: Config,
    subject: Actor,
    *,
    operated_by: OperatedBy | str,
    method: str | None = None,
    operator: str | None = None,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
    by: Actor | None = None,
) -> Attestation:
    """The instance attests that ``subject`` (a local account) is operated by a human
    (``method``: how that was checked, default ``admin-vouched``) or by automation
    (``operator``: the person or organisation running it, required).  Replaces
    (revokes) the subject's earlier account attestation.  ``by`` is the admin."""
    _local_subject(subject)
    try:
        who = OperatedBy(operated_by)
    except ValueError:
        raise AttestationError(f"operated_by must be 'human' or 'automation', not {operated_by!r}") from None
    operator_uri: str | None = None
    operator_name: str | None = None
    if who is OperatedBy.HUMAN:
        method = (method or "admin-vouched").strip().lower()
        if not _METHOD.match(method):
            raise AttestationError(
                f"the method is a short lower-case word such as {', '.join(HUMAN_METHODS)}; got {method!r}"
            )
        if operator:
            raise AttestationError("an operator is given only for automated accounts")
    else:
        if method:
            raise AttestationError("a method is given only for human accounts")
        if not operator:
            raise AttestationError("an automated account's attestation names its operator (a person or organisation)")
        operator_uri, operator_name = await resolve_operator(session, config, operator)
    now = utcnow()
    start = valid_from or now
    end = valid_until if valid_until is not None else start + timedelta(days=config.attestations.account_validity_days)
    if end <= now:
        raise AttestationError("valid_until is in the past")
    if end <= start:
        raise AttestationError("valid_until must be after valid_from")
    instance = await ensure_instance_actor(session, config)
    await _supersede(session, subject, Kind.ACCOUNT, by)

    def build(*, id: str, status: dict[str, Any]) -> dict[str, Any]:
        return credentials.account_attestation(
            id=id, issuer=instance.uri, subject=subject.uri, operated_by=who, valid_from=start,
            valid_until=end, status=status, method=method if who is OperatedBy.HUMAN else None,
            operator=operator_uri, operator_name=operator_name,
        )  # fmt: skip

    row = await _store(
        session, config, kind=Kind.ACCOUNT, issuer=instance, build=build, subject_actor=subject,
        claim=who.value, method=method if who is OperatedBy.HUMAN else None, valid_from=start, valid_until=end,
    )  # fmt: skip
    await audit(
        session, actor=by, action=ACTION_ISSUE, target=f"attestation:{row.id}",
        details=_details(row, subject, operator=operator_name, valid_until=end.isoformat()),
    )  # fmt: skip
    await announce_actor(session, config, subject)
    return row


async def issue_self_declaration(
    session: AsyncSession, config: Config, actor: Actor, operated_by: OperatedBy | str
) -> Attestation:
    """``actor`` declares itself human or automated (signed with its own key); replaces its
    earlier self-declaration.  Weaker than an instance's attestation, and shown as such."""
    if not actor.local:
        raise AttestationError("only local accounts sign self-declarations here")
    try:
        who = OperatedBy(operated_by)
    except ValueError:
        raise AttestationError(f"operated_by must be 'human' or 'automation', not {operated_by!r}") from None
    await _supersede(session, actor, Kind.SELF_DECLARATION, actor)
    now = utcnow()

    def build(*, id: str, status: dict[str, Any]) -> dict[str, Any]:
        return credentials.self_declaration(id=id, actor=actor.uri, operated_by=who, valid_from=now, status=status)

    row = await _store(
        session, config, kind=Kind.SELF_DECLARATION, issuer=actor, build=build, subject_actor=actor,
        claim=who.value, valid_from=now,
    )  # fmt: skip
    await audit(session, actor=actor, action=ACTION_ISSUE, target=f"attestation:{row.id}", details=_details(row, actor))
    await announce_actor(session, config, actor)
    return row


async def issue_likeness_consent(
    session: AsyncSession,
    config: Config,
    actor: Actor,
    policy: LikenessPolicy | str,
    allowed_actors: Iterable[str] = (),
) -> Attestation:
    """``actor`` says who may generate videos showing them (``nobody``, ``followers``,
    ``named`` actors, ``everyone``); replaces its earlier consent."""
    if not actor.local:
        raise AttestationError("only local accounts sign likeness consent here")
    try:
        chosen = LikenessPolicy(policy)
    except ValueError:
        allowed = ", ".join(p.value for p in LikenessPolicy)
        raise AttestationError(f"policy must be one of {allowed}, not {policy!r}") from None
    named: list[str] = []
    for item in allowed_actors:
        uri, _name = await resolve_operator(session, config, item)
        if uri is None:
            raise AttestationError(f"unknown account {item!r}: name accounts this instance knows")
        named.append(uri)
    if chosen is LikenessPolicy.NAMED and not named:
        raise AttestationError("policy 'named' needs at least one account")
    if chosen is not LikenessPolicy.NAMED and named:
        raise AttestationError("accounts are named only with policy 'named'")
    await _supersede(session, actor, Kind.LIKENESS_CONSENT, actor)
    now = utcnow()

    def build(*, id: str, status: dict[str, Any]) -> dict[str, Any]:
        return credentials.likeness_consent(
            id=id, actor=actor.uri, policy=chosen, valid_from=now, status=status, allowed_actors=named
        )

    row = await _store(
        session, config, kind=Kind.LIKENESS_CONSENT, issuer=actor, build=build, subject_actor=actor,
        claim=chosen.value, valid_from=now,
    )  # fmt: skip
    await audit(
        session, actor=actor, action=ACTION_ISSUE, target=f"attestation:{row.id}",
        details=_details(row, actor, allowed_actors=named or None),
    )  # fmt: skip
    await announce_actor(session, config, actor)
    return row


def _generation(media: MediaAttachment) -> dict[str, Any]:
    meta = media.meta if isinstance(media.meta, dict) else {}
    value = meta.get("generation")
    return value if isinstance(value, dict) else {}


async def issue_media_provenance(session: AsyncSession, config: Config, media: MediaAttachment) -> Attestation:
    """The instance states what it knows about a local media file: its SHA-256, its
    IPTC digital source type only when known (declared, from C2PA, or generated
    here), and for media generated here the generator, model, prompt digest and
    the account it was made for (``media.meta["generation"]``: ``software``,
    ``model``, ``model_digest`` (multibase), ``prompt_digest`` (multibase) or
    ``prompt_sha256`` (hex)).  Replaces an earlier provenance of the same media."""
    if not media.sha256:
        raise AttestationError("the media has no digest yet")
    owner = await session.get(Actor, media.actor_id)
    if owner is None or not owner.local:
        raise AttestationError("provenance is issued only for media of local accounts")
    from ..convert.common import media_url  # the URL the Document's url carries

    url = media_url(config, media.file_path) if media.file_path else f"{config.base_url}/media-attachments/{media.id}"
    instance = await ensure_instance_actor(session, config)
    for old in (
        await session.exec(
            select(Attestation).where(
                Attestation.subject_media_id == media.id, col(Attestation.revoked_at).is_(None)
            )
        )
    ).all():
        await _revoke_row(session, old, by=None, reason="superseded", log=False)
    generation = _generation(media)
    prompt_digest = generation.get("prompt_digest")
    if not prompt_digest and isinstance(generation.get("prompt_sha256"), str):
        prompt_digest = credentials.digest_multibase(generation["prompt_sha256"])
    source = source_type_name(media.digital_source_type)
    generated = bool(generation) and source in (None, "trainedAlgorithmicMedia")
    if generated and source is None:
        source = "trainedAlgorithmicMedia"
    status_uri = None
    if media.status_id is not None:
        status = await session.get(Status, media.status_id)
        status_uri = status.uri if status is not None else None
    now = utcnow()

    def build(*, id: str, status: dict[str, Any]) -> dict[str, Any]:
        return credentials.media_provenance(
            id=id, issuer=instance.uri, media=url, sha256_hex=media.sha256 or "", valid_from=now, status=status,
            media_type=media.mime_type, digital_source_type=source,
            uploaded_by=None if generated else owner.uri, generated_for=owner.uri if generated else None,
            attached_to=status_uri, software=_text(generation.get("software")), model=_text(generation.get("model")),
            model_digest=_text(generation.get("model_digest")), prompt_digest=_text(prompt_digest),
        )  # fmt: skip

    return await _store(
        session, config, kind=Kind.MEDIA_PROVENANCE, issuer=instance, build=build, subject_media=media,
        claim=source, valid_from=now,
    )  # fmt: skip


def _text(value: Any) -> str | None:
    return value[:500] if isinstance(value, str) and value else None


# ---- revoking --------------------------------------------------------------------------------


async def _revoke_row(
    session: AsyncSession, row: Attestation, *, by: Actor | None, reason: str | None, log: bool = True
) -> None:
    row.revoked_at = utcnow()
    session.add(row)
    if row.status_list_id is not None and row.status_index is not None:
        await statuslist.set_status(session, row.status_list_id, row.status_index, True)
    if log:
        subject = await session.get(Actor, row.subject_actor_id) if row.subject_actor_id else None
        await audit(
            session, actor=by, action=ACTION_REVOKE, target=f"attestation:{row.id}",
            details=_details(row, subject, reason=reason),
        )  # fmt: skip


async def revoke(
    session: AsyncSession,
    config: Config,
    attestation_id: int,
    *,
    by: Actor | None = None,
    reason: str | None = None,
    owner: Actor | None = None,
) -> tuple[Attestation, bool]:
    """Revoke one attestation: set its bit in the issuer's status list, log it, announce
    the subject's changed actor.  ``owner``, when given, must be the issuer (a user
    revoking their own self-declaration or consent).  Returns ``(row, changed)``:
    ``changed`` is ``False`` when it was already revoked."""
    row = await session.get(Attestation, attestation_id)
    if row is None or (owner is not None and row.issuer_id != owner.id):
        raise AttestationNotFound(f"no attestation with id {attestation_id}")
    if row.revoked_at is not None:
        return row, False
    await _revoke_row(session, row, by=by, reason=reason)
    await session.flush()
    if row.subject_actor_id is not None:
        subject = await session.get(Actor, row.subject_actor_id)
        if subject is not None:
            await announce_actor(session, config, subject)
    return row, True


# ---- telling peers ---------------------------------------------------------------------------


async def announce_actor(session: AsyncSession, config: Config, actor: Actor) -> None:
    """Queue ``Update(actor)`` to the followers of a local actor whose attestations changed."""
    if not actor.local or actor.actor_type == "Application":
        return
    from ..processing.accounts import publish_profile_update

    await session.flush()
    await publish_profile_update(session, config, actor)
