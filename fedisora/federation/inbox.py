"""Receiving activities: verify, store durably, answer 202; a job processes them later.

Nothing is stored unless the HTTP signature verifies with a key that belongs
to the activity's actor.  The same activity id arriving twice is stored once
and processed once.

FEP-8b32 object integrity proofs are verified when present: a proof that does
not verify is refused (401), one of a cryptosuite we do not support is logged
and ignored.  An activity forwarded or relayed by someone else (the HTTP
signature is theirs) is accepted on a valid proof made by its actor's key;
without one, its origin must confirm it (:func:`confirmed_at_origin`).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from activitypub import safejson
from activitypub.extract import has_type, id_of, ids_of, same_origin
from activitypub.integrity import verification_method_of
from activitypub.client import GoneError, NotFoundError
from activitypub.signatures import SignatureError, parse_signature, verify_signature

from ..db import upsert
from ..db.ids import new_id
from ..db.models import Activity, ActivityState, utcnow
from ..errors import APIError
from ..jobs import queue
from ..state import AppState
from .outbox import PROCESS_INBOX, host_of
from .proofs import ProofError, verify_document
from .remote import RemoteError, fetch, find_key

log = logging.getLogger(__name__)

ACTIVITY_MEDIA_TYPES = {"application/activity+json", "application/ld+json", "application/json"}
# Objects whose embedded copy must come from the actor's own server.
AUTHORED_ACTIVITIES = ("Create", "Update")


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise APIError(413, f"activity too large: {declared} bytes, the limit is {limit}")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise APIError(413, f"activity too large: more than {limit} bytes")
    return bytes(body)


def parse_activity(request: Request, body: bytes) -> dict[str, Any]:
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type not in ACTIVITY_MEDIA_TYPES:
        raise APIError(415, "activities must be sent as application/activity+json")
    try:
        activity = safejson.loads(body)
    except safejson.JSONRejected as exc:
        raise APIError(400, f"the body is not valid JSON: {exc.reason}") from None
    if not isinstance(activity, dict):
        raise APIError(400, "an activity must be a JSON object")
    activity_id, actor = id_of(activity.get("id")), id_of(activity.get("actor"))
    if not activity_id or not isinstance(activity.get("type"), (str, list)):
        raise APIError(400, "an activity needs an id and a type")
    if not actor:
        raise APIError(400, "an activity needs an actor")
    if not same_origin(activity_id, actor):
        raise APIError(400, f"activity id {activity_id} is not on its actor's server")
    obj = activity.get("object")
    if has_type(activity, *AUTHORED_ACTIVITIES) and isinstance(obj, dict):
        object_id = id_of(obj.get("id"))
        if not object_id or not same_origin(object_id, actor):
            raise APIError(400, f"object {object_id} is not on its actor's server")
        # A list is allowed when it names the actor (PeerTube: [channel Group, account Person]).
        authors = ids_of(obj.get("attributedTo"))
        if authors and actor not in authors and not has_type(obj, "Person", "Service", "Application", "Group", "Organization"):
            raise APIError(400, "the object's attributedTo is not the activity's actor")
    return activity


def _is_self_delete(activity: dict[str, Any]) -> bool:
    return has_type(activity, "Delete") and id_of(activity.get("object")) == id_of(activity.get("actor"))


async def authenticate(
    request: Request, session: AsyncSession, state: AppState, activity: dict[str, Any], body: bytes
) -> str | None:
    """Verify the HTTP signature; the verified actor's id, or ``None`` for a gone actor's Delete."""
    url = f"{state.config.base_url}{request.url.path}"
    if request.url.query:
        url += f"?{request.url.query}"
    try:
        parsed = parse_signature(request.method, url, request.headers)
    except SignatureError as exc:
        raise APIError(401, f"signature required: {exc.reason}") from None
    fed = state.config.federation
    actor = id_of(activity.get("actor"))
    try:
        key, owner = await find_key(session, state, parsed.key_id)
    except RemoteError as exc:
        if _is_self_delete(activity) and parsed.key_id.split("#")[0].startswith(str(actor)):
            return None  # the account is gone, and so is its key: nothing left to verify or keep
        raise APIError(401, f"cannot get the signing key: {exc}") from None
    for attempt in (1, 2):
        try:
            assert key.public_key_pem is not None
            verify_signature(
                parsed, key.public_key_pem, body, max_age=fed.signature_max_age, max_future=fed.signature_max_future,
                origin=state.config.base_url,
            )
            break
        except SignatureError as exc:
            if attempt == 2 or exc.code not in ("bad_signature", "key_mismatch", "bad_key"):
                raise APIError(401, f"signature does not verify: {exc.reason}") from None
            try:  # the peer may have rotated its key: fetch it once more
                key, owner = await find_key(session, state, parsed.key_id, refresh=True)
            except RemoteError as fetch_error:
                raise APIError(401, f"signature does not verify: {fetch_error}") from None
    proven_by = await check_proof(session, state, activity, "the activity's")
    if owner.uri == actor or proven_by == actor:
        await check_object_proof(session, state, activity)
    elif not await confirmed_at_origin(session, state, activity):  # the object was replaced by its origin's copy
        raise APIError(401, f"signed by {owner.uri}, but the activity's actor is {actor}")
    return str(actor)


async def check_proof(session: AsyncSession, state: AppState, document: dict[str, Any], what: str) -> str | None:
    """The actor whose key made ``document``'s valid proof; ``None`` without a proof we can check.

    A proof that does not verify is a 401; an unsupported one is logged and ignored,
    and so is one made with a DID key (FEP-ef61 portable objects): a DID names no
    actor of an http(s) server, so it cannot vouch for one here.
    """
    if document.get("proof") is None:
        return None
    method = verification_method_of(document)
    if method is not None and method.startswith("did:"):
        log.info("ignoring the proof of %s: made with %s, not an actor's key", id_of(document.get("id")), method)
        return None
    try:
        return await verify_document(state, session, document)
    except ProofError as exc:
        if exc.code == "unsupported":
            log.info("ignoring the proof of %s: %s", id_of(document.get("id")), exc)
            return None
        raise APIError(401, f"{what} proof does not verify ({exc.code}): {exc}") from None


async def check_object_proof(session: AsyncSession, state: AppState, activity: dict[str, Any]) -> None:
    """Verify the proof of a Create/Update's embedded object, when it has one: it must be its author's.

    The activity itself is already vouched for (its actor's HTTP signature or proof), so an
    embedded copy whose proof fails is not refused outright: it is replaced by the copy its
    origin serves (:func:`confirmed_at_origin`), as a boost's embedded copy is.  Fedify 2.3.6
    drops the embedded proof's ``@context``, which no verifier can then check.  401 when the
    origin does not confirm the object either.
    """
    obj = activity.get("object")
    if not has_type(activity, *AUTHORED_ACTIVITIES) or not isinstance(obj, dict) or obj.get("proof") is None:
        return
    try:
        controller = await check_proof(session, state, obj, "the object's")
        if controller is not None and controller not in ids_of(obj.get("attributedTo")) + [id_of(activity.get("actor"))]:
            raise APIError(401, f"the object's proof was made by {controller}, not by its author")
    except APIError as exc:
        if not await confirmed_at_origin(session, state, activity):
            raise
        log.info("embedded copy of %s replaced by its origin's: %s", id_of(obj.get("id")), exc.message)


async def confirmed_at_origin(session: AsyncSession, state: AppState, activity: dict[str, Any]) -> bool:
    """Accept an activity forwarded or relayed by someone else when its origin confirms it.

    For a Create/Update the object is fetched from its own server and replaces
    the copy we were sent (so nothing the forwarder changed survives); a Delete
    is confirmed when the object's server answers 404/410.
    """
    actor = id_of(activity.get("actor"))
    object_id = id_of(activity.get("object"))
    if not actor or not object_id or not same_origin(object_id, actor):
        return False
    if has_type(activity, *AUTHORED_ACTIVITIES):
        try:
            fetched = await fetch(session, state, object_id)
        except RemoteError:
            return False
        obj = fetched.data
        if id_of(obj.get("id")) != object_id or actor not in ids_of(obj.get("attributedTo")):
            return False
        activity["object"] = obj
        return True
    if has_type(activity, "Delete"):
        try:
            await fetch(session, state, object_id)
        except RemoteError as exc:
            return isinstance(exc.__cause__, (GoneError, NotFoundError))
    return False


async def store(session: AsyncSession, activity: dict[str, Any]) -> int | None:
    """Store a received activity once; its row id, or ``None`` when we already had it."""
    values = {
        "id": new_id(),
        "uri": id_of(activity["id"]),
        "activity_type": str(activity["type"] if isinstance(activity["type"], str) else activity["type"][0]),
        "actor_uri": id_of(activity.get("actor")),
        "object_uri": id_of(activity.get("object")),
        "local": False,
        "raw": activity,
        "state": ActivityState.RECEIVED.value,
        "received_at": utcnow(),
    }
    inserted = await upsert.insert_missing(session, Activity.__table__, values)  # type: ignore[attr-defined]
    return values["id"] if inserted else None


async def receive(request: Request, state: AppState) -> Response:
    """The whole inbox POST: 202 once the activity is safely stored, a 4xx otherwise."""
    body = await read_body(request, state.config.federation.max_body_bytes)
    activity = parse_activity(request, body)
    host = host_of(str(id_of(activity.get("actor"))))
    if state.config.moderation.is_blocked(host):
        raise APIError(403, f"{host} is blocked by this instance")
    async with state.sessions() as session:
        verified = await authenticate(request, session, state, activity, body)
        if verified is not None:
            activity_row = await store(session, activity)
            if activity_row is not None:
                await queue.enqueue(session, PROCESS_INBOX, {"activity_id": activity_row}, dedupe_key=f"{PROCESS_INBOX}:{activity_row}")
        await session.commit()
    return Response(status_code=202)
