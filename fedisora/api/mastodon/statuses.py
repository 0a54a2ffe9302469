"""Posts in the Mastodon client API: ``/api/v1/statuses`` and what hangs off a post
(context, favourites, boosts, bookmarks, source, edit history), plus the
viewer's ``/api/v1/favourites`` and ``/api/v1/bookmarks`` lists.

Which post a viewer may see is decided by :mod:`fedisora.processing.visibility`
alone: a post the viewer may not see is answered ``404 Record not found``, as
on Mastodon.  Writing goes through :mod:`fedisora.processing` (which publishes
the federation activities), entities through :mod:`fedisora.convert`.

Not supported (answered 422 honestly): polls and scheduled posts.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ... import convert
from ...convert.common import entity_id
from ...convert.instance import MAX_MEDIA_ATTACHMENTS
from ...db.models import (
    Actor,
    Bookmark,
    IdempotencyKey,
    Like,
    MediaAttachment,
    MediaState,
    Status,
    StatusEdit,
    Visibility,
    utcnow,
)
from ...errors import APIError
from ...html import html_to_text
from ...processing import interactions, posts
from ...processing.errors import ActionError
from ...processing.visibility import can_see, not_muted, visible_to
from ...state import AppState
from .auth import Auth, authenticate, optional_auth, request_params, text_param
from .pagination import id_param, order_page, page_params, paginate, paginated

__all__ = [
    "routes",
    "NOT_FOUND",
    "CORS",
    "parse_id",
    "bool_param",
    "visible_status",
    "endpoint",
]

NOT_FOUND = "Record not found"
CORS = {"Access-Control-Allow-Origin": "*"}
_MAX_BIGINT = 2**63 - 1
IDEMPOTENCY_TTL = timedelta(hours=1)
MAX_IDEMPOTENCY_KEY = 255
MAX_ANCESTORS = 40
MAX_DESCENDANTS = 4096
MAX_MULTI_GET = 40
_LANGUAGE_RE = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})?$")
_FALSE = {"0", "f", "false", "off", "no", "n"}
VISIBILITIES = tuple(v.value for v in Visibility)

Handler = Callable[[Request], Awaitable[Response]]


# ---- shared helpers (timelines use them too) ---------------------------------------------


def _state(request: Request) -> AppState:
    return request.app.state.fedisora  # type: ignore[no-any-return]


def parse_id(value: str) -> int:
    """A path id: anything but a BIGINT-sized number is simply not found."""
    if not value.isascii() or not value.isdigit() or int(value) > _MAX_BIGINT:
        raise APIError(404, NOT_FOUND)
    return int(value)


def bool_param(params: dict[str, Any], name: str) -> bool | None:
    """A boolean parameter as Rails reads one: ``None`` when absent or empty; false for
    ``0``/``f``/``false``/``off``/``no``; true for anything else."""
    value = params.get(name)
    if isinstance(value, bool):
        return value
    text = text_param(params, name)
    if text is None or text.strip() == "":
        return None
    return text.strip().lower() not in _FALSE


def _json(data: Any, status_code: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status_code, headers=CORS)


def endpoint(path: str, handlers: dict[str, Handler]) -> Route:
    """One route for ``path`` dispatching on the method, answering CORS preflights."""
    allowed = ", ".join([*handlers, "OPTIONS"])

    async def dispatch(request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(
                status_code=204,
                headers={
                    **CORS,
                    "Access-Control-Allow-Methods": allowed,
                    "Access-Control-Allow-Headers": request.headers.get(
                        "access-control-request-headers", "Authorization, Content-Type, Idempotency-Key"
                    ),
                    "Access-Control-Max-Age": "86400",
                },
            )
        method = "GET" if request.method == "HEAD" else request.method
        return await handlers[method](request)

    methods = [*handlers, "OPTIONS"]
    if "GET" in handlers:
        methods.append("HEAD")
    return Route(path, dispatch, methods=methods)


def _viewer(auth: Auth | None) -> Actor | None:
    return auth.actor if auth is not None else None


def _me(auth: Auth) -> Actor:
    if auth.actor is None:  # authenticate() requires a user, which has an actor
        raise APIError(422, "This method requires an authenticated user")
    return auth.actor


async def visible_status(session: AsyncSession, viewer: Actor | None, raw_id: str) -> Status:
    """The post with path id ``raw_id`` if ``viewer`` may see it; else ``APIError(404)``."""
    status = await session.get(Status, parse_id(raw_id))
    if status is None or not await can_see(session, viewer, status):
        raise APIError(404, NOT_FOUND)
    return status


async def _original(session: AsyncSession, viewer: Actor | None, raw_id: str) -> Status:
    """As :func:`visible_status`, but a boost stands for the boosted post (favourite, boost...)."""
    status = await visible_status(session, viewer, raw_id)
    if status.reblog_of_id is not None:
        original = await session.get(Status, status.reblog_of_id)
        if original is None or not await can_see(session, viewer, original):
            raise APIError(404, NOT_FOUND)
        return original
    return status


async def _entity(session: AsyncSession, state: AppState, status: Status, viewer: Actor | None) -> dict[str, Any]:
    return await convert.status(session, state.config, status, viewer=viewer)


def _action_error(exc: ActionError) -> APIError:
    return APIError(exc.status_code, exc.message[:1].upper() + exc.message[1:])


# ---- posting -------------------------------------------------------------------------------


def _id_list(params: dict[str, Any], name: str) -> list[int]:
    value = params.get(name)
    if value is None or value == "":
        return []
    values = value if isinstance(value, list) else [value]
    ids: list[int] = []
    for item in values:
        text = str(item).strip()
        if not text:
            continue
        if not text.isascii() or not text.isdigit() or int(text) > _MAX_BIGINT:
            raise APIError(422, f"Invalid {name}")
        ids.append(int(text))
    return list(dict.fromkeys(ids))


def _language(params: dict[str, Any]) -> str | None:
    language = text_param(params, "language")
    if language is None or not language.strip():
        return None
    if not _LANGUAGE_RE.match(language.strip()):
        raise APIError(422, "Validation failed: Language is not a valid language code")
    return language.strip().lower()


def _refuse_unsupported(params: dict[str, Any]) -> None:
    if any((key == "poll" or key.startswith("poll[")) and value not in (None, "", [], {}) for key, value in params.items()):
        raise APIError(422, "Polls are not supported on this server")


VIDEO_LIKE = ("video", "gifv", "audio")
TOO_MANY_MEDIA = f"Cannot attach more than {MAX_MEDIA_ATTACHMENTS} files"
IMAGES_AND_VIDEO = "Cannot attach a video to a post that already contains images"
NOT_READY = "Cannot attach files that have not finished processing. Try again in a moment!"


async def _media(
    session: AsyncSession, actor: Actor, ids: Sequence[int], *, status: Status | None = None
) -> list[MediaAttachment]:
    """The caller's media ``ids``, unattached (or attached to ``status``) and ready.

    Mastodon's rules and wording: at most 4 files; a video (or GIF video, or audio)
    only alone; none still processing.  Unknown, foreign, already attached and failed
    media are refused too (Mastodon silently drops the first three)."""
    if not ids:
        return []
    if len(ids) > MAX_MEDIA_ATTACHMENTS:
        raise APIError(422, TOO_MANY_MEDIA)
    ids = list(dict.fromkeys(ids))  # a repeated id counts once, as on Mastodon
    rows = (
        await session.exec(
            select(MediaAttachment).where(
                MediaAttachment.id.in_(ids),  # type: ignore[attr-defined]
                MediaAttachment.actor_id == actor.id,
            )
        )
    ).all()
    found = {m.id: m for m in rows}
    media: list[MediaAttachment] = []
    for media_id in ids:
        item = found.get(media_id)
        if item is None or item.status_id not in (None, status.id if status else None):
            raise APIError(422, f"Validation failed: Media {media_id} is unknown or already attached")
        if item.state == MediaState.FAILED.value:
            raise APIError(422, f"Validation failed: Media {media_id} could not be processed")
        media.append(item)
    if len(media) > 1 and any(item.media_type in VIDEO_LIKE for item in media):
        raise APIError(422, IMAGES_AND_VIDEO)
    if any(item.state != MediaState.READY.value for item in media):
        raise APIError(422, NOT_READY)
    return media


async def _idempotent(session: AsyncSession, user_id: int, key: str) -> Status | None:
    """The post an earlier request with this ``Idempotency-Key`` made (within the hour)."""
    row = (
        await session.exec(select(IdempotencyKey).where(IdempotencyKey.user_id == user_id, IdempotencyKey.key == key))
    ).first()
    if row is None:
        return None
    status = await session.get(Status, row.status_id)
    if status is None or status.deleted_at is not None or utcnow() - row.created_at > IDEMPOTENCY_TTL:
        await session.delete(row)
        await session.flush()
        return None
    return status


async def create_status(request: Request) -> Response:
    auth = await authenticate(request, scope="write:statuses")
    me = _me(auth)
    assert auth.user is not None and auth.user.id is not None
    state = _state(request)
    params = await request_params(request)
    _refuse_unsupported(params)
    if text_param(params, "scheduled_at"):
        raise APIError(422, "Scheduled posts are not supported on this server")
    text = text_param(params, "status") or ""
    visibility = (text_param(params, "visibility") or Visibility.PUBLIC.value).strip().lower()
    if visibility not in VISIBILITIES:
        raise APIError(422, "Validation failed: Visibility is not included in the list")
    spoiler_text = text_param(params, "spoiler_text") or ""
    if len(text) + len(spoiler_text) > posts.MAX_CHARS:
        raise APIError(422, f"Validation failed: Text character limit of {posts.MAX_CHARS} exceeded")
    sensitive = bool(bool_param(params, "sensitive"))
    language = _language(params)
    media_ids = _id_list(params, "media_ids")
    reply_id = id_param(params, "in_reply_to_id")
    key = (request.headers.get("idempotency-key") or "").strip() or None
    if key is not None and len(key) > MAX_IDEMPOTENCY_KEY:
        raise APIError(422, "Idempotency-Key is too long")

    async with state.sessions() as session:
        if key is not None:
            earlier = await _idempotent(session, auth.user.id, key)
            if earlier is not None:
                return _json(await _entity(session, state, earlier, me))
        parent = None
        if reply_id is not None:
            parent = await session.get(Status, reply_id)
            if parent is None or parent.reblog_of_id is not None or not await can_see(session, me, parent):
                raise APIError(404, NOT_FOUND)
        media = await _media(session, me, media_ids)
        try:
            status = await posts.create_post(
                session,
                state,
                me,
                text,
                visibility=visibility,
                in_reply_to=parent,
                spoiler_text=spoiler_text,
                sensitive=sensitive,
                language=language,
                media=media,
            )
        except ActionError as exc:
            raise _action_error(exc) from None
        if key is not None:
            session.add(IdempotencyKey(user_id=auth.user.id, key=key, status_id=status.id))
        try:
            await session.commit()
        except IntegrityError:
            # The same key raced us, and won: its post is the answer, ours is rolled back.
            await session.rollback()
            if key is None:
                raise
            earlier = await _idempotent(session, auth.user.id, key)
            if earlier is None:
                raise APIError(409, "A request with this Idempotency-Key is already being processed") from None
            return _json(await _entity(session, state, earlier, me))
        return _json(await _entity(session, state, status, me))


# ---- one post ------------------------------------------------------------------------------


async def get_status(request: Request) -> Response:
    auth = await optional_auth(request, scope="read:statuses")
    state = _state(request)
    async with state.sessions() as session:
        status = await visible_status(session, _viewer(auth), request.path_params["id"])
        return _json(await _entity(session, state, status, _viewer(auth)))


async def get_statuses(request: Request) -> Response:
    """``GET /api/v1/statuses?id[]=…``: several posts at once (the visible ones, in the order asked)."""
    auth = await optional_auth(request, scope="read:statuses")
    viewer = _viewer(auth)
    wanted = _id_list(await request_params(request), "id")[:MAX_MULTI_GET]
    state = _state(request)
    async with state.sessions() as session:
        rows = (
            await session.exec(select(Status).where(Status.id.in_(wanted), visible_to(viewer)))  # type: ignore[attr-defined]
        ).all() if wanted else []
        by_id = {row.id: row for row in rows}
        ordered = [by_id[i] for i in wanted if i in by_id]
        return _json(await convert.statuses(session, state.config, ordered, viewer=viewer))


async def _own_status(session: AsyncSession, me: Actor, raw_id: str) -> Status:
    status = await session.get(Status, parse_id(raw_id))
    if status is None or status.deleted_at is not None or status.actor_id != me.id:
        raise APIError(404, NOT_FOUND)
    return status


async def delete_status(request: Request) -> Response:
    auth = await authenticate(request, scope="write:statuses")
    me = _me(auth)
    state = _state(request)
    async with state.sessions() as session:
        status = await _own_status(session, me, request.path_params["id"])
        entity = await convert.status(session, state.config, status, viewer=me, source=True)
        try:
            if status.reblog_of_id is not None:
                original = await session.get(Status, status.reblog_of_id)
                if original is not None:
                    await interactions.unboost(session, state, me, original)
            else:
                await posts.delete_post(session, state, me, status)
        except ActionError as exc:
            raise _action_error(exc) from None
        await session.commit()
    return _json(entity)


async def edit_status(request: Request) -> Response:
    auth = await authenticate(request, scope="write:statuses")
    me = _me(auth)
    state = _state(request)
    params = await request_params(request)
    _refuse_unsupported(params)
    async with state.sessions() as session:
        status = await _own_status(session, me, request.path_params["id"])
        if status.reblog_of_id is not None:
            raise APIError(404, NOT_FOUND)
        text = text_param(params, "status")
        if text is None:
            text = status.source_text if status.source_text is not None else html_to_text(status.content)
        spoiler_text = (text_param(params, "spoiler_text") or "") if "spoiler_text" in params else None
        if len(text) + len(spoiler_text if spoiler_text is not None else status.summary) > posts.MAX_CHARS:
            raise APIError(422, f"Validation failed: Text character limit of {posts.MAX_CHARS} exceeded")
        sensitive = bool_param(params, "sensitive")
        language = _language(params)
        if "media_ids" in params:
            media = await _media(session, me, _id_list(params, "media_ids"), status=status)
            keep = {m.id for m in media}
            attached = (
                await session.exec(select(MediaAttachment).where(MediaAttachment.status_id == status.id))
            ).all()
            for item in attached:
                if item.id not in keep:
                    item.status_id = None
            for item in media:
                item.status_id = status.id
        if language is not None:
            status.language = language
        try:
            await posts.edit_post(
                session, state, me, status, text, spoiler_text=spoiler_text, sensitive=sensitive
            )
        except ActionError as exc:
            raise _action_error(exc) from None
        await session.commit()
        return _json(await _entity(session, state, status, me))


async def _ancestors(session: AsyncSession, viewer: Actor | None, status: Status) -> list[Status]:
    chain: list[Status] = []
    seen = {status.id}
    parent_id = status.in_reply_to_id
    while parent_id is not None and parent_id not in seen and len(seen) <= MAX_ANCESTORS:
        seen.add(parent_id)
        parent = await session.get(Status, parent_id)
        if parent is None:
            break
        chain.append(parent)
        parent_id = parent.in_reply_to_id
    chain.reverse()
    return await _filter(session, viewer, chain)


async def _filter(session: AsyncSession, viewer: Actor | None, rows: Sequence[Status]) -> list[Status]:
    """``rows`` (in their order) that ``viewer`` may see and has not muted."""
    if not rows:
        return []
    ids = [r.id for r in rows]
    ok: set[int] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        ok.update(
            (
                await session.exec(
                    select(Status.id).where(
                        Status.id.in_(chunk),  # type: ignore[attr-defined]
                        visible_to(viewer),
                        not_muted(viewer),
                    )
                )
            ).all()
        )
    return [r for r in rows if r.id in ok]


async def _descendants(session: AsyncSession, viewer: Actor | None, status: Status) -> list[Status]:
    """Replies, and replies to them, depth first (each branch oldest first), as Mastodon orders them."""
    children: dict[int, list[Status]] = {}
    frontier = [status.id]
    seen = {status.id}
    total = 0
    while frontier and total < MAX_DESCENDANTS:
        rows = (
            await session.exec(
                select(Status)
                .where(
                    Status.in_reply_to_id.in_(frontier),  # type: ignore[union-attr]
                    Status.reblog_of_id.is_(None),  # type: ignore[union-attr]
                    Status.deleted_at.is_(None),  # type: ignore[union-attr]
                )
                .order_by(Status.id)
                .limit(MAX_DESCENDANTS - total)
            )
        ).all()
        frontier = []
        for row in rows:
            if row.id in seen or row.in_reply_to_id is None:
                continue
            seen.add(row.id)
            children.setdefault(row.in_reply_to_id, []).append(row)
            frontier.append(row.id)
            total += 1
    ordered: list[Status] = []
    stack = list(reversed(children.get(status.id, [])))
    while stack:
        node = stack.pop()
        ordered.append(node)
        stack.extend(reversed(children.get(node.id, [])))
    return await _filter(session, viewer, ordered)


async def status_context(request: Request) -> Response:
    auth = await optional_auth(request, scope="read:statuses")
    viewer = _viewer(auth)
    state = _state(request)
    async with state.sessions() as session:
        status = await visible_status(session, viewer, request.path_params["id"])
        if status.reblog_of_id is not None:
            status = await _original(session, viewer, request.path_params["id"])
        ancestors = await _ancestors(session, viewer, status)
        descendants = await _descendants(session, viewer, status)
        return _json(await convert.context(session, state.config, ancestors, descendants, viewer=viewer))


# ---- favourites, boosts, bookmarks ------------------------------------------------------------


Interaction = Callable[[AsyncSession, AppState, Actor, Status], Awaitable[object]]


def _interaction(scope: str, action: Interaction, *, show_result: bool = False) -> Callable[[Request], Awaitable[Response]]:
    """``POST /statuses/:id/<action>``: run a processing action on the original post and
    answer with that post (or, with ``show_result``, the status the action made: a boost)."""

    async def endpoint(request: Request) -> Response:
        auth = await authenticate(request, scope=scope)
        me = _me(auth)
        state = _state(request)
        async with state.sessions() as session:
            status = await _original(session, me, request.path_params["id"])
            result: object = None
            try:
                result = await action(session, state, me, status)
                await session.commit()
            except IntegrityError:  # the same action raced with itself; one of them won
                await session.rollback()
            except ActionError as exc:
                raise _action_error(exc) from None
            shown = result if show_result and isinstance(result, Status) else status
            return _json(await _entity(session, state, shown, me))

    return endpoint


favourite = _interaction("write:favourites", interactions.like)
unfavourite = _interaction("write:favourites", interactions.unlike)
reblog = _interaction("write:statuses", interactions.boost, show_result=True)
unreblog = _interaction("write:statuses", interactions.unboost)


async def bookmark(request: Request) -> Response:
    auth = await authenticate(request, scope="write:bookmarks")
    me = _me(auth)
    state = _state(request)
    async with state.sessions() as session:
        status = await _original(session, me, request.path_params["id"])
        existing = (
            await session.exec(select(Bookmark).where(Bookmark.actor_id == me.id, Bookmark.status_id == status.id))
        ).first()
        if existing is None:
            session.add(Bookmark(actor_id=me.id, status_id=status.id))
            try:
                await session.commit()
            except IntegrityError:  # bookmarked concurrently: same result
                await session.rollback()
        return _json(await _entity(session, state, status, me))


async def unbookmark(request: Request) -> Response:
    auth = await authenticate(request, scope="write:bookmarks")
    me = _me(auth)
    state = _state(request)
    async with state.sessions() as session:
        status = await _original(session, me, request.path_params["id"])
        await session.exec(
            sa.delete(Bookmark).where(Bookmark.actor_id == me.id, Bookmark.status_id == status.id)  # type: ignore[arg-type]
        )
        await session.commit()
        return _json(await _entity(session, state, status, me))


# ---- who favourited / boosted ----------------------------------------------------------------


def _live_actor() -> list[Any]:
    return [Actor.suspended_at.is_(None), Actor.deleted_at.is_(None)]  # type: ignore[union-attr]


async def favourited_by(request: Request) -> Response:
    auth = await optional_auth(request, scope="read:accounts")
    viewer = _viewer(auth)
    page = page_params(await request_params(request), default=40, maximum=80)
    state = _state(request)
    async with state.sessions() as session:
        status = await _original(session, viewer, request.path_params["id"])
        stmt = (
            select(Like.id, Actor)
            .join(Actor, Actor.id == Like.actor_id)  # type: ignore[arg-type]
            .where(Like.status_id == status.id, *_live_actor())
        )
        rows = order_page((await session.exec(paginate(stmt, Like.id, page))).all(), page)  # type: ignore[arg-type]
        cache: convert.AccountCache = {}
        data = [await convert.account(session, state.config, actor, cache=cache) for _, actor in rows]
        return paginated(request, data, [like_id for like_id, _ in rows], headers=CORS)


async def reblogged_by(request: Request) -> Response:
    auth = await optional_auth(request, scope="read:accounts")
    viewer = _viewer(auth)
    page = page_params(await request_params(request), default=40, maximum=80)
    state = _state(request)
    async with state.sessions() as session:
        status = await _original(session, viewer, request.path_params["id"])
        stmt = (
            select(Status.id, Actor)
            .join(Actor, Actor.id == Status.actor_id)  # type: ignore[arg-type]
            .where(
                Status.reblog_of_id == status.id,
                Status.deleted_at.is_(None),  # type: ignore[union-attr]
                *_live_actor(),
            )
        )
        rows = order_page((await session.exec(paginate(stmt, Status.id, page))).all(), page)  # type: ignore[arg-type]
        cache: convert.AccountCache = {}
        data = [await convert.account(session, state.config, actor, cache=cache) for _, actor in rows]
        return paginated(request, data, [boost_id for boost_id, _ in rows], headers=CORS)


# ---- source and history ------------------------------------------------------------------------


async def status_source(request: Request) -> Response:
    auth = await authenticate(request, scope="read:statuses")
    me = _me(auth)
    async with _state(request).sessions() as session:
        status = await _own_status(session, me, request.path_params["id"])
        if status.reblog_of_id is not None:
            raise APIError(404, NOT_FOUND)
        text = status.source_text if status.source_text is not None else html_to_text(status.content)
        return _json({"id": entity_id(status.id), "text": text, "spoiler_text": status.summary})


async def status_history(request: Request) -> Response:
    auth = await optional_auth(request, scope="read:statuses")
    viewer = _viewer(auth)
    state = _state(request)
    async with state.sessions() as session:
        status = await visible_status(session, viewer, request.path_params["id"])
        if status.reblog_of_id is not None:
            raise APIError(404, NOT_FOUND)
        author = await session.get(Actor, status.actor_id)
        assert author is not None
        account = await convert.account(session, state.config, author)
        media = [
            convert.media_attachment(state.config, m)
            for m in (
                await session.exec(
                    select(MediaAttachment).where(MediaAttachment.status_id == status.id).order_by(MediaAttachment.id)  # type: ignore[arg-type]
                )
            ).all()
        ]
        edits = (
            await session.exec(
                select(StatusEdit)
                .where(StatusEdit.status_id == status.id)
                .order_by(StatusEdit.created_at, StatusEdit.id)  # type: ignore[arg-type]
            )
        ).all()
        versions = [(e.content, e.summary, e.sensitive, e.created_at) for e in edits] or [
            (status.content, status.summary, status.sensitive, status.published_at)
        ]
        data = [
            {
                "content": content,
                "spoiler_text": summary,
                "sensitive": sensitive,
                "created_at": convert.iso(created_at),
                "account": account,
                "poll": None,  # not stored: polls
                "media_attachments": media,  # attachments are not versioned: the current ones
                "emojis": [],  # not stored: custom emoji
            }
            for content, summary, sensitive, created_at in versions
        ]
        return _json(data)


# ---- the viewer's favourites and bookmarks -------------------------------------------------------


async def _saved_list(request: Request, scope: str, model: type[Like] | type[Bookmark]) -> Response:
    auth = await authenticate(request, scope=scope)
    me = _me(auth)
    page = page_params(await request_params(request))
    state = _state(request)
    async with state.sessions() as session:
        stmt = (
            select(model.id, Status)
            .join(Status, Status.id == model.status_id)  # type: ignore[arg-type]
            .where(model.actor_id == me.id, visible_to(me))
        )
        rows = order_page((await session.exec(paginate(stmt, model.id, page))).all(), page)  # type: ignore[arg-type]
        data = await convert.statuses(session, state.config, [s for _, s in rows], viewer=me)
        return paginated(request, data, [row_id for row_id, _ in rows], headers=CORS)


async def favourites(request: Request) -> Response:
    return await _saved_list(request, "read:favourites", Like)


async def bookmarks(request: Request) -> Response:
    return await _saved_list(request, "read:bookmarks", Bookmark)


routes: list[BaseRoute] = [
    endpoint("/api/v1/statuses", {"POST": create_status, "GET": get_statuses}),
    endpoint("/api/v1/statuses/{id}", {"GET": get_status, "DELETE": delete_status, "PUT": edit_status}),
    endpoint("/api/v1/statuses/{id}/context", {"GET": status_context}),
    endpoint("/api/v1/statuses/{id}/favourite", {"POST": favourite}),
    endpoint("/api/v1/statuses/{id}/unfavourite", {"POST": unfavourite}),
    endpoint("/api/v1/statuses/{id}/reblog", {"POST": reblog}),
    endpoint("/api/v1/statuses/{id}/unreblog", {"POST": unreblog}),
    endpoint("/api/v1/statuses/{id}/bookmark", {"POST": bookmark}),
    endpoint("/api/v1/statuses/{id}/unbookmark", {"POST": unbookmark}),
    endpoint("/api/v1/statuses/{id}/favourited_by", {"GET": favourited_by}),
    endpoint("/api/v1/statuses/{id}/reblogged_by", {"GET": reblogged_by}),
    endpoint("/api/v1/statuses/{id}/source", {"GET": status_source}),
    endpoint("/api/v1/statuses/{id}/history", {"GET": status_history}),
    endpoint("/api/v1/favourites", {"GET": favourites}),
    endpoint("/api/v1/bookmarks", {"GET": bookmarks}),
]
