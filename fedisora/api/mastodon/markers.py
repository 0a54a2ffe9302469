"""Timeline read positions (docs.joinmastodon.org/methods/markers).

``GET /api/v1/markers?timeline[]=home&timeline[]=notifications`` answers an object
with the markers asked for that exist; ``POST /api/v1/markers`` with
``home[last_read_id]`` and/or ``notifications[last_read_id]`` (form fields, or
nested JSON objects) saves them, raising each one's ``version`` by one, and
answers the markers it saved.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from ... import convert
from ...db.models import Marker, utcnow
from ...errors import APIError
from ...state import AppState
from .auth import authenticate, request_params, text_param
from .statuses import CORS, endpoint

__all__ = ["routes", "TIMELINES"]

TIMELINES = ("home", "notifications")
_MAX_BIGINT = 2**63 - 1


def _state(request: Request) -> AppState:
    return request.app.state.fedisora  # type: ignore[no-any-return]


def _entity(marker: Marker) -> dict[str, Any]:
    return convert.marker(marker.last_read_id, marker.version, marker.updated_at)


async def get_markers(request: Request) -> Response:
    auth = await authenticate(request, scope="read:statuses")
    assert auth.user is not None
    params = await request_params(request)
    asked = params.get("timeline")
    names = asked if isinstance(asked, list) else ([asked] if isinstance(asked, str) else [])
    names = [n for n in names if n in TIMELINES]
    if not names:
        return JSONResponse({}, headers=CORS)
    async with _state(request).sessions() as session:
        rows = (
            await session.exec(
                select(Marker).where(Marker.user_id == auth.user.id, Marker.timeline.in_(names))  # type: ignore[attr-defined]
            )
        ).all()
        data = {row.timeline: _entity(row) for row in rows}
    return JSONResponse(data, headers=CORS)


def _last_read_id(params: dict[str, Any], timeline: str) -> str | None:
    """``timeline[last_read_id]`` (form) or ``{"timeline": {"last_read_id": …}}`` (JSON)."""
    nested = params.get(timeline)
    if isinstance(nested, dict):
        value = nested.get("last_read_id")
        if value is None:
            raise APIError(422, "Validation failed: Last read can't be blank")
    else:
        value = text_param(params, f"{timeline}[last_read_id]")
        if value is None:
            return None
    text = str(value).strip()
    if not text:
        raise APIError(422, "Validation failed: Last read can't be blank")
    if not text.isascii() or not text.isdigit() or int(text) > _MAX_BIGINT:
        raise APIError(422, "Validation failed: Last read is invalid")
    return str(int(text))


async def _save(session: AsyncSession, user_id: int, timeline: str, last_read_id: str) -> Marker:
    marker = (
        await session.exec(select(Marker).where(Marker.user_id == user_id, Marker.timeline == timeline))
    ).first()
    if marker is None:
        marker = Marker(user_id=user_id, timeline=timeline, last_read_id=last_read_id)
    else:
        marker.last_read_id = last_read_id
        marker.version += 1
        marker.updated_at = utcnow()
    session.add(marker)
    await session.flush()
    return marker


async def set_markers(request: Request) -> Response:
    auth = await authenticate(request, scope="write:statuses")
    assert auth.user is not None
    params = await request_params(request)
    wanted = {t: v for t in TIMELINES if (v := _last_read_id(params, t)) is not None}
    data: dict[str, Any] = {}
    async with _state(request).sessions() as session:
        for attempt in range(2):
            try:
                saved = [await _save(session, auth.user.id, t, v) for t, v in wanted.items()]
                await session.commit()
                break
            except IntegrityError:  # a concurrent first save of the same marker: update it instead
                await session.rollback()
                if attempt:
                    raise APIError(409, "Conflict during update, please try again") from None
        for marker in saved:
            await session.refresh(marker)
            data[marker.timeline] = _entity(marker)
    return JSONResponse(data, headers=CORS)


routes: list[BaseRoute] = [
    endpoint("/api/v1/markers", {"GET": get_markers, "POST": set_markers}),
]
