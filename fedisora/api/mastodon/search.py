"""``GET /api/v2/search``: accounts, posts and hashtags (docs.joinmastodon.org/methods/search).

Parameters as on Mastodon: ``q`` (required), ``type`` (``accounts``,
``statuses`` or ``hashtags``; all three when absent), ``resolve``, ``following``,
``account_id``, ``limit`` (default 20, at most 40) and ``offset``.  Without a
signed-in user, ``resolve`` and ``offset`` are refused with 401, as Mastodon
does.

- A URL finds the post or account with that id or URL that we already have;
  with ``resolve=true`` it is fetched from its server when we do not
  (a post through :func:`fedisora.processing.interactions.find_post`, else an
  actor).  Only that result is answered.
- Accounts: ``user@domain`` (with or without a leading ``@``) finds that account
  first, through WebFinger with ``resolve=true``; then local and known remote
  accounts whose username starts with the term or whose display name contains
  it.  Suspended and deleted accounts, the instance actor and accounts with a
  block either way are left out.
- Statuses: a simple full-text search (case-insensitive substring, no index:
  meant for small instances) over the viewer's own posts and the public posts
  of accounts that opted in to search (``indexable``), as far as the viewer may
  see them.  Signed-in users only; Mastodon needs Elasticsearch for this.
- Hashtags: names used by posts (``status_tags``) starting with the term,
  the most used first; an exact match comes first.
"""

from __future__ import annotations

import re
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
from ...accounts.uris import instance_actor_uris
from ...db.models import Actor, Block, Follow, FollowState, Status, StatusTag, Visibility, username_key
from ...errors import APIError
from ...federation.remote import RemoteError, get_actor, resolve_handle
from ...processing.errors import ActionError
from ...processing.interactions import find_post
from ...processing.visibility import can_see, visible_to
from ...state import AppState
from .auth import Auth, optional_auth, request_params, text_param
from .pagination import id_param
from .statuses import CORS, bool_param, endpoint

__all__ = ["routes"]

DEFAULT_LIMIT = 20
MAX_LIMIT = 40
MAX_OFFSET = 10_000
MAX_QUERY = 500
TYPES = ("accounts", "statuses", "hashtags")
TAG_NAME = re.compile(r"\w*[^\W\d_]\w*")
HANDLE = re.compile(r"@?(?P<user>[^@\s]+)(?:@(?P<host>[^@\s]+))?")
RESOLVE_NEEDS_LOGIN = "Search queries that resolve remote resources are not supported without authentication"
OFFSET_NEEDS_LOGIN = "Search queries pagination is not supported without authentication"


def _state(request: Request) -> AppState:
    return request.app.state.fedisora  # type: ignore[no-any-return]


def _int(params: dict[str, Any], name: str, default: int, maximum: int) -> int:
    raw = text_param(params, name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise APIError(422, f"Invalid {name}") from None
    return max(0, min(value, maximum))


def _like(term: str) -> str:
    """``term`` with LIKE's wildcards escaped (escape character ``\\``)."""
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class Search:
    """One search request: the viewer, the options and the session it runs in."""

    def __init__(self, session: AsyncSession, state: AppState, auth: Auth | None, params: dict[str, Any], q: str) -> None:
        self.session = session
        self.state = state
        self.viewer: Actor | None = auth.actor if auth is not None else None
        self.signed_in = auth is not None and auth.user is not None
        self.q = q
        self.type = text_param(params, "type")
        self.resolve = bool(bool_param(params, "resolve"))
        self.following = bool(bool_param(params, "following"))
        self.account_id = id_param(params, "account_id")
        self.limit = max(1, _int(params, "limit", DEFAULT_LIMIT, MAX_LIMIT))
        self.offset = _int(params, "offset", 0, MAX_OFFSET)
        self.cache: convert.AccountCache = {}

    def wants(self, kind: str) -> bool:
        return self.type in (None, "", kind)

    # ---- accounts ------------------------------------------------------------------------

    def _account_ok(self) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = [
            Actor.suspended_at.is_(None),  # type: ignore[union-attr]
            Actor.deleted_at.is_(None),  # type: ignore[union-attr]
            Actor.uri != instance_actor_uris(self.state.config.base_url).id,  # type: ignore[arg-type]
        ]
        if self.viewer is not None:
            blocked = select(Block.id).where(
                sa.or_(
                    sa.and_(Block.actor_id == self.viewer.id, Block.target_id == Actor.id),
                    sa.and_(Block.actor_id == Actor.id, Block.target_id == self.viewer.id),
                )
            )
            conditions.append(sa.not_(sa.exists(blocked)))
            if self.following:
                conditions.append(Actor.id.in_(self._followed()))  # type: ignore[attr-defined]
        elif self.following:
            conditions.append(sa.false())
        return conditions

    def _followed(self) -> Any:
        assert self.viewer is not None
        return select(Follow.target_id).where(
            Follow.follower_id == self.viewer.id, Follow.state == FollowState.ACCEPTED.value
        )

    async def _exact_account(self, user: str, host: str | None) -> Actor | None:
        domain = (host or self.state.config.instance.domain).lower()
        query = select(Actor).where(
            Actor.username_key == username_key(user), Actor.domain == domain, *self._account_ok()
        )
        found = (await self.session.exec(query)).first()
        if found is None and host and self.resolve and domain != self.state.config.instance.domain:
            try:
                found = await resolve_handle(self.session, self.state, f"{user}@{domain}")
            except RemoteError:
                return None
            await self.session.commit()
            # check the resolved account as any other (suspended, blocked ...)
            query = select(Actor).where(Actor.id == found.id, *self._account_ok())
            found = (await self.session.exec(query)).first()
        return found

    async def accounts(self) -> list[Actor]:
        if self.q.startswith("#") or ("@" in self.q and " " in self.q):
            return []
        match = HANDLE.fullmatch(self.q)
        found: list[Actor] = []
        term = self.q.lstrip("@")
        host: str | None = None
        if match is not None:
            term, host = match.group("user"), match.group("host")
            if self.offset == 0:
                exact = await self._exact_account(term, host)
                if exact is not None:
                    found.append(exact)
        if not term.strip():
            return found
        key = username_key(term)
        conditions = [
            sa.or_(
                Actor.username_key.like(f"{_like(key)}%", escape="\\"),  # type: ignore[attr-defined]
                sa.func.lower(Actor.display_name).like(f"%{_like(term.lower())}%", escape="\\"),
            ),
            *self._account_ok(),
        ]
        if host:
            conditions.append(Actor.domain.like(f"{_like(host.lower())}%", escape="\\"))  # type: ignore[attr-defined]
        if found:
            conditions.append(Actor.id != found[0].id)  # type: ignore[arg-type]
        order: list[Any] = [sa.case((Actor.username_key == key, 0), else_=1)]
        if self.viewer is not None:
            order.append(sa.case((Actor.id.in_(self._followed()), 0), else_=1))  # type: ignore[attr-defined]
        order += [sa.case((Actor.local.is_(True), 0), else_=1), Actor.username_key, Actor.id]  # type: ignore[attr-defined]
        remaining = self.limit - len(found)
        if remaining > 0:
            query = select(Actor).where(*conditions).order_by(*order).offset(self.offset).limit(remaining)
            found += list((await self.session.exec(query)).all())
        return found

    # ---- statuses ------------------------------------------------------------------------

    async def statuses(self) -> list[Status]:
        if self.viewer is None or not self.signed_in:
            return []
        if (self.q.startswith("#") or "@" in self.q) and " " not in self.q:
            return []
        author = aliased(Actor)
        searchable = sa.or_(
            Status.actor_id == self.viewer.id,  # type: ignore[arg-type]
            sa.and_(
                Status.visibility == Visibility.PUBLIC.value,  # type: ignore[arg-type]
                sa.exists().where(author.id == Status.actor_id, author.indexable.is_(True)),  # type: ignore[arg-type,attr-defined]
            ),
        )
        text = sa.func.lower(sa.func.coalesce(Status.source_text, Status.content))
        conditions = [
            Status.reblog_of_id.is_(None),  # type: ignore[union-attr]
            text.like(f"%{_like(self.q.lower())}%", escape="\\"),
            searchable,
            visible_to(self.viewer),
        ]
        if self.account_id is not None:
            conditions.append(Status.actor_id == self.account_id)  # type: ignore[arg-type]
        query = (
            select(Status).where(*conditions).order_by(Status.id.desc()).offset(self.offset).limit(self.limit)  # type: ignore[attr-defined]
        )
        return list((await self.session.exec(query)).all())

    # ---- hashtags ------------------------------------------------------------------------

    async def hashtags(self) -> list[str]:
        if "@" in self.q:
            return []
        term = self.q.strip().lstrip("#").strip().lower()
        if not term or not re.fullmatch(r"\w+", term):
            return []
        uses = sa.func.count(StatusTag.id)
        query = (
            select(StatusTag.name, uses)
            .where(StatusTag.name.like(f"{_like(term)}%", escape="\\"))  # type: ignore[attr-defined]
            .group_by(StatusTag.name)
            .order_by(uses.desc(), StatusTag.name)
            .offset(self.offset)
            .limit(self.limit)
        )
        names = [name for name, _ in (await self.session.exec(query)).all()]
        if self.offset == 0 and TAG_NAME.fullmatch(term):
            if term in names:
                names.remove(term)
                names.insert(0, term)
            elif (await self.session.exec(select(StatusTag.id).where(StatusTag.name == term))).first() is not None:
                names = [term, *names][: self.limit]
        return names

    # ---- URLs ----------------------------------------------------------------------------

    async def url(self) -> tuple[list[Actor], list[Status]]:
        """The post or account at the URL ``q`` (known, or fetched with ``resolve``)."""
        local_status = (
            await self.session.exec(
                select(Status).where(
                    sa.or_(Status.uri == self.q, Status.url == self.q),
                    Status.reblog_of_id.is_(None),  # type: ignore[union-attr]
                )
            )
        ).first()
        if local_status is not None:
            return [], ([local_status] if await can_see(self.session, self.viewer, local_status) else [])
        known_actor = (
            await self.session.exec(
                select(Actor).where(sa.or_(Actor.uri == self.q, Actor.url == self.q), *self._account_ok())
            )
        ).first()
        if known_actor is not None:
            return [known_actor], []
        if not self.resolve:
            return [], []
        if self.wants("statuses"):
            try:
                status = await find_post(self.session, self.state, self.q)
            except ActionError:
                await self.session.rollback()
            else:
                await self.session.commit()
                visible = await can_see(self.session, self.viewer, status)
                return [], ([status] if visible else [])
        if self.wants("accounts"):
            try:
                actor = await get_actor(self.session, self.state, self.q)
            except RemoteError:
                await self.session.rollback()
                return [], []
            await self.session.commit()
            query = select(Actor).where(Actor.id == actor.id, *self._account_ok())
            return list((await self.session.exec(query)).all()), []
        return [], []


async def search(request: Request) -> Response:
    auth = await optional_auth(request, scope="read:search")
    params = await request_params(request)
    q = (text_param(params, "q") or "").strip()
    if not q:
        raise APIError(400, "param is missing or the value is empty: q")
    q = q[:MAX_QUERY]
    state = _state(request)
    async with state.sessions() as session:
        run = Search(session, state, auth, params, q)
        if not run.signed_in:
            if run.offset:
                raise APIError(401, OFFSET_NEEDS_LOGIN)
            if run.resolve:
                raise APIError(401, RESOLVE_NEEDS_LOGIN)
        accounts: list[Actor] = []
        statuses: list[Status] = []
        names: list[str] = []
        if q.startswith(("https://", "http://")) and " " not in q:
            if run.offset == 0:
                accounts, statuses = await run.url()
        else:
            if run.wants("accounts"):
                accounts = await run.accounts()
            if run.wants("statuses"):
                statuses = await run.statuses()
            if run.wants("hashtags"):
                names = await run.hashtags()
        if not run.wants("accounts"):
            accounts = []
        if not run.wants("statuses"):
            statuses = []
        cache: convert.AccountCache = {}
        following = False if run.viewer is not None else None  # we keep no followed hashtags yet
        data = {
            "accounts": [await convert.account(session, state.config, a, cache=cache) for a in accounts],
            "statuses": [await convert.status(session, state.config, s, viewer=run.viewer, cache=cache) for s in statuses],
            "hashtags": [convert.tag(state.config, name, following=following) for name in names],
        }
    return JSONResponse(data, headers=CORS)


routes: list[BaseRoute] = [
    endpoint("/api/v2/search", {"GET": search}),
]
