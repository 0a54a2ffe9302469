"""Notifications in the Mastodon client API (docs.joinmastodon.org/methods/notifications).

- ``GET /api/v1/notifications``: newest first, paged by notification id
  (``max_id``/``since_id``/``min_id``/``limit``, default 40, at most 80, ``Link``
  header); ``types[]``, ``exclude_types[]`` and ``account_id`` narrow it;
- ``GET /api/v1/notifications/:id``;
- ``POST /api/v1/notifications/:id/dismiss`` (and the older
  ``POST /api/v1/notifications/dismiss`` with ``id``), ``POST /api/v1/notifications/clear``;
- ``GET /api/v1/notifications/unread_count``: how many are newer than the
  ``notifications`` marker (``limit``, default 100, at most 1000).

Which notifications a viewer gets is decided here, once, for the API and the
streaming API alike (:func:`shown_to`): not dismissed, from a live account the
viewer neither blocks (nor is blocked by) nor mutes with notifications, and
about a post the viewer may still see.  Dismissing keeps the row (marked
dismissed) so that the same event does not notify again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import ColumnElement
from sqlalchemy.orm import aliased
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from ... import convert
from ...db.models import Actor, Block, Marker, Mute, Notification, NotificationType, Status, utcnow
from ...errors import APIError
from ...processing.visibility import visible_to
from ...state import AppState
from .auth import authenticate, request_params, text_param
from .pagination import id_param, order_page, page_params, paginate, paginated
from .statuses import CORS, endpoint, parse_id

__all__ = ["routes", "shown_to", "notification_entities"]

NOT_FOUND = "Record not found"
DEFAULT_LIMIT = 40
MAX_LIMIT = 80
UNREAD_DEFAULT = 100
UNREAD_MAX = 1000


def _state(request: Request) -> AppState:
    return request.app.state.fedisora  # type: ignore[no-any-return]


def shown_to(viewer: Actor) -> ColumnElement[bool]:
    """SQL condition on :class:`Notification`: the ones ``viewer`` is shown."""
    sender = aliased(Actor)
    block = aliased(Block)
    mute = aliased(Mute)
    post = aliased(Status)
    now = utcnow()
    return sa.and_(
        Notification.recipient_id == viewer.id,  # type: ignore[arg-type]
        Notification.dismissed_at.is_(None),  # type: ignore[union-attr]
        sa.exists().where(
            sender.id == Notification.from_actor_id,  # type: ignore[arg-type]
            sender.suspended_at.is_(None),  # type: ignore[union-attr]
            sender.deleted_at.is_(None),  # type: ignore[union-attr]
        ),
        sa.not_(
            sa.exists().where(
                sa.or_(
                    sa.and_(block.actor_id == viewer.id, block.target_id == Notification.from_actor_id),  # type: ignore[arg-type]
                    sa.and_(block.actor_id == Notification.from_actor_id, block.target_id == viewer.id),  # type: ignore[arg-type]
                )
            )
        ),
        sa.not_(
            sa.exists().where(
                mute.actor_id == viewer.id,  # type: ignore[arg-type]
                mute.target_id == Notification.from_actor_id,  # type: ignore[arg-type]
                mute.notifications.is_(True),  # type: ignore[attr-defined]
                sa.or_(mute.expires_at.is_(None), mute.expires_at > now),  # type: ignore[union-attr,operator]
            )
        ),
        sa.or_(
            Notification.status_id.is_(None),  # type: ignore[union-attr]
            sa.exists().where(post.id == Notification.status_id, visible_to(viewer, post)),  # type: ignore[arg-type]
        ),
    )


async def notification_entities(
    session: AsyncSession, state: AppState, rows: Sequence[Notification], viewer: Actor
) -> list[dict[str, Any]]:
    """``Notification`` entities of ``rows`` (already filtered with :func:`shown_to`)."""
    cache: convert.AccountCache = {}
    entities = []
    for row in rows:
        sender = await session.get(Actor, row.from_actor_id)
        status = await session.get(Status, row.status_id) if row.status_id is not None else None
        if sender is None or (row.status_id is not None and (status is None or status.deleted_at is not None)):
            continue  # gone since the query
        entities.append(
            await convert.notification(
                session,
                state.config,
                id=row.id,
                type=row.type,
                created_at=row.created_at,
                account_actor=sender,
                status=status,
                viewer=viewer,
                cache=cache,
            )
        )
    return entities


def _types(params: dict[str, Any], name: str) -> list[str] | None:
    """``types[]``/``exclude_types[]``: the known types named, ``None`` when absent."""
    value = params.get(name)
    if value is None:
        return None
    values = value if isinstance(value, list) else [value]
    return [v for v in values if isinstance(v, str) and v in NotificationType.ALL]


def _viewer(auth: Any) -> Actor:
    if auth.actor is None:
        raise APIError(422, "This method requires an authenticated user")
    return auth.actor  # type: ignore[no-any-return]


async def list_notifications(request: Request) -> Response:
    auth = await authenticate(request, scope="read:notifications")
    viewer = _viewer(auth)
    params = await request_params(request)
    page = page_params(params, default=DEFAULT_LIMIT, maximum=MAX_LIMIT)
    conditions = [shown_to(viewer)]
    types = _types(params, "types")
    if types:  # as on Mastodon, no known type named means all of them
        conditions.append(Notification.type.in_(types))  # type: ignore[attr-defined]
    excluded = _types(params, "exclude_types")
    if excluded:
        conditions.append(Notification.type.not_in(excluded))  # type: ignore[attr-defined]
    account_id = id_param(params, "account_id")
    if account_id is not None:
        conditions.append(Notification.from_actor_id == account_id)  # type: ignore[arg-type]
    state = _state(request)
    async with state.sessions() as session:
        stmt = paginate(select(Notification).where(*conditions), Notification.id, page)
        rows = order_page(list((await session.exec(stmt)).all()), page)  # type: ignore[call-overload]
        data = await notification_entities(session, state, rows, viewer)
    return paginated(request, data, [row.id for row in rows], headers=CORS)


async def _find(session: AsyncSession, viewer: Actor, raw_id: str) -> Notification:
    query = select(Notification).where(Notification.id == parse_id(raw_id), shown_to(viewer))
    row = (await session.exec(query)).first()
    if row is None:
        raise APIError(404, NOT_FOUND)
    return row


async def get_notification(request: Request) -> Response:
    auth = await authenticate(request, scope="read:notifications")
    viewer = _viewer(auth)
    state = _state(request)
    async with state.sessions() as session:
        row = await _find(session, viewer, request.path_params["id"])
        data = await notification_entities(session, state, [row], viewer)
    if not data:
        raise APIError(404, NOT_FOUND)
    return JSONResponse(data[0], headers=CORS)


async def _dismiss(request: Request, raw_id: str | None) -> Response:
    auth = await authenticate(request, scope="write:notifications")
    viewer = _viewer(auth)
    if not raw_id:
        raise APIError(404, NOT_FOUND)
    async with _state(request).sessions() as session:
        row = (
            await session.exec(
                select(Notification).where(
                    Notification.id == parse_id(raw_id),
                    Notification.recipient_id == viewer.id,
                    Notification.dismissed_at.is_(None),  # type: ignore[union-attr]
                )
            )
        ).first()
        if row is None:
            raise APIError(404, NOT_FOUND)
        row.dismissed_at = utcnow()
        session.add(row)
        await session.commit()
    return JSONResponse({}, headers=CORS)


async def dismiss(request: Request) -> Response:
    return await _dismiss(request, request.path_params["id"])


async def dismiss_by_param(request: Request) -> Response:
    """The pre-3.1 form, still accepted by Mastodon: ``POST /api/v1/notifications/dismiss`` with ``id``."""
    return await _dismiss(request, text_param(await request_params(request), "id"))


async def clear(request: Request) -> Response:
    auth = await authenticate(request, scope="write:notifications")
    viewer = _viewer(auth)
    async with _state(request).sessions() as session:
        await session.exec(  # type: ignore[call-overload]
            sa.update(Notification)
            .where(Notification.recipient_id == viewer.id, Notification.dismissed_at.is_(None))  # type: ignore[arg-type,union-attr]
            .values(dismissed_at=utcnow())
        )
        await session.commit()
    return JSONResponse({}, headers=CORS)


async def unread_count(request: Request) -> Response:
    auth = await authenticate(request, scope="read:notifications")
    viewer = _viewer(auth)
    assert auth.user is not None
    params = await request_params(request)
    limit = page_params(params, default=UNREAD_DEFAULT, maximum=UNREAD_MAX).limit
    async with _state(request).sessions() as session:
        marker = (
            await session.exec(
                select(Marker).where(Marker.user_id == auth.user.id, Marker.timeline == "notifications")
            )
        ).first()
        conditions = [shown_to(viewer)]
        if marker is not None and marker.last_read_id.isdigit():
            conditions.append(Notification.id > int(marker.last_read_id))  # type: ignore[arg-type]
        unread = select(Notification.id).where(*conditions).limit(limit).subquery()
        count = (await session.exec(select(sa.func.count()).select_from(unread))).one()
    return JSONResponse({"count": int(count)}, headers=CORS)


routes: list[BaseRoute] = [
    endpoint("/api/v1/notifications", {"GET": list_notifications}),
    endpoint("/api/v1/notifications/clear", {"POST": clear}),
    endpoint("/api/v1/notifications/dismiss", {"POST": dismiss_by_param}),
    endpoint("/api/v1/notifications/unread_count", {"GET": unread_count}),
    endpoint("/api/v1/notifications/{id}", {"GET": get_notification}),
    endpoint("/api/v1/notifications/{id}/dismiss", {"POST": dismiss}),
]
