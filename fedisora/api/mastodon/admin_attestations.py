"""Attestation endpoints: admins issue and revoke account attestations; people sign their
own self-declaration and likeness consent.

Admin (``User.is_admin`` and an ``admin:*`` scope; 403 otherwise, 401 without a token)::

    POST   /api/v1/admin/accounts/:id/attestations   kind=human|automated, method, operator,
                                                      valid_until (ISO 8601), reason
    GET    /api/v1/admin/accounts/:id/attestations   (include_revoked=false to hide revoked)
    GET    /api/v1/admin/attestations                every attestation, newest first (limit ≤ 200)
    GET    /api/v1/admin/attestations/:id
    DELETE /api/v1/admin/attestations/:id            revoke (reason); answers the revoked entity

The caller's own (scopes ``read:accounts`` / ``write:accounts``)::

    GET|POST|DELETE /api/v1/fedisora/self_declaration   operated_by=human|automation
    GET|POST|DELETE /api/v1/fedisora/likeness_consent   policy=nobody|followers|named|everyone,
                                                        accounts[]=@user@host (for "named")

Every issuance and revocation is written to the moderation audit log by the service.
Answers are ``Attestation`` entities (:func:`entity`).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from sqlmodel.ext.asyncio.session import AsyncSession

from ...attestations import service
from ...attestations.vocabulary import Kind, OperatedBy
from ...convert.common import iso_or_none
from ...db.models import Actor, Attestation
from ...errors import APIError
from .accounts import RECORD_NOT_FOUND, _id_value, _int_param, _json, _me, _route, _state, bool_param
from .auth import Auth, authenticate, request_params, text_param

__all__ = ["routes", "entity"]

NOT_ADMIN = "This action is not allowed"
LIST_LIMIT = (100, 200)  # default, most
_KINDS = {"human": OperatedBy.HUMAN, "automated": OperatedBy.AUTOMATION, "automation": OperatedBy.AUTOMATION}


def entity(row: Attestation, subject: Actor | None = None) -> dict[str, Any]:
    """An attestation as the API shows it (the signed credential included)."""
    credential = row.credential
    claim = credential.get("credentialSubject", {}) if isinstance(credential, dict) else {}
    return {
        "id": str(row.id),
        "kind": row.kind,
        "claim": row.claim,
        "method": row.method,
        "operator": claim.get("operatorName") or claim.get("operator"),
        "issuer": credential.get("issuer"),
        "account_id": str(row.subject_actor_id) if row.subject_actor_id is not None else None,
        "acct": f"{subject.username}@{subject.domain}" if subject is not None else None,
        "media_attachment_id": str(row.subject_media_id) if row.subject_media_id is not None else None,
        "url": credential.get("id"),
        "valid_from": iso_or_none(row.valid_from),
        "valid_until": iso_or_none(row.valid_until),
        "revoked_at": iso_or_none(row.revoked_at),
        "created_at": iso_or_none(row.created_at),
        "credential": credential,
    }


async def _entities(session: AsyncSession, rows: list[Attestation]) -> list[dict[str, Any]]:
    cache: dict[int, Actor | None] = {}
    out = []
    for row in rows:
        subject = None
        if row.subject_actor_id is not None:
            if row.subject_actor_id not in cache:
                cache[row.subject_actor_id] = await session.get(Actor, row.subject_actor_id)
            subject = cache[row.subject_actor_id]
        out.append(entity(row, subject))
    return out


def _error(exc: service.AttestationError) -> APIError:
    if isinstance(exc, service.AttestationNotFound):
        return APIError(404, RECORD_NOT_FOUND)
    return APIError(422, f"Validation failed: {exc}")


async def _admin(request: Request, scope: str) -> Auth:
    auth = await authenticate(request, scope=scope)
    if auth.user is None or not auth.user.is_admin:
        raise APIError(403, NOT_ADMIN)
    return auth


async def _local_account(session: AsyncSession, raw_id: Any) -> Actor:
    actor_id = _id_value(raw_id)
    actor = await session.get(Actor, actor_id) if actor_id is not None else None
    if actor is None:
        raise APIError(404, RECORD_NOT_FOUND)
    return actor


def _datetime(params: dict[str, Any], name: str) -> datetime | None:
    text = text_param(params, name)
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise APIError(422, f"Validation failed: {name} is not an ISO 8601 date-time") from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _include_revoked(params: dict[str, Any]) -> bool:
    value = bool_param(params, "include_revoked")  # garbage is a 422
    return True if value is None else value


def _handles(params: dict[str, Any]) -> list[str]:
    """``accounts[]``: one handle or a list of them (a JSON body keeps its types: check them)."""
    value = params.get("accounts")
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(a, str) for a in value):
        return list(value)
    raise APIError(422, "Validation failed: accounts must be a list of account handles")


# ---- admin -----------------------------------------------------------------------------------


async def issue(request: Request) -> Response:
    auth = await _admin(request, "admin:write:accounts")
    params = await request_params(request)
    kind = (text_param(params, "kind") or "").strip().lower()
    if kind not in _KINDS:
        raise APIError(422, "Validation failed: kind must be human or automated")
    state = _state(request)
    async with state.sessions() as session:
        admin = await _me(session, auth)
        subject = await _local_account(session, request.path_params["id"])
        try:
            row = await service.issue_account_attestation(
                session,
                state.config,
                subject,
                operated_by=_KINDS[kind],
                method=text_param(params, "method") or None,
                operator=text_param(params, "operator") or None,
                valid_until=_datetime(params, "valid_until"),
                by=admin,
            )
        except service.AttestationError as exc:
            raise _error(exc) from None
        await session.commit()
        return _json(entity(row, subject))


async def account_attestations(request: Request) -> Response:
    auth = await _admin(request, "admin:read:accounts")
    params = await request_params(request)
    async with _state(request).sessions() as session:
        await _me(session, auth)
        subject = await _local_account(session, request.path_params["id"])
        rows = await service.list_attestations(
            session, subject=subject, include_revoked=_include_revoked(params)
        )
        return _json([entity(r, subject) for r in rows])


async def all_attestations(request: Request) -> Response:
    auth = await _admin(request, "admin:read:accounts")
    params = await request_params(request)
    limit = max(1, min(_int_param(params, "limit", LIST_LIMIT[0]), LIST_LIMIT[1]))
    kinds = None
    kind = text_param(params, "kind")
    if kind:
        try:
            kinds = [Kind(kind)]
        except ValueError:
            raise APIError(422, f"Validation failed: kind must be one of {', '.join(k.value for k in Kind)}") from None
    async with _state(request).sessions() as session:
        await _me(session, auth)
        rows = await service.list_attestations(
            session, kinds=kinds, include_revoked=_include_revoked(params), limit=limit
        )
        return _json(await _entities(session, rows))


async def show_attestation(request: Request) -> Response:
    auth = await _admin(request, "admin:read:accounts")
    async with _state(request).sessions() as session:
        await _me(session, auth)
        attestation_id = _id_value(request.path_params["id"])
        row = await service.get_attestation(session, attestation_id) if attestation_id is not None else None
        if row is None:
            raise APIError(404, RECORD_NOT_FOUND)
        return _json((await _entities(session, [row]))[0])


async def revoke(request: Request) -> Response:
    auth = await _admin(request, "admin:write:accounts")
    params = await request_params(request)
    state = _state(request)
    async with state.sessions() as session:
        admin = await _me(session, auth)
        attestation_id = _id_value(request.path_params["id"])
        if attestation_id is None:
            raise APIError(404, RECORD_NOT_FOUND)
        try:
            row, _changed = await service.revoke(
                session, state.config, attestation_id, by=admin, reason=text_param(params, "reason") or None
            )
        except service.AttestationError as exc:
            raise _error(exc) from None
        await session.commit()
        return _json((await _entities(session, [row]))[0])


# ---- the caller's own ------------------------------------------------------------------------


async def _own(request: Request, kind: Kind) -> Response:
    scope = "read:accounts" if request.method in ("GET", "HEAD") else "write:accounts"
    auth = await authenticate(request, scope=scope)
    params = await request_params(request)
    state = _state(request)
    async with state.sessions() as session:
        me = await _me(session, auth)
        current = await service.list_attestations(session, subject=me, kinds=[kind], include_revoked=False, limit=1)
        try:
            if request.method == "POST":
                if kind is Kind.SELF_DECLARATION:
                    row = await service.issue_self_declaration(
                        session, state.config, me, text_param(params, "operated_by") or ""
                    )
                else:
                    row = await service.issue_likeness_consent(
                        session, state.config, me, text_param(params, "policy") or "", _handles(params)
                    )
                await session.commit()
                return _json(entity(row, me))
            if not current or current[0].issuer_id != me.id:
                raise APIError(404, RECORD_NOT_FOUND)
            if request.method == "DELETE":
                row, _changed = await service.revoke(session, state.config, current[0].id, by=me, owner=me)
                await session.commit()
                return _json(entity(row, me))
            return _json(entity(current[0], me))
        except service.AttestationError as exc:
            raise _error(exc) from None


async def self_declaration(request: Request) -> Response:
    return await _own(request, Kind.SELF_DECLARATION)


async def likeness_consent(request: Request) -> Response:
    return await _own(request, Kind.LIKENESS_CONSENT)


routes: list[BaseRoute] = [
    _route("/api/v1/admin/accounts/{id}/attestations", issue, ["POST"]),
    _route("/api/v1/admin/accounts/{id}/attestations", account_attestations, ["GET"]),
    _route("/api/v1/admin/attestations", all_attestations, ["GET"]),
    _route("/api/v1/admin/attestations/{id}", show_attestation, ["GET"]),
    _route("/api/v1/admin/attestations/{id}", revoke, ["DELETE"]),
    _route("/api/v1/fedisora/self_declaration", self_declaration, ["GET", "POST", "DELETE"]),
    _route("/api/v1/fedisora/likeness_consent", likeness_consent, ["GET", "POST", "DELETE"]),
]
