"""``/api/v1/accounts/…``, ``/api/v1/blocks`` and ``/api/v1/mutes`` (docs.joinmastodon.org/methods/accounts,
/methods/blocks, /methods/mutes).

Scopes as on Mastodon 4.3: ``verify_credentials`` takes ``profile`` (which
``read``/``read:accounts`` imply), ``update_credentials`` ``write:accounts``,
follow/unfollow ``write:follows``, block/unblock ``write:blocks``,
mute/unmute ``write:mutes``, ``relationships`` ``read:follows``, account search
``read:accounts``, the blocks and mutes lists ``read:blocks``/``read:mutes``;
reading an account, its statuses, followers and following is public (a token
lets the viewer see more posts).  Entities come from :mod:`fedisora.convert`.

Account lists page by the id of the row that links the accounts (the Follow,
Block or Mute), as Mastodon's ``Link`` headers do.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from activitypub.client import FetchError

from ... import convert
from ...accounts.uris import instance_actor_uris
from ...convert.common import iso_or_none, media_url
from ...db.models import (
    Actor,
    Block,
    Follow,
    FollowState,
    MediaAttachment,
    Mute,
    Status,
    StatusTag,
    User,
    username_key,
)
from ...errors import APIError
from ...federation.remote import RemoteError, get_actor, resolve_handle
from ...media.images import ImageError, check_image
from ...media.storage import MediaStorage
from ...media.uploads import read_form
from ...processing import accounts as account_actions
from ...processing import follows as follow_actions
from ...processing import interactions
from ...processing.errors import ActionError
from ...processing.visibility import visible_to
from ...state import AppState
from .auth import Auth, authenticate, checked_form, optional_auth, request_params, text_param
from .pagination import order_page, page_params, paginate, paginated

__all__ = ["routes"]

CORS = {"Access-Control-Allow-Origin": "*"}
ACCOUNT_LIST_LIMIT = (40, 80)  # default, maximum (Mastodon's for account lists)
STATUS_LIST_LIMIT = (20, 40)
_MAX_ID = 2**63 - 1
_FALSE = {"false", "0", "f", "off", "no", "n"}
_TRUE = {"true", "1", "t", "on", "yes", "y"}
RECORD_NOT_FOUND = "Record not found"

Endpoint = Callable[[Request], Awaitable[Response]]


# ---- helpers ---------------------------------------------------------------------------------


def _state(request: Request) -> AppState:
    return request.app.state.fedisora  # type: ignore[no-any-return]


def _json(data: Any, status_code: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status_code, headers=CORS)


def _route(path: str, endpoint: Endpoint, methods: list[str]) -> Route:
    """A route that also answers CORS preflights (browser clients on other origins)."""

    async def handler(request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(
                status_code=204,
                headers={
                    **CORS,
                    "Access-Control-Allow-Methods": ", ".join([*methods, "OPTIONS"]),
                    "Access-Control-Allow-Headers": request.headers.get(
                        "access-control-request-headers", "Authorization, Content-Type"
                    ),
                    "Access-Control-Max-Age": "86400",
                },
            )
        return await endpoint(request)

    all_methods = [*methods, "OPTIONS"]
    if "GET" in methods:
        all_methods.append("HEAD")
    return Route(path, handler, methods=all_methods)


def _id_value(raw: Any) -> int | None:
    """An entity id as an int, or ``None`` when it is not one (unknown ids are 404s)."""
    text = str(raw).strip() if raw is not None else ""
    if not text.isascii() or not text.isdigit() or int(text) > _MAX_ID:
        return None
    return int(text)


def bool_param(params: dict[str, Any], name: str) -> bool | None:
    """A boolean parameter the way Rails reads it (``true``/``1``/``on``…); ``None`` when
    absent or empty; ``APIError(422)`` for anything else."""
    value = params.get(name)
    if isinstance(value, list):
        value = value[-1] if value else None
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return value != 0
    text = str(value).strip().lower()
    if text == "":
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise APIError(422, f"Invalid value for {name}")


def _int_param(params: dict[str, Any], name: str, default: int, *, low: int = 0, high: int = _MAX_ID) -> int:
    value = params.get(name)
    if isinstance(value, list):
        value = value[-1] if value else None
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    if isinstance(value, bool):
        raise APIError(422, f"Invalid {name}")
    try:
        number = int(str(value).strip())
    except ValueError:
        raise APIError(422, f"Invalid {name}") from None
    if not low <= number <= high:
        raise APIError(422, f"Invalid {name}")
    return number


def _not_gone() -> list[sa.ColumnElement[bool]]:
    return [col(Actor.suspended_at).is_(None), col(Actor.deleted_at).is_(None)]


async def _hidden(session: AsyncSession, actor: Actor, viewer: Actor | None) -> bool:
    """Local accounts awaiting approval are not shown to others (as on Mastodon)."""
    if not actor.local or (viewer is not None and viewer.id == actor.id):
        return False
    approved = (await session.exec(select(User.approved).where(User.actor_id == actor.id))).first()
    return approved is False


async def _account_or_404(session: AsyncSession, raw_id: Any, viewer: Actor | None = None) -> Actor:
    actor_id = _id_value(raw_id)
    actor = await session.get(Actor, actor_id) if actor_id is not None else None
    if actor is None or await _hidden(session, actor, viewer):
        raise APIError(404, RECORD_NOT_FOUND)
    return actor


async def _me(session: AsyncSession, auth: Auth) -> Actor:
    """The caller's actor, loaded in ``session``."""
    assert auth.actor is not None
    actor = await session.get(Actor, auth.actor.id)
    if actor is None:
        raise APIError(401, "The access token is invalid")
    return actor


def _action_error(exc: ActionError) -> APIError:
    return APIError(exc.status_code, exc.message)


async def _accounts(session: AsyncSession, request: Request, actors: list[Actor]) -> list[dict[str, Any]]:
    config = _state(request).config
    cache: convert.AccountCache = {}
    return [await convert.account(session, config, a, cache=cache) for a in actors]


# ---- credentials -----------------------------------------------------------------------------


async def verify_credentials(request: Request) -> Response:
    auth = await authenticate(request, scope="profile")
    state = _state(request)
    async with state.sessions() as session:
        me = await _me(session, auth)
        return _json(await convert.account(session, state.config, me, source=True, user=auth.user))


def _fields_given(params: dict[str, Any]) -> bool:
    """Whether non-empty profile fields were sent (in any of the shapes clients use)."""

    def non_empty(value: Any) -> bool:
        if isinstance(value, dict):
            return any(non_empty(v) for v in value.values())
        if isinstance(value, list):
            return any(non_empty(v) for v in value)
        return value is not None and str(value).strip() != ""

    return any(
        non_empty(value)
        for key, value in params.items()
        if key == "fields_attributes" or key.startswith("fields_attributes[")
    )


def _upload(files: dict[str, Any], name: str) -> Any:
    upload = files.get(name)
    if upload is None or (not upload.data and not upload.filename):
        return None  # an empty file input, as browsers send it
    return upload


async def update_credentials(request: Request) -> Response:
    auth = await authenticate(request, scope="write:accounts")
    state = _state(request)
    config = state.config
    mime = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    files: dict[str, Any] = {}
    if mime == "multipart/form-data":
        form = await read_form(request, max_bytes=2 * config.media.max_image_bytes + 1024 * 1024)
        params: dict[str, Any] = {k: v for k, v in request.query_params.items()}
        params.update(checked_form(form.fields))
        files = form.files
    else:
        params = await request_params(request)

    if _fields_given(params):
        raise APIError(422, "Profile fields are not supported yet")
    changes = account_actions.ProfileChanges(
        display_name=text_param(params, "display_name"),
        note=text_param(params, "note"),
        locked=bool_param(params, "locked"),
        bot=bool_param(params, "bot"),
        discoverable=bool_param(params, "discoverable"),
        indexable=bool_param(params, "indexable"),
    )
    try:
        account_actions.validate(changes)  # before storing any upload
    except ActionError as exc:
        raise _action_error(exc) from None
    images: dict[str, str] = {}
    storage = MediaStorage.from_config(config)
    for name, what in (("avatar", "Avatar"), ("header", "Header")):
        upload = _upload(files, name)
        if upload is None:
            continue
        try:
            info = check_image(upload.data, config.media.max_image_bytes, what=what)
        except ImageError as exc:
            raise APIError(422, f"Validation failed: {exc}") from None
        stored = await storage.store_bytes_async(upload.data, info.ext)
        images[name] = media_url(config, stored.path)
    changes = dataclasses.replace(changes, avatar_url=images.get("avatar"), header_url=images.get("header"))
    async with state.sessions() as session:
        me = await _me(session, auth)
        try:
            await account_actions.update_profile(session, state, me, changes)
        except ActionError as exc:
            raise _action_error(exc) from None
        await session.commit()
        return _json(await convert.account(session, config, me, source=True, user=auth.user))


# ---- one account -----------------------------------------------------------------------------


async def get_account(request: Request) -> Response:
    auth = await optional_auth(request, scope="read:accounts")
    viewer = auth.actor if auth else None
    state = _state(request)
    async with state.sessions() as session:
        actor = await _account_or_404(session, request.path_params["id"], viewer)
        return _json(await convert.account(session, state.config, actor))


async def account_statuses(request: Request) -> Response:
    auth = await optional_auth(request, scope="read:statuses")
    viewer = auth.actor if auth else None
    state = _state(request)
    params = await request_params(request)
    page = page_params(params, default=STATUS_LIST_LIMIT[0], maximum=STATUS_LIST_LIMIT[1])
    only_media = bool_param(params, "only_media")
    exclude_replies = bool_param(params, "exclude_replies")
    exclude_reblogs = bool_param(params, "exclude_reblogs")
    pinned = bool_param(params, "pinned")
    tagged = (text_param(params, "tagged") or "").strip().lstrip("#").lower()
    async with state.sessions() as session:
        actor = await _account_or_404(session, request.path_params["id"], viewer)
        if pinned:  # pinned posts are not stored yet: none
            return paginated(request, [], [], headers=CORS)
        stmt = select(Status).where(Status.actor_id == actor.id, visible_to(viewer))
        if only_media:
            stmt = stmt.where(
                col(Status.reblog_of_id).is_(None),
                sa.exists().where(col(MediaAttachment.status_id) == Status.id),
            )
        if exclude_replies:
            parent = aliased(Status)
            stmt = stmt.where(
                sa.or_(
                    col(Status.in_reply_to_uri).is_(None),
                    # a thread: replies to oneself stay, as on Mastodon
                    sa.exists().where(parent.id == Status.in_reply_to_id, parent.actor_id == actor.id),  # type: ignore[arg-type]
                )
            )
        if exclude_reblogs:
            stmt = stmt.where(col(Status.reblog_of_id).is_(None))
        if tagged:
            stmt = stmt.where(
                sa.exists().where(col(StatusTag.status_id) == Status.id, col(StatusTag.name) == tagged)
            )
        rows = order_page(list((await session.exec(paginate(stmt, Status.id, page))).all()), page)
        entities = await convert.statuses(session, state.config, rows, viewer=viewer)
        return paginated(request, entities, [r.id for r in rows], headers=CORS)


async def _follow_list(request: Request, *, followers: bool) -> Response:
    auth = await optional_auth(request, scope="read:accounts")
    viewer = auth.actor if auth else None
    state = _state(request)
    params = await request_params(request)
    page = page_params(params, default=ACCOUNT_LIST_LIMIT[0], maximum=ACCOUNT_LIST_LIMIT[1])
    async with state.sessions() as session:
        actor = await _account_or_404(session, request.path_params["id"], viewer)
        if viewer is not None and viewer.id != actor.id:
            blocked = (
                await session.exec(select(Block.id).where(Block.actor_id == actor.id, Block.target_id == viewer.id))
            ).first()
            if blocked is not None:  # Mastodon shows nothing to someone the account blocks
                return paginated(request, [], [], headers=CORS)
        other, this = (Follow.follower_id, Follow.target_id) if followers else (Follow.target_id, Follow.follower_id)
        stmt = (
            select(Follow, Actor)
            .join(Actor, col(Actor.id) == other)
            .where(this == actor.id, Follow.state == FollowState.ACCEPTED.value, *_not_gone())
        )
        rows = order_page(list((await session.exec(paginate(stmt, Follow.id, page))).all()), page)
        entities = await _accounts(session, request, [a for _, a in rows])
        return paginated(request, entities, [f.id for f, _ in rows], headers=CORS)


async def account_followers(request: Request) -> Response:
    return await _follow_list(request, followers=True)


async def account_following(request: Request) -> Response:
    return await _follow_list(request, followers=False)


# ---- actions ---------------------------------------------------------------------------------


async def _act(request: Request, scope: str, action: Callable[[AsyncSession, AppState, Actor, Actor, dict[str, Any]], Awaitable[Any]]) -> Response:
    """Authenticate, find the target, run ``action``, commit, answer the Relationship."""
    auth = await authenticate(request, scope=scope)
    state = _state(request)
    params = await request_params(request)
    async with state.sessions() as session:
        me = await _me(session, auth)
        target = await _account_or_404(session, request.path_params["id"], me)
        try:
            await action(session, state, me, target, params)
        except ActionError as exc:
            raise _action_error(exc) from None
        await session.commit()
        return _json(await convert.relationship(session, me, target))


async def follow(request: Request) -> Response:
    async def run(session: AsyncSession, state: AppState, me: Actor, target: Actor, params: dict[str, Any]) -> None:
        # `reblogs`, `notify` and `languages` are accepted but not stored yet.
        for name in ("reblogs", "notify"):
            bool_param(params, name)
        if not target.local and not target.inbox_uri:
            raise ActionError("This account cannot be followed", 422)
        await account_actions.follow_account(session, state, me, target)

    return await _act(request, "write:follows", run)


async def unfollow(request: Request) -> Response:
    async def run(session: AsyncSession, state: AppState, me: Actor, target: Actor, params: dict[str, Any]) -> None:
        await follow_actions.unfollow(session, state, me, target)

    return await _act(request, "write:follows", run)


async def block(request: Request) -> Response:
    async def run(session: AsyncSession, state: AppState, me: Actor, target: Actor, params: dict[str, Any]) -> None:
        await interactions.block(session, state, me, target)

    return await _act(request, "write:blocks", run)


async def unblock(request: Request) -> Response:
    async def run(session: AsyncSession, state: AppState, me: Actor, target: Actor, params: dict[str, Any]) -> None:
        await interactions.unblock(session, state, me, target)

    return await _act(request, "write:blocks", run)


async def mute(request: Request) -> Response:
    async def run(session: AsyncSession, state: AppState, me: Actor, target: Actor, params: dict[str, Any]) -> None:
        notifications = bool_param(params, "notifications")
        duration = _int_param(params, "duration", 0, high=account_actions.MAX_MUTE_SECONDS)
        await account_actions.mute(
            session, me, target, notifications=True if notifications is None else notifications, duration=duration
        )

    return await _act(request, "write:mutes", run)


async def unmute(request: Request) -> Response:
    async def run(session: AsyncSession, state: AppState, me: Actor, target: Actor, params: dict[str, Any]) -> None:
        await account_actions.unmute(session, me, target)

    return await _act(request, "write:mutes", run)


# ---- several accounts ------------------------------------------------------------------------


async def relationships(request: Request) -> Response:
    auth = await authenticate(request, scope="read:follows")
    params = await request_params(request)
    raw = params.get("id")
    values = raw if isinstance(raw, list) else ([] if raw is None else [raw])
    ids = list(dict.fromkeys(i for i in (_id_value(v) for v in values[:100]) if i is not None))
    with_suspended = bool_param(params, "with_suspended") or False
    async with _state(request).sessions() as session:
        me = await _me(session, auth)
        found = {a.id: a for a in (await session.exec(select(Actor).where(col(Actor.id).in_(ids)))).all()} if ids else {}
        out = []
        for actor_id in ids:
            actor = found.get(actor_id)
            if actor is None or await _hidden(session, actor, me):
                continue
            if not with_suspended and (actor.suspended_at is not None or actor.deleted_at is not None):
                continue
            out.append(await convert.relationship(session, me, actor))
        return _json(out)


def _split_acct(value: str, local_domain: str) -> tuple[str, str | None]:
    """``user``, ``@user``, ``user@host``, ``@user@host``, ``acct:user@host`` → (username,
    host or ``None`` for local)."""
    value = value.strip()
    value = value.removeprefix("acct:").lstrip("@")
    username, _, host = value.partition("@")
    host = host.strip().lower()
    if not host or host == local_domain.lower():
        return username, None
    return username, host


async def _known_by_handle(session: AsyncSession, state: AppState, username: str, host: str | None) -> Actor | None:
    domain = host or state.config.instance.domain
    if not username or len(username) > 200 or len(domain) > 300:
        return None
    query = select(Actor).where(Actor.username_key == username_key(username), Actor.domain == domain)
    if host is None:
        query = query.where(Actor.local)
    return (await session.exec(query)).first()


async def lookup(request: Request) -> Response:
    await optional_auth(request, scope="read:accounts")
    state = _state(request)
    params = await request_params(request)
    acct = text_param(params, "acct")
    if not acct or not acct.strip():
        raise APIError(400, "Missing required parameter: acct")
    username, host = _split_acct(acct, state.config.instance.domain)
    async with state.sessions() as session:
        actor = await _known_by_handle(session, state, username, host)
        if actor is None or await _hidden(session, actor, None):
            raise APIError(404, RECORD_NOT_FOUND)
        return _json(await convert.account(session, state.config, actor))


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped


async def _resolve(session: AsyncSession, state: AppState, q: str) -> Actor | None:
    """An account by handle or URL, fetched from its server if we do not know it."""
    try:
        if q.startswith(("https://", "http://")):
            known = (
                await session.exec(select(Actor).where(sa.or_(col(Actor.uri) == q, col(Actor.url) == q)))
            ).first()
            return known or await get_actor(session, state, q)
        username, host = _split_acct(q, state.config.instance.domain)
        return await resolve_handle(session, state, f"{username}@{host or state.config.instance.domain}")
    except (RemoteError, FetchError, ValueError):
        return None


async def search(request: Request) -> Response:
    auth = await authenticate(request, scope="read:accounts")
    state = _state(request)
    params = await request_params(request)
    q = (text_param(params, "q") or "").strip()
    if not q:
        raise APIError(400, "Missing required parameter: q")
    limit = max(1, min(_int_param(params, "limit", ACCOUNT_LIST_LIMIT[0]), ACCOUNT_LIST_LIMIT[1]))
    offset = _int_param(params, "offset", 0, high=10_000)
    resolve = bool_param(params, "resolve") or False
    following = bool_param(params, "following") or False
    instance_actor = instance_actor_uris(state.config.base_url).id
    async with state.sessions() as session:
        me = await _me(session, auth)
        results: list[Actor] = []
        handle = q.removeprefix("acct:").lstrip("@")
        if "@" in handle or q.startswith(("https://", "http://")):
            exact = None
            if "@" in handle and not handle.startswith(("https://", "http://")):
                username, host = _split_acct(handle, state.config.instance.domain)
                exact = await _known_by_handle(session, state, username, host)
            if exact is None and resolve and offset == 0:
                exact = await _resolve(session, state, q)
                await session.commit()  # keep what was fetched
            if exact is not None:
                results = [exact]
        else:
            pattern = _like_pattern(handle.lower())
            query = select(Actor).where(
                sa.or_(
                    col(Actor.username_key).like(pattern + "%", escape="\\"),
                    col(Actor.display_name).ilike("%" + pattern + "%", escape="\\"),
                ),
                col(Actor.uri) != instance_actor,
                *_not_gone(),
            )
            exact_first = sa.case((col(Actor.username_key) == handle.lower(), 0), else_=1)
            local_first = sa.case((col(Actor.local), 0), else_=1)
            query = query.order_by(exact_first, local_first, col(Actor.username_key), col(Actor.id))
            if following:
                query = query.where(
                    sa.exists().where(
                        col(Follow.follower_id) == me.id,
                        col(Follow.target_id) == Actor.id,
                        col(Follow.state) == FollowState.ACCEPTED.value,
                    )
                )
            results = list((await session.exec(query.offset(offset).limit(limit))).all())
        if following and results and "@" in handle:
            followed = {
                t for t in (
                    await session.exec(
                        select(Follow.target_id).where(
                            Follow.follower_id == me.id, Follow.state == FollowState.ACCEPTED.value
                        )
                    )
                ).all()
            }
            results = [a for a in results if a.id in followed]
        shown = [
            a for a in results
            if a.suspended_at is None and a.deleted_at is None and a.uri != instance_actor
            and not await _hidden(session, a, me)
        ]
        return _json(await _accounts(session, request, shown))


async def blocks(request: Request) -> Response:
    auth = await authenticate(request, scope="read:blocks")
    params = await request_params(request)
    page = page_params(params, default=ACCOUNT_LIST_LIMIT[0], maximum=ACCOUNT_LIST_LIMIT[1])
    async with _state(request).sessions() as session:
        me = await _me(session, auth)
        stmt = select(Block, Actor).join(Actor, col(Actor.id) == Block.target_id).where(Block.actor_id == me.id)
        rows = order_page(list((await session.exec(paginate(stmt, Block.id, page))).all()), page)
        entities = await _accounts(session, request, [a for _, a in rows])
        return paginated(request, entities, [b.id for b, _ in rows], headers=CORS)


async def mutes(request: Request) -> Response:
    auth = await authenticate(request, scope="read:mutes")
    params = await request_params(request)
    page = page_params(params, default=ACCOUNT_LIST_LIMIT[0], maximum=ACCOUNT_LIST_LIMIT[1])
    async with _state(request).sessions() as session:
        me = await _me(session, auth)
        stmt = (
            select(Mute, Actor)
            .join(Actor, col(Actor.id) == Mute.target_id)
            .where(Mute.actor_id == me.id, account_actions.active_mute_condition())
        )
        rows = order_page(list((await session.exec(paginate(stmt, Mute.id, page))).all()), page)
        entities = await _accounts(session, request, [a for _, a in rows])
        # Mastodon adds when each mute ends (null: never) to the accounts of this list.
        data = [{**e, "mute_expires_at": iso_or_none(m.expires_at)} for e, (m, _) in zip(entities, rows, strict=True)]
        return paginated(request, data, [m.id for m, _ in rows], headers=CORS)


# Ids are digits only (``{id:int}``), so other modules' ``/api/v1/accounts/<word>`` routes are
# never shadowed, and anything else is the router's 404.
routes: list[BaseRoute] = [
    _route("/api/v1/accounts/verify_credentials", verify_credentials, ["GET"]),
    _route("/api/v1/accounts/update_credentials", update_credentials, ["PATCH", "POST", "PUT"]),
    _route("/api/v1/accounts/relationships", relationships, ["GET"]),
    _route("/api/v1/accounts/lookup", lookup, ["GET"]),
    _route("/api/v1/accounts/search", search, ["GET"]),
    _route("/api/v1/blocks", blocks, ["GET"]),
    _route("/api/v1/mutes", mutes, ["GET"]),
    _route("/api/v1/accounts/{id:int}", get_account, ["GET"]),
    _route("/api/v1/accounts/{id:int}/statuses", account_statuses, ["GET"]),
    _route("/api/v1/accounts/{id:int}/followers", account_followers, ["GET"]),
    _route("/api/v1/accounts/{id:int}/following", account_following, ["GET"]),
    _route("/api/v1/accounts/{id:int}/follow", follow, ["POST"]),
    _route("/api/v1/accounts/{id:int}/unfollow", unfollow, ["POST"]),
    _route("/api/v1/accounts/{id:int}/block", block, ["POST"]),
    _route("/api/v1/accounts/{id:int}/unblock", unblock, ["POST"]),
    _route("/api/v1/accounts/{id:int}/mute", mute, ["POST"]),
    _route("/api/v1/accounts/{id:int}/unmute", unmute, ["POST"]),
]
