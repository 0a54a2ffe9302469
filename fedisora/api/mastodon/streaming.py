"""The Mastodon streaming API (docs.joinmastodon.org/methods/streaming), served by this app.

Two transports, as on Mastodon:

- a WebSocket at ``/api/v1/streaming`` (and ``/api/v1/streaming/``, which
  Mastodon's web client uses).  The token comes as the ``access_token`` query
  parameter, an ``Authorization: Bearer`` header, or the
  ``Sec-WebSocket-Protocol`` header (the server then answers with that
  subprotocol, as browsers require).  ``?stream=…`` (with ``tag=`` for
  hashtags) subscribes at once; ``{"type": "subscribe", "stream": "hashtag",
  "tag": "x"}`` and ``{"type": "unsubscribe", …}`` messages add and remove
  streams.  Every event is one text message ``{"stream": ["hashtag", "x"],
  "event": "update", "payload": "<JSON string>"}``; a refused subscription
  is answered ``{"error": "…", "status": 4xx}``;
- server-sent events at ``/api/v1/streaming/user``, ``/user/notification``,
  ``/public`` (``only_media``), ``/public/local``, ``/public/remote``,
  ``/hashtag?tag=`` and ``/hashtag/local?tag=``: ``event: update`` /
  ``data: <payload>`` blocks, a ``:)`` comment first and a ``:thump``
  comment every 15 seconds.

``GET /api/v1/streaming/health`` answers ``OK``.

Streams: ``user`` (the home timeline as :func:`timelines.home_condition`
defines it, plus notifications when the token may read them),
``user:notification``, ``public``, ``public:local``, ``public:remote`` (each
with ``:media``), ``hashtag`` and ``hashtag:local``.  Events: ``update`` (a
new post or boost), ``status.update`` (an edit), ``delete`` (payload: the
post id) and ``notification``.  Posts go through the same
:func:`visible_to`/:func:`not_muted` rules and the same timeline conditions
as the REST timelines, and notifications through
:func:`notifications.shown_to`.  Public streams need no token (Mastodon's
default before 4.2's ``alwaysRequireAuth`` setups); user streams need a user
token with ``read``/``read:statuses`` (``read:notifications`` for
``user:notification``).

Design: nothing is published in process.  Posts and notifications are made
by any process on the database (``fedisora serve``, ``fedisora worker``, the
CLI), so each serving process runs one :class:`Hub` that polls the database
every :data:`POLL_INTERVAL` seconds while someone is connected, and fans the
news out to its connections:

- new ``statuses`` and ``notifications``: primary-key ranges above a
  snowflake id a little in the past (:data:`LOOKBACK`, so that rows
  committed late by a slow transaction elsewhere are not missed), minus the
  ids already seen;
- edits and deletions: the ``Update``/``Delete`` activities (their ids, an
  indexed range as well) that name a post: local ones at once, remote ones
  once the inbox job has processed them.

Each connection then asks, for just those ids, which rows its streams
include for its viewer (one small query per stream and event kind, only
when something happened), converts them with :mod:`fedisora.convert` and
sends them.  Unboosting (its row is deleted outright) sends no ``delete``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import ColumnElement
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from activitypub import safejson

from ... import convert
from ...db.ids import id_for_time
from ...db.models import Activity, ActivityState, Actor, Notification, OAuthToken, Status, utcnow
from ...errors import APIError
from ...processing.visibility import not_muted, visible_to
from ...state import AppState
from .auth import Auth, optional_auth
from .notifications import notification_entities, shown_to
from .timelines import home_condition, public_condition, tag_condition

__all__ = ["routes", "Hub", "hub_of", "POLL_INTERVAL", "HEARTBEAT"]

log = logging.getLogger(__name__)

POLL_INTERVAL = 0.5  # seconds between two looks at the database
LOOKBACK = timedelta(seconds=30)  # how late another process may commit a row and still be streamed
HEARTBEAT = 15.0  # seconds between two SSE ":thump" comments (Mastodon's interval)
TOKEN_CHECK = 60.0  # seconds between two checks that a connection's token is still live
PENDING_TTL = 600.0  # how long a remote Update/Delete may wait for its inbox job
MAX_ROWS = 5000  # new rows looked at per poll and table
QUEUE_SIZE = 256  # batches (per connection) or messages waiting to be sent
MAX_TAG = 100

PUBLIC_STREAMS = (
    "public",
    "public:media",
    "public:local",
    "public:local:media",
    "public:remote",
    "public:remote:media",
    "hashtag",
    "hashtag:local",
)
USER_STREAMS = ("user", "user:notification")


class StreamError(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


# ---- what happened: the hub's batches ---------------------------------------------------------


@dataclass
class Batch:
    """What one poll found (ids in ascending order)."""

    statuses: list[int] = field(default_factory=list)
    edited: list[int] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)
    notifications: list[int] = field(default_factory=list)
    recipients: set[int] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.statuses or self.edited or self.deleted or self.notifications)


class Cursor:
    """New ids of one table: those at or above a moving floor not reported yet."""

    def __init__(self) -> None:
        self.floor = id_for_time(utcnow())  # nothing from before the hub started
        self.seen: set[int] = set()

    def bound(self) -> int:
        return max(self.floor, id_for_time(utcnow() - LOOKBACK))

    def fresh(self, ids: list[int]) -> list[int]:
        new = sorted(i for i in ids if i not in self.seen)
        self.seen.update(new)
        bound = self.bound()
        self.seen = {i for i in self.seen if i >= bound}
        return new


class Hub:
    """One per app: polls the database while connections listen, hands them batches."""

    def __init__(self, state: AppState, *, interval: float = POLL_INTERVAL) -> None:
        self.state = state
        self.interval = interval
        self.connections: set[Connection] = set()
        self._task: asyncio.Task[None] | None = None
        self._statuses = Cursor()
        self._notifications = Cursor()
        self._activities = Cursor()
        self._pending: dict[int, tuple[str, str | None, float]] = {}

    def add(self, connection: Connection) -> None:
        self.connections.add(connection)
        if self._task is None or self._task.done():
            self._statuses, self._notifications, self._activities = Cursor(), Cursor(), Cursor()
            self._pending = {}
            self._task = asyncio.get_running_loop().create_task(self._run(), name="fedisora-streaming-hub")

    def remove(self, connection: Connection) -> None:
        self.connections.discard(connection)

    async def _run(self) -> None:
        while self.connections:
            if _server_stopping():
                for connection in list(self.connections):
                    connection.end()
                await asyncio.sleep(self.interval)
                continue
            try:
                batch = await self.poll()
            except asyncio.CancelledError:
                raise
            except Exception:  # a busy or restarting database: try again at the next tick
                log.warning("streaming: polling the database failed", exc_info=True)
                batch = Batch()
            if batch:
                for connection in list(self.connections):
                    connection.deliver(batch)
            await asyncio.sleep(self.interval)

    async def poll(self) -> Batch:
        batch = Batch()
        async with self.state.sessions() as session:
            ids = (
                await session.exec(
                    select(Status.id).where(Status.id >= self._statuses.bound()).order_by(Status.id).limit(MAX_ROWS)  # type: ignore[arg-type]
                )
            ).all()
            batch.statuses = self._statuses.fresh(list(ids))
            rows = (
                await session.exec(
                    select(Notification.id, Notification.recipient_id)
                    .where(Notification.id >= self._notifications.bound())  # type: ignore[arg-type]
                    .order_by(Notification.id)
                    .limit(MAX_ROWS)
                )
            ).all()
            recipients = dict(rows)
            batch.notifications = self._notifications.fresh(list(recipients))
            batch.recipients = {recipients[i] for i in batch.notifications}
            await self._poll_activities(session, batch)
        return batch

    async def _poll_activities(self, session: AsyncSession, batch: Batch) -> None:
        rows = (
            await session.exec(
                select(Activity.id, Activity.activity_type, Activity.object_uri, Activity.local, Activity.state)
                .where(
                    Activity.id >= self._activities.bound(),  # type: ignore[arg-type]
                    Activity.activity_type.in_(("Update", "Delete")),  # type: ignore[attr-defined]
                )
                .order_by(Activity.id)
                .limit(MAX_ROWS)
            )
        ).all()
        by_id = {row[0]: row for row in rows}
        now = time.monotonic()
        ready: list[tuple[str, str | None]] = []
        for activity_id in self._activities.fresh(list(by_id)):
            _, kind, object_uri, local, state = by_id[activity_id]
            if local or state != ActivityState.RECEIVED.value:
                ready.append((kind, object_uri))
            else:  # a remote activity: its post changes when the inbox job has run
                self._pending[activity_id] = (kind, object_uri, now)
        if self._pending:
            states = dict(
                (
                    await session.exec(
                        select(Activity.id, Activity.state).where(Activity.id.in_(list(self._pending)))  # type: ignore[attr-defined]
                    )
                ).all()
            )
            for activity_id, (kind, object_uri, since) in list(self._pending.items()):
                state = states.get(activity_id)
                if state is not None and state != ActivityState.RECEIVED.value:
                    ready.append((kind, object_uri))
                    del self._pending[activity_id]
                elif state is None or now - since > PENDING_TTL:
                    del self._pending[activity_id]
        uris = {uri for _, uri in ready if uri}
        if not uris:
            return
        posts = {
            row[0]: row
            for row in (
                await session.exec(
                    select(Status.uri, Status.id, Status.deleted_at, Status.reblog_of_id).where(Status.uri.in_(uris))  # type: ignore[attr-defined]
                )
            ).all()
        }
        edited: set[int] = set()
        deleted: set[int] = set()
        for kind, uri in ready:
            post = posts.get(uri or "")
            if post is None:
                continue  # an actor's update, or a post we never had
            _, status_id, deleted_at, reblog_of_id = post
            if kind == "Delete" and deleted_at is not None:
                deleted.add(status_id)
            elif kind == "Update" and deleted_at is None and reblog_of_id is None:
                edited.add(status_id)
        batch.edited = sorted(edited - deleted)
        batch.deleted = sorted(deleted)


def _server_stopping() -> bool:
    """Whether the uvicorn server running this app was asked to stop.

    uvicorn waits for open responses before it shuts down, and a stream of
    server-sent events never ends by itself; so streams end when the server
    stops.  uvicorn's SIGTERM handler, while it serves, is its ``Server.handle_exit``,
    which sets ``should_exit``: read it (nothing is installed; under anything
    else this is simply false).
    """
    try:
        handler = signal.getsignal(signal.SIGTERM)
    except (ValueError, OSError):  # pragma: no cover - not the main interpreter
        return False
    return bool(getattr(getattr(handler, "__self__", None), "should_exit", False))


def hub_of(app: Any) -> Hub:
    """The app's hub (made on first use)."""
    hub: Hub | None = getattr(app.state, "fedisora_streaming", None)
    if hub is None:
        hub = Hub(app.state.fedisora)
        app.state.fedisora_streaming = hub
    return hub


# ---- one client: its streams, and what they make of a batch -----------------------------------


@dataclass(frozen=True)
class Subscription:
    name: str
    tag: str | None = None

    @property
    def stream(self) -> list[str]:
        return [self.name, self.tag] if self.tag is not None else [self.name]

    @property
    def posts(self) -> bool:
        return self.name != "user:notification"


def _flag(value: Any) -> bool:
    return isinstance(value, (str, bool, int)) and str(value).strip().lower() not in ("", "0", "f", "false", "off", "no")


def make_subscription(auth: Auth | None, name: Any, params: dict[str, Any]) -> Subscription:
    """Check one stream request (name, ``tag``, ``only_media``) against the token: a
    :class:`Subscription` or :class:`StreamError` with Mastodon's messages."""
    if isinstance(name, list):
        name = name[0] if name else None
    if not isinstance(name, str) or not name:
        raise StreamError("Unknown stream type")
    if name in ("public", "public:local", "public:remote") and _flag(params.get("only_media")):
        name += ":media"
    if name in USER_STREAMS:
        needed = "read:notifications" if name == "user:notification" else "read:statuses"
        if auth is None or auth.actor is None or not auth.allows(needed):
            raise StreamError("Access token does not have the required scopes", 401)
        return Subscription(name)
    if name in ("hashtag", "hashtag:local"):
        tag = params.get("tag")
        if isinstance(tag, list):
            tag = tag[0] if tag else None
        if not isinstance(tag, str) or not tag.strip().lstrip("#"):
            raise StreamError("No tag for stream provided")
        return Subscription(name, tag.strip().lstrip("#")[:MAX_TAG])
    if name in PUBLIC_STREAMS:
        return Subscription(name)
    if name == "list":
        raise StreamError("Not authorized to stream this list", 401)
    raise StreamError("Unknown stream type")


def _condition(subscription: Subscription, viewer: Actor | None) -> ColumnElement[bool]:
    """Which posts belong on the stream (before visibility and mutes)."""
    name = subscription.name
    if name == "user":
        assert viewer is not None
        return home_condition(viewer)
    params: dict[str, Any] = {}
    if ":local" in name:
        params["local"] = "true"
    if ":remote" in name:
        params["remote"] = "true"
    if name.endswith(":media"):
        params["only_media"] = "true"
    if name.startswith("hashtag"):
        assert subscription.tag is not None
        return tag_condition(subscription.tag, params)
    return public_condition(params)


Outgoing = tuple[list[str], str, str] | str | None


class Connection:
    """One streaming client: its viewer, its subscriptions, batches waiting for it, and the
    messages ready for its transport (``outbox``: ``(stream, event, payload)``, a ready
    text message (errors), or ``None`` when the connection must end)."""

    def __init__(self, state: AppState, auth: Auth | None) -> None:
        self.state = state
        self.auth = auth
        self.viewer: Actor | None = auth.actor if auth is not None else None
        self.subscriptions: dict[tuple[str, str | None], Subscription] = {}
        self.inbox: asyncio.Queue[Batch] = asyncio.Queue(QUEUE_SIZE)
        self.outbox: asyncio.Queue[Outgoing] = asyncio.Queue(QUEUE_SIZE)
        self.dropped = 0

    def subscribe(self, subscription: Subscription) -> None:
        self.subscriptions[(subscription.name, (subscription.tag or "").lower() or None)] = subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self.subscriptions.pop((subscription.name, (subscription.tag or "").lower() or None), None)

    def deliver(self, batch: Batch) -> None:
        try:
            self.inbox.put_nowait(batch)
        except asyncio.QueueFull:  # a client that does not read: it misses events
            self.dropped += 1

    def end(self) -> None:
        """Close the connection (the server is stopping)."""
        self._put(None)

    def say(self, text: str) -> None:
        """Queue a ready message (a subscription error)."""
        self._put(text)

    def _put(self, item: Outgoing) -> None:
        try:
            self.outbox.put_nowait(item)
        except asyncio.QueueFull:
            self.dropped += 1

    async def run(self) -> None:
        """Turn batches into messages until cancelled (or the token is revoked)."""
        last_check = time.monotonic()
        while True:
            try:
                batch = await asyncio.wait_for(self.inbox.get(), timeout=TOKEN_CHECK)
            except TimeoutError:
                batch = None
            if time.monotonic() - last_check >= TOKEN_CHECK:
                last_check = time.monotonic()
                if not await self._token_live():
                    self._put(None)
                    return
            if batch:
                try:
                    await self._handle(batch)
                except Exception:
                    log.warning("streaming: could not build events", exc_info=True)

    async def _token_live(self) -> bool:
        if self.auth is None:
            return True
        async with self.state.sessions() as session:
            token = await session.get(OAuthToken, self.auth.token_id)
            return token is not None and token.revoked_at is None

    def _wants_notifications(self, subscription: Subscription) -> bool:
        if subscription.name == "user:notification":
            return True
        return subscription.name == "user" and self.auth is not None and self.auth.allows("read:notifications")

    async def _handle(self, batch: Batch) -> None:
        subscriptions = list(self.subscriptions.values())
        if not subscriptions:
            return
        viewer = self.viewer
        config = self.state.config
        async with self.state.sessions() as session:
            cache: convert.AccountCache = {}
            payloads: dict[int, str] = {}

            async def payload(row: Status) -> str:
                if row.id not in payloads:
                    entity = await convert.status(session, config, row, viewer=viewer, cache=cache)
                    payloads[row.id] = json.dumps(entity)
                return payloads[row.id]

            async def posts(ids: list[int], subscription: Subscription) -> list[Status]:
                query = (
                    select(Status)
                    .where(
                        Status.id.in_(ids),  # type: ignore[attr-defined]
                        _condition(subscription, viewer),
                        visible_to(viewer),
                        not_muted(viewer),
                    )
                    .order_by(Status.id)
                )
                return list((await session.exec(query)).all())

            for subscription in subscriptions:
                stream = subscription.stream
                if subscription.posts:
                    if batch.statuses:
                        for row in await posts(batch.statuses, subscription):
                            self._put((stream, "update", await payload(row)))
                    if batch.edited:
                        for row in await posts(batch.edited, subscription):
                            self._put((stream, "status.update", await payload(row)))
                    if batch.deleted:
                        query = select(Status.id).where(
                            Status.id.in_(batch.deleted),  # type: ignore[attr-defined]
                            _condition(subscription, viewer),
                        )
                        for status_id in sorted((await session.exec(query)).all()):
                            self._put((stream, "delete", str(status_id)))
                if (
                    viewer is not None
                    and batch.notifications
                    and viewer.id in batch.recipients
                    and self._wants_notifications(subscription)
                ):
                    query = (
                        select(Notification)
                        .where(Notification.id.in_(batch.notifications), shown_to(viewer))  # type: ignore[attr-defined]
                        .order_by(Notification.id)
                    )
                    rows = list((await session.exec(query)).all())
                    for entity in await notification_entities(session, self.state, rows, viewer):
                        self._put((stream, "notification", json.dumps(entity)))


@contextlib.asynccontextmanager
async def _connected(hub: Hub, connection: Connection) -> AsyncIterator[asyncio.Task[None]]:
    """The connection listening to the hub, with its event builder running."""
    task = asyncio.get_running_loop().create_task(connection.run(), name="fedisora-streaming-connection")
    hub.add(connection)
    try:
        yield task
    finally:
        hub.remove(connection)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


# ---- tokens ------------------------------------------------------------------------------------


async def _auth_for(connection: Request | WebSocket, token: str | None) -> Auth | None:
    """The token's :class:`Auth` (``None`` without one) through the API's own checks."""
    if not token:
        return None
    scope = {
        **connection.scope,
        "type": "http",
        "method": "GET",
        "headers": [(b"authorization", f"Bearer {token}".encode("latin-1", "replace"))],
        "query_string": b"",
    }
    return await optional_auth(Request(scope))


def _websocket_token(websocket: WebSocket) -> tuple[str | None, str | None]:
    """``(token, subprotocol to answer)``."""
    token = websocket.query_params.get("access_token")
    if token:
        return token, None
    header = websocket.headers.get("authorization", "")
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip(), None
    protocol = websocket.headers.get("sec-websocket-protocol", "").split(",")[0].strip()
    if protocol:
        return protocol, protocol
    return None, None


# ---- WebSocket -------------------------------------------------------------------------------


def _message(stream: list[str], event: str, payload: str) -> str:
    return json.dumps({"stream": stream, "event": event, "payload": payload})


async def _deny(websocket: WebSocket, status: int, message: str) -> None:
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        await websocket.send_denial_response(JSONResponse({"error": message}, status_code=status))
    else:
        await websocket.close(code=1008, reason=message)


async def websocket_stream(websocket: WebSocket) -> None:
    token, subprotocol = _websocket_token(websocket)
    try:
        auth = await _auth_for(websocket, token)
    except APIError as exc:
        await _deny(websocket, 401, exc.message)
        return
    await websocket.accept(subprotocol=subprotocol)
    connection = Connection(websocket.app.state.fedisora, auth)

    def subscribe(params: dict[str, Any], *, unsubscribe: bool = False) -> None:
        try:
            subscription = make_subscription(auth, params.get("stream"), params)
        except StreamError as exc:
            connection.say(json.dumps({"error": exc.message, "status": exc.status}))
            return
        if unsubscribe:
            connection.unsubscribe(subscription)
        else:
            connection.subscribe(subscription)

    query = dict(websocket.query_params)
    if query.get("stream"):
        subscribe(query)

    async def receive() -> None:
        while True:
            text = await websocket.receive_text()
            try:
                message = safejson.loads(text)
            except ValueError:
                continue  # as Mastodon: what is not JSON is ignored (and so is JSON we refuse)
            if isinstance(message, dict) and message.get("type") in ("subscribe", "unsubscribe"):
                subscribe(message, unsubscribe=message["type"] == "unsubscribe")

    async def send() -> None:
        while True:
            item = await connection.outbox.get()
            if item is None:  # the token was revoked, or the server is stopping
                await websocket.close(code=1001)
                return
            await websocket.send_text(item if isinstance(item, str) else _message(*item))

    async with _connected(hub_of(websocket.app), connection):
        tasks = [asyncio.ensure_future(receive()), asyncio.ensure_future(send())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                # the client went away (WebSocketDisconnect, or a send on a closed socket)
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task


# ---- server-sent events ----------------------------------------------------------------------

_SSE_STREAMS = {
    "/api/v1/streaming/user": "user",
    "/api/v1/streaming/user/notification": "user:notification",
    "/api/v1/streaming/public": "public",
    "/api/v1/streaming/public/local": "public:local",
    "/api/v1/streaming/public/remote": "public:remote",
    "/api/v1/streaming/hashtag": "hashtag",
    "/api/v1/streaming/hashtag/local": "hashtag:local",
}
SSE_HEADERS = {
    "Cache-Control": "no-store",
    "Access-Control-Allow-Origin": "*",
    "X-Accel-Buffering": "no",
}


async def _sse_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.query_params.get("access_token") or None


async def sse_stream(request: Request) -> Response:
    if request.method == "OPTIONS":
        return Response(
            status_code=204,
            headers={
                "Access-Control-Allow-Origin": "*",
                "Access-Control-Allow-Headers": "Authorization, Accept, Cache-Control",
                "Access-Control-Allow-Methods": "GET, OPTIONS",
            },
        )
    name = _SSE_STREAMS[request.url.path.rstrip("/")]
    token = await _sse_token(request)
    try:
        auth = await _auth_for(request, token)
    except APIError as exc:
        raise APIError(401, exc.message) from None
    if name in USER_STREAMS and auth is None:
        raise APIError(401, "Missing access token")
    try:
        subscription = make_subscription(auth, name, dict(request.query_params))
    except StreamError as exc:
        raise APIError(401 if exc.status == 401 else 404, exc.message) from None
    state: AppState = request.app.state.fedisora
    connection = Connection(state, auth)
    connection.subscribe(subscription)
    hub = hub_of(request.app)

    async def events() -> AsyncIterator[str]:
        async with _connected(hub, connection):
            yield ":)\n"
            while True:
                try:
                    item = await asyncio.wait_for(connection.outbox.get(), timeout=HEARTBEAT)
                except TimeoutError:
                    yield ":thump\n"
                    continue
                if item is None:
                    return
                if isinstance(item, str):
                    continue
                _, event, payload = item
                yield f"event: {event}\ndata: {payload}\n\n"

    return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)


async def health(request: Request) -> Response:
    return PlainTextResponse("OK", headers={"Access-Control-Allow-Origin": "*"})


routes: list[BaseRoute] = [
    Route("/api/v1/streaming/health", health, methods=["GET", "HEAD"]),
    WebSocketRoute("/api/v1/streaming", websocket_stream),
    WebSocketRoute("/api/v1/streaming/", websocket_stream),
    *(Route(path, sse_stream, methods=["GET", "OPTIONS"]) for path in _SSE_STREAMS),
]
