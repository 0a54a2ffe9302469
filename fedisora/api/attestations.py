"""The credentials we issue, at their own URLs: ``/attestations/ID`` and ``/status-lists/ID``.

Both are public (anyone may verify), CORS-open, and cacheable for a short
while: ``[attestations] status_list_ttl_seconds``, so a revocation reaches
verifiers within that time.  A revoked credential is still served: its
status list says it is revoked.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ..attestations import statuslist
from ..attestations.service import get_attestation
from ..db.models import StatusList
from ..errors import APIError
from ..state import AppState

__all__ = ["routes", "credential_response", "VC_CONTENT_TYPE"]

VC_CONTENT_TYPE = "application/vc+ld+json"
# In order of preference when the client names them in Accept.
_TYPES = (VC_CONTENT_TYPE, "application/vc", "application/ld+json", "application/activity+json", "application/json")
NOT_FOUND = "Record not found"
_MAX_ID = 2**63 - 1


def _state(request: Request) -> AppState:
    return request.app.state.fedisora  # type: ignore[no-any-return]


def _id(request: Request) -> int:
    raw = str(request.path_params["id"])
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19 or int(raw) > _MAX_ID:
        raise APIError(404, NOT_FOUND)
    return int(raw)


def _media_type(request: Request) -> str:
    accept = request.headers.get("accept", "").lower()
    for media_type in _TYPES:
        if media_type in accept:
            return media_type
    return VC_CONTENT_TYPE


def credential_response(request: Request, document: dict[str, Any]) -> Response:
    """``document`` as JSON with the content type the client asked for, CORS and a short cache."""
    max_age = int(_state(request).config.attestations.status_list_ttl_seconds)
    return JSONResponse(
        document,
        media_type=_media_type(request),
        headers={
            "Cache-Control": f"public, max-age={max_age}",
            "Access-Control-Allow-Origin": "*",
            "Vary": "Accept",
        },
    )


async def attestation(request: Request) -> Response:
    attestation_id = _id(request)
    async with _state(request).sessions() as session:
        row = await get_attestation(session, attestation_id)
        if row is None:
            raise APIError(404, NOT_FOUND)
        return credential_response(request, row.credential)


async def status_list(request: Request) -> Response:
    list_id = _id(request)
    state = _state(request)
    async with state.sessions() as session:
        found = await session.get(StatusList, list_id)
        if found is None:
            raise APIError(404, NOT_FOUND)
        fresh = found.credential is None
        document = await statuslist.list_credential(session, state.config, found)
        if fresh:
            await session.commit()
        return credential_response(request, document)


routes: list[BaseRoute] = [
    Route("/attestations/{id}", attestation, methods=["GET", "HEAD"]),
    Route("/status-lists/{id}", status_list, methods=["GET", "HEAD"]),
]
