"""Authenticating Mastodon API requests with OAuth bearer tokens.  Every endpoint uses this::

    auth = await authenticate(request, scope="read:statuses")   # a user token with that scope
    auth = await authenticate(request, user_required=False)     # an app token is enough
    auth = await optional_auth(request, scope="read:statuses")  # public, more when logged in

The token comes from ``Authorization: Bearer …`` or, as Mastodon accepts, an
``access_token`` query or form parameter.  Failures are :class:`APIError` with
Mastodon's statuses and wording: 401 "The access token is invalid" (missing,
unknown or revoked token, or a suspended account), 403 "This action is
outside the authorized scopes", 422 "This method requires an authenticated
user" (an app-only token where a user is needed).

:func:`request_params` reads a request's parameters from the query string, a
JSON body, an urlencoded body or a multipart form (text fields only), without
python-multipart.
"""

from __future__ import annotations

import email.parser
import email.policy
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request

from activitypub import safejson

from ...db.models import Actor, User
from ...errors import APIError
from ...oauth import tokens
from ...oauth.scopes import satisfies
from ...state import AppState

log = logging.getLogger(__name__)

INVALID_TOKEN = "The access token is invalid"
OUTSIDE_SCOPES = "This action is outside the authorized scopes"
USER_REQUIRED = "This method requires an authenticated user"
PENDING_APPROVAL = "Your login is currently pending approval"

MAX_BODY = 1024 * 1024  # parameters, not uploads
_BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class Auth:
    """Who is calling: the token, its app, and its user and actor (``None`` for app-only tokens)."""

    token_id: int
    application_id: int
    user: User | None
    actor: Actor | None
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        return satisfies(self.scopes, scope)


# ---- parameters ------------------------------------------------------------------------------


def _add(params: dict[str, Any], key: str, value: Any) -> None:
    """Rails-style: ``name[]`` fields (and repeated fields) become lists."""
    if key.endswith("[]"):
        params.setdefault(key[:-2], [])
        if isinstance(params[key[:-2]], list):
            params[key[:-2]].append(value)
        return
    if key in params:
        existing = params[key]
        params[key] = [*existing, value] if isinstance(existing, list) else [existing, value]
    else:
        params[key] = value


def _multipart_fields(content_type: str, body: bytes) -> list[tuple[str, str]]:
    header = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(header + body)
    fields: list[tuple[str, str]] = []
    if not message.is_multipart():
        raise ValueError("not a multipart body")
    for part in message.iter_parts():  # type: ignore[attr-defined]
        name = part.get_param("name", header="content-disposition")
        if not name or part.get_filename() is not None:
            continue  # files are for the endpoints that take uploads
        payload = part.get_payload(decode=True) or b""
        fields.append((str(name), payload.decode(part.get_content_charset() or "utf-8", "replace")))
    return fields


async def request_params(request: Request) -> dict[str, Any]:
    """Query parameters updated with the body's (JSON object, urlencoded or multipart text
    fields).  Values are strings, or lists for ``name[]``/repeated fields (JSON keeps its types).
    Raises ``APIError(400)`` for a malformed or oversized body."""
    params: dict[str, Any] = {}
    for key, value in request.query_params.multi_items():
        _add(params, key, value)
    if request.method not in _BODY_METHODS:
        return params
    body = getattr(request.state, "fedisora_body_params", None)
    if body is None:
        body = await _body_params(request)
        request.state.fedisora_body_params = body
    if isinstance(body, dict):
        params.update(body)
    else:
        fields: dict[str, Any] = {}
        for key, value in body:
            _add(fields, key, value)
        params.update(fields)
    return params


async def _body_params(request: Request) -> dict[str, Any] | list[tuple[str, str]]:
    content_type = request.headers.get("content-type", "")
    mime = content_type.split(";", 1)[0].strip().lower()
    if mime not in ("application/json", "application/x-www-form-urlencoded", "multipart/form-data") and not mime.endswith("+json"):
        return []
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_BODY:
        raise APIError(413, "Request body is too large")
    body = await request.body()
    if len(body) > MAX_BODY:
        raise APIError(413, "Request body is too large")
    try:
        if mime == "application/x-www-form-urlencoded":
            return checked_fields(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        if mime == "multipart/form-data":
            return checked_fields(_multipart_fields(content_type, body))
        if not body.strip():
            return {}
        data = safejson.loads(body)
    except safejson.JSONRejected as exc:
        raise APIError(400, f"Error while parsing request body: {exc.reason}") from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise APIError(400, "Error while parsing request body") from exc
    if not isinstance(data, dict):
        raise APIError(400, "Error while parsing request body")
    return data


def checked_fields(fields: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Form fields as they are, or ``APIError(400)`` for text no database can store
    (JSON bodies get the same check in :func:`activitypub.safejson.loads`)."""
    for name, value in fields:
        problem = safejson.unstorable(name) or safejson.unstorable(value)
        if problem is not None:
            raise APIError(400, f"Invalid parameter {safejson.printable(name)!r}: it holds {problem}")
    return fields


def checked_form(fields: dict[str, Any]) -> dict[str, Any]:
    """A multipart form's ``fields`` (a name to a value or a list of them) as they are, or
    ``APIError(400)`` as in :func:`checked_fields`."""
    checked_fields([(k, v) for k, vs in fields.items() for v in (vs if isinstance(vs, list) else [vs])])
    return fields


def text_param(params: dict[str, Any], name: str) -> str | None:
    """A parameter as one string (the last value of a list); ``None`` when absent."""
    value = params.get(name)
    if isinstance(value, list):
        value = value[-1] if value else None
    if value is None or isinstance(value, (dict, list)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# ---- tokens ----------------------------------------------------------------------------------


async def bearer_token(request: Request) -> str | None:
    """The access token the request carries, if any."""
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    token = request.query_params.get("access_token")
    if token:
        return token
    if request.method in _BODY_METHODS:
        try:
            return text_param(await request_params(request), "access_token") or None
        except APIError:
            return None
    return None


async def _lookup(request: Request, token: str) -> tokens.TokenOwner | None:
    cache_key = "fedisora_token_owner"
    cached = getattr(request.state, cache_key, None)
    if cached is not None and cached[0] == token:
        return cached[1]  # type: ignore[no-any-return]
    state: AppState = request.app.state.fedisora
    async with state.sessions() as session:
        owner = await tokens.find_token(session, token)
    if owner is not None and tokens.needs_touch(owner.token):
        try:  # its own short transaction; a busy database must not fail the request
            async with state.sessions() as session:
                await tokens.touch(session, owner.token)
                await session.commit()
        except SQLAlchemyError:
            log.warning("could not record the use of token %s", owner.token.id, exc_info=True)
    setattr(request.state, cache_key, (token, owner))
    return owner


def _usable(owner: tokens.TokenOwner) -> bool:
    if owner.token.user_id is None:
        return True
    actor = owner.actor
    return (
        owner.user is not None
        and actor is not None
        and actor.suspended_at is None
        and actor.deleted_at is None
    )


def _check(owner: tokens.TokenOwner | None, scope: str | None, user_required: bool) -> Auth:
    if owner is None or not _usable(owner):
        raise APIError(401, INVALID_TOKEN)
    auth = Auth(
        token_id=owner.token.id,
        application_id=owner.application.id,
        user=owner.user,
        actor=owner.actor,
        scopes=frozenset(owner.token.scopes.split()),
    )
    if scope is not None and not auth.allows(scope):
        raise APIError(403, OUTSIDE_SCOPES)
    if user_required:
        if auth.user is None:
            raise APIError(422, USER_REQUIRED)
        if not auth.user.approved:
            raise APIError(403, PENDING_APPROVAL)
    return auth


async def authenticate(
    request: Request, *, scope: str | None = None, user_required: bool = True
) -> Auth:
    """The caller's :class:`Auth`, or :class:`APIError` (401, 403 or 422; see the module doc)."""
    token = await bearer_token(request)
    if not token:
        raise APIError(401, INVALID_TOKEN)
    return _check(await _lookup(request, token), scope, user_required)


async def optional_auth(request: Request, *, scope: str | None = None) -> Auth | None:
    """``None`` without a token; with one, as :func:`authenticate` without requiring a user
    (a bad token is still 401, a token without ``scope`` still 403, as on Mastodon)."""
    token = await bearer_token(request)
    if not token:
        return None
    return _check(await _lookup(request, token), scope, False)
