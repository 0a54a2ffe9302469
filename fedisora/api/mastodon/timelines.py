"""Timelines in the Mastodon client API: ``home``, ``public`` and ``tag/:hashtag``.

All three are pages of posts, newest first, paged by post id with
:mod:`.pagination`, and filtered by :func:`visible_to` (who may see what) and
:func:`not_muted` (the viewer's mutes), as every read path is.

- ``home``: the viewer's own posts and boosts, the posts and boosts of the
  accounts the viewer follows (accepted follows), and posts mentioning the
  viewer.  As on Mastodon, replies show only when they answer someone the
  viewer follows (or the viewer, or the author themself), and boosts of the
  viewer's own posts are left out.
- ``public``: public posts (not unlisted ones), without boosts and without
  replies to others (threads of one author stay); ``local``, ``remote`` and
  ``only_media`` narrow it.  No token needed.
- ``tag/:hashtag``: public posts with the hashtag (from ``status_tags``);
  ``any[]``, ``all[]``, ``none[]``, ``local``, ``remote``, ``only_media``.
  No token needed.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import ColumnElement
from sqlalchemy.orm import aliased
from sqlmodel import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ... import convert
from ...db.models import Actor, Follow, FollowState, MediaAttachment, Mention, Status, StatusTag, Visibility
from ...processing.visibility import not_muted, visible_to
from ...state import AppState
from .auth import authenticate, optional_auth, request_params
from .pagination import Page, order_page, page_params, paginate, paginated
from .statuses import CORS, bool_param, endpoint

__all__ = ["routes", "home_condition", "public_condition", "tag_condition"]

MAX_TAG_LENGTH = 100
MAX_EXTRA_TAGS = 10


def _state(request: Request) -> AppState:
    return request.app.state.fedisora  # type: ignore[no-any-return]


def _followed(viewer: Actor) -> Any:
    return select(Follow.target_id).where(
        Follow.follower_id == viewer.id, Follow.state == FollowState.ACCEPTED.value
    )


def _not_a_reply() -> ColumnElement[bool]:
    return sa.and_(Status.in_reply_to_id.is_(None), Status.in_reply_to_uri.is_(None))  # type: ignore[union-attr]


def home_condition(viewer: Actor) -> ColumnElement[bool]:
    """Which rows of :class:`Status` belong on ``viewer``'s home timeline (before
    visibility and mutes, which the caller adds)."""
    followed = _followed(viewer)
    mention = aliased(Mention)
    mentions_me = sa.exists().where(mention.status_id == Status.id, mention.actor_id == viewer.id)
    parent = aliased(Status)
    reply_ok = sa.or_(
        _not_a_reply(),
        Status.actor_id == viewer.id,
        mentions_me,
        sa.exists().where(
            parent.id == Status.in_reply_to_id,
            sa.or_(
                parent.actor_id == Status.actor_id,
                parent.actor_id == viewer.id,
                parent.actor_id.in_(followed),  # type: ignore[attr-defined]
            ),
        ),
    )
    original = aliased(Status)
    boost_of_mine = sa.exists().where(original.id == Status.reblog_of_id, original.actor_id == viewer.id)
    return sa.and_(
        sa.or_(Status.actor_id == viewer.id, Status.actor_id.in_(followed), mentions_me),  # type: ignore[attr-defined]
        reply_ok,
        sa.or_(Status.reblog_of_id.is_(None), Status.actor_id == viewer.id, sa.not_(boost_of_mine)),  # type: ignore[union-attr]
    )


def _place_filters(params: dict[str, Any]) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if bool_param(params, "local"):
        conditions.append(Status.local.is_(True))  # type: ignore[attr-defined]
    if bool_param(params, "remote"):
        conditions.append(Status.local.is_(False))  # type: ignore[attr-defined]
    if bool_param(params, "only_media"):
        conditions.append(sa.exists().where(MediaAttachment.status_id == Status.id))
    return conditions


def public_condition(params: dict[str, Any]) -> ColumnElement[bool]:
    """The public timeline's rows (before visibility and mutes)."""
    parent = aliased(Status)
    self_reply = sa.exists().where(parent.id == Status.in_reply_to_id, parent.actor_id == Status.actor_id)
    return sa.and_(
        Status.visibility == Visibility.PUBLIC.value,
        Status.reblog_of_id.is_(None),  # type: ignore[union-attr]
        sa.or_(_not_a_reply(), self_reply),
        *_place_filters(params),
    )


def _tag_name(value: Any) -> str:
    return str(value).strip().lstrip("#").lower()


def _tag_list(params: dict[str, Any], name: str) -> list[str]:
    value = params.get(name)
    values = value if isinstance(value, list) else ([] if value in (None, "") else [value])
    names = [_tag_name(v) for v in values if isinstance(v, (str, int))]
    return [n for n in dict.fromkeys(names) if n and len(n) <= MAX_TAG_LENGTH][:MAX_EXTRA_TAGS]


def _tagged(names: list[str]) -> ColumnElement[bool]:
    tag = aliased(StatusTag)
    return sa.exists().where(tag.status_id == Status.id, tag.name.in_(names))  # type: ignore[attr-defined]


def tag_condition(hashtag: str, params: dict[str, Any]) -> ColumnElement[bool]:
    """The tag timeline's rows (before visibility and mutes)."""
    conditions = [
        Status.visibility == Visibility.PUBLIC.value,
        Status.reblog_of_id.is_(None),  # type: ignore[union-attr]
        _tagged([_tag_name(hashtag), *_tag_list(params, "any")]),
        *(_tagged([name]) for name in _tag_list(params, "all")),
        *_place_filters(params),
    ]
    none = _tag_list(params, "none")
    if none:
        conditions.append(sa.not_(_tagged(none)))
    return sa.and_(*conditions)


async def _page(
    request: Request, viewer: Actor | None, condition: ColumnElement[bool], page: Page
) -> Response:
    state = _state(request)
    async with state.sessions() as session:
        stmt = select(Status).where(condition, visible_to(viewer), not_muted(viewer))
        rows = order_page((await session.exec(paginate(stmt, Status.id, page))).all(), page)  # type: ignore[arg-type]
        data = await convert.statuses(session, state.config, rows, viewer=viewer)
    return paginated(request, data, [row.id for row in rows], headers=CORS)


async def home(request: Request) -> Response:
    auth = await authenticate(request, scope="read:statuses")
    assert auth.actor is not None
    params = await request_params(request)
    page = page_params(params)
    condition = sa.and_(home_condition(auth.actor), *_place_filters(params))
    return await _page(request, auth.actor, condition, page)


async def public(request: Request) -> Response:
    auth = await optional_auth(request, scope="read:statuses")
    params = await request_params(request)
    page = page_params(params)
    return await _page(request, auth.actor if auth else None, public_condition(params), page)


async def hashtag(request: Request) -> Response:
    auth = await optional_auth(request, scope="read:statuses")
    params = await request_params(request)
    page = page_params(params)
    name = _tag_name(request.path_params["hashtag"])
    if not name or len(name) > MAX_TAG_LENGTH:
        return paginated(request, [], [], headers=CORS)
    return await _page(request, auth.actor if auth else None, tag_condition(name, params), page)


routes: list[BaseRoute] = [
    endpoint("/api/v1/timelines/home", {"GET": home}),
    endpoint("/api/v1/timelines/public", {"GET": public}),
    endpoint("/api/v1/timelines/tag/{hashtag}", {"GET": hashtag}),
]
