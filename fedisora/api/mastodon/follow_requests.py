"""``/api/v1/follow_requests``: the accounts waiting for the caller's approval, and
approving or rejecting them (docs.joinmastodon.org/methods/follow_requests).

``:id`` is the *requesting account's* id, as on Mastodon.  Answers are the
``Relationship`` with that account.  Scopes: ``read:follows`` to list,
``write:follows`` to answer.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from sqlmodel import col, select

from ... import convert
from ...db.models import Actor, Follow, FollowState
from ...errors import APIError
from ...processing import follows as follow_actions
from .accounts import (
    ACCOUNT_LIST_LIMIT,
    CORS,
    RECORD_NOT_FOUND,
    _accounts,
    _id_value,
    _json,
    _me,
    _route,
    _state,
)
from .auth import authenticate, request_params
from .pagination import order_page, page_params, paginate, paginated

__all__ = ["routes"]


async def list_requests(request: Request) -> Response:
    auth = await authenticate(request, scope="read:follows")
    params = await request_params(request)
    page = page_params(params, default=ACCOUNT_LIST_LIMIT[0], maximum=ACCOUNT_LIST_LIMIT[1])
    async with _state(request).sessions() as session:
        me = await _me(session, auth)
        stmt = (
            select(Follow, Actor)
            .join(Actor, col(Actor.id) == Follow.follower_id)
            .where(
                Follow.target_id == me.id,
                Follow.state == FollowState.PENDING.value,
                col(Actor.suspended_at).is_(None),
                col(Actor.deleted_at).is_(None),
            )
        )
        rows = order_page(list((await session.exec(paginate(stmt, Follow.id, page))).all()), page)
        entities = await _accounts(session, request, [a for _, a in rows])
        return paginated(request, entities, [f.id for f, _ in rows], headers=CORS)


async def _answer(request: Request, *, accept: bool) -> Response:
    auth = await authenticate(request, scope="write:follows")
    state = _state(request)
    async with state.sessions() as session:
        me = await _me(session, auth)
        follower_id = _id_value(request.path_params["id"])
        row = None
        if follower_id is not None:
            row = (
                await session.exec(
                    select(Follow, Actor)
                    .join(Actor, col(Actor.id) == Follow.follower_id)
                    .where(
                        Follow.follower_id == follower_id,
                        Follow.target_id == me.id,
                        Follow.state == FollowState.PENDING.value,
                    )
                )
            ).first()
        if row is None:
            raise APIError(404, RECORD_NOT_FOUND)
        record, follower = row
        if accept:
            await follow_actions.accept(session, state, record)
        else:
            await follow_actions.reject(session, state, record)
        await session.commit()
        return _json(await convert.relationship(session, me, follower))


async def authorize(request: Request) -> Response:
    return await _answer(request, accept=True)


async def reject(request: Request) -> Response:
    return await _answer(request, accept=False)


routes: list[BaseRoute] = [
    _route("/api/v1/follow_requests", list_requests, ["GET"]),
    _route("/api/v1/follow_requests/{id:int}/authorize", authorize, ["POST"]),
    _route("/api/v1/follow_requests/{id:int}/reject", reject, ["POST"]),
]
