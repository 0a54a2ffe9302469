"""An in-process fediverse: several fedisora instances with their own domains and databases.

Every instance's federation client talks through one :class:`RoutingTransport`
that hands each request to the ASGI app owning the URL's host, so federation
flows run fast, deterministically and without sockets.  Background jobs run
only when a test calls :meth:`Fediverse.settle`, one step at a time.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from awr.proof import verify_document_signature as awr_verify
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from starlette.applications import Starlette

from activitypub.keys import ed25519_public_from_multibase
from activitypub.signatures import sign_request, sign_request_rfc9421
from fedisora.accounts.service import create_account, ensure_instance_actor
from fedisora.app import create_app
from fedisora.db.models import Actor, Job, JobState, Key, KeyAlgorithm, utcnow
from fedisora.jobs.runner import JobRunner
from fedisora.state import AppState
from fedisora.workers import job_handlers
from instance_config import Config, parse_config, render_config
from tests.templates import migrate


class RoutingTransport(httpx.AsyncBaseTransport):
    """Routes each request to the app registered for its host; records every request."""

    def __init__(self) -> None:
        self.apps: dict[str, httpx.ASGITransport] = {}
        self.down: set[str] = set()
        self.requests: list[httpx.Request] = []

    def add(self, host: str, app: Starlette) -> None:
        self.apps[host] = httpx.ASGITransport(app=app, raise_app_exceptions=False)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        host = request.url.netloc.decode("ascii").lower()
        if host in self.down or host not in self.apps:
            raise httpx.ConnectError(f"cannot connect to {host}", request=request)
        return await self.apps[host].handle_async_request(request)

    def posts_to(self, host: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == "POST" and r.url.host == host]


class StaticPeer:
    """A fake remote server: fixed JSON documents for one host, and a record of what it got.

    ``documents`` maps a full URL (``https://host/path``, query included when
    there is one) to a JSON document, or to an int: an HTTP status answered with
    a small JSON error body (``410`` for a gone actor).  Every POST is recorded in
    ``received`` and answered 202 (or ``post_answer``: status, content type, body);
    any other unknown URL is a 404.  Register it with :meth:`Fediverse.add_documents`.
    """

    post_answer: tuple[int, str, bytes] = (202, "application/json", b"")

    def __init__(self, host: str, documents: Mapping[str, Any] | None = None) -> None:
        self.host = host
        self.documents: dict[str, Any] = dict(documents or {})
        self.received: list[tuple[str, dict[str, str], bytes]] = []
        self.requests: list[tuple[str, str, dict[str, str]]] = []

    def serve(self, url: str, document: Any) -> None:
        self.documents[url] = document

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        query = scope.get("query_string", b"").decode("latin-1")
        url = f"https://{self.host}{scope['path']}" + (f"?{query}" if query else "")
        self.requests.append((scope["method"], url, headers))
        body = bytearray()
        while True:
            message = await receive()
            body.extend(message.get("body", b""))
            if not message.get("more_body"):
                break
        status, content_type, payload = 404, "application/json", b'{"error": "Record not found"}'
        if scope["method"] == "POST":
            self.received.append((url, headers, bytes(body)))
            status, content_type, payload = self.post_answer
        elif url in self.documents:
            document = self.documents[url]
            if isinstance(document, int):
                status, payload = document, b'{"error": "gone"}' if document == 410 else b"{}"
            else:
                status, content_type = 200, "application/activity+json"
                payload = json.dumps(document).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", content_type.encode()), (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})

    def posted_activities(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, _, body in self.received if body]


async def signed_post(
    client: httpx.AsyncClient,
    url: str,
    activity: Any,
    key_id: str,
    private_key_pem: str,
    *,
    now: Any = None,
    content_type: str = "application/activity+json",
    rfc9421: bool = False,
    send_body: bytes | None = None,
) -> httpx.Response:
    """POST ``activity`` (a JSON value, or raw bytes) to ``url`` signed as a peer would sign it.

    ``now`` backdates or postdates the signature; ``send_body`` sends other bytes
    than the ones signed (a body tampered with in transit).
    """
    body = activity if isinstance(activity, bytes) else json.dumps(activity).encode()
    headers = {"Content-Type": content_type, "Accept": "application/activity+json"}
    if rfc9421:
        signed = sign_request_rfc9421("POST", url, headers, body, key_id, private_key_pem, created=now)
    else:
        signed = sign_request("POST", url, headers, body, key_id, private_key_pem, now=now)
    return await client.post(url, content=body if send_body is None else send_body, headers=signed)


async def token_for(
    instance: Instance, who: Actor | str | None, scopes: str = "read write follow"
) -> str:
    """A bearer token issued with the OAuth service functions (no login page involved).

    ``who`` is a local actor, a local username, or ``None`` for an app-only token.
    """
    from fedisora.db.models import User
    from fedisora.oauth.apps import register_app
    from fedisora.oauth.tokens import issue_token
    from sqlmodel import select

    async with instance.state.sessions() as session:
        user_id = None
        if who is not None:
            query = select(User.id).join(Actor, Actor.id == User.actor_id)
            if isinstance(who, str):
                query = query.where(Actor.local, Actor.username == who)
            else:
                query = query.where(Actor.id == who.id)
            user_id = (await session.exec(query)).one()
        app = await register_app(session, name="tests", redirect_uris="urn:ietf:wg:oauth:2.0:oob", scopes=scopes)
        issued = await issue_token(session, application_id=app.app.id, user_id=user_id, scopes=scopes.split())
        await session.commit()
        return issued.access_token


async def stored_ed25519_key(instance: Instance, actor_uri: str) -> Ed25519PublicKey:
    """``actor_uri``'s Ed25519 public key as ``instance`` stores it (``keys.public_key_pem``)."""
    from sqlmodel import col, select

    async with instance.state.sessions() as session:
        query = (
            select(Key.public_key_pem)
            .join(Actor, col(Actor.id) == Key.actor_id)
            .where(Actor.uri == actor_uri, Key.algorithm == KeyAlgorithm.ED25519.value)
        )
        pem = (await session.exec(query)).one()
    assert pem is not None
    key = load_pem_public_key(pem.encode())
    assert isinstance(key, Ed25519PublicKey)
    return key


async def published_multikey(instance: Instance, verification_method: str) -> bytes:
    """The raw 32-byte Ed25519 key behind ``verification_method`` (``<actor>#<fragment>``), as
    its controller publishes it: read from the actor document ``instance`` serves over HTTP
    (FEP-521a ``assertionMethod``), the way any other server would find it."""
    assert instance.client is not None
    controller = verification_method.split("#", 1)[0]
    response = await instance.client.get(controller, headers={"Accept": "application/activity+json"})
    assert response.status_code == 200, response.text
    [method] = [m for m in response.json().get("assertionMethod", []) if m["id"] == verification_method]
    assert method["type"] == "Multikey" and method["controller"] == controller
    return ed25519_public_from_multibase(method["publicKeyMultibase"])


async def independently_verified(instance: Instance, document: dict[str, Any]) -> bool:
    """Whether ``document``'s eddsa-jcs-2022 proof verifies with awr, a Data Integrity
    implementation independent of ours, under the key its issuer publishes on ``instance``."""
    proof = document["proof"]
    return bool(awr_verify(document, proof, await published_multikey(instance, proof["verificationMethod"])))


@dataclass
class Instance:
    domain: str
    config: Config
    app: Starlette
    runner: JobRunner | None = None
    client: httpx.AsyncClient | None = None

    @property
    def state(self) -> AppState:
        return self.app.state.fedisora  # type: ignore[no-any-return]

    @property
    def base_url(self) -> str:
        return self.config.base_url

    async def create_account(self, username: str, **kwargs: object) -> Actor:
        async with self.state.sessions() as session:
            account = await create_account(session, self.config, username, **kwargs)  # type: ignore[arg-type]
            await session.commit()
            return account.actor


@dataclass
class Fediverse:
    tmp_path: Path
    transport: RoutingTransport = field(default_factory=RoutingTransport)
    instances: dict[str, Instance] = field(default_factory=dict)
    peers: dict[str, StaticPeer] = field(default_factory=dict)
    _stack: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)

    async def add(self, domain: str, database_url: str | None = None) -> Instance:
        directory = self.tmp_path / domain
        directory.mkdir(parents=True)
        url = database_url or f"sqlite+aiosqlite:///{directory}/fedisora.db"
        path = directory / "instance.toml"
        path.write_text(render_config(domain, database_url=url))
        config = parse_config(path.read_text(), path=path, env={})
        await migrate(url)  # a template copy for a new database (tests/templates.py)
        app = create_app(config, run_workers=False, transport=self.transport)
        await self._stack.enter_async_context(app.router.lifespan_context(app))
        instance = Instance(domain, config, app)
        async with instance.state.sessions() as session:
            await ensure_instance_actor(session, config)
            await session.commit()
        instance.runner = JobRunner(
            instance.state.engine, job_handlers(instance.state), worker_id=f"test@{domain}"
        )
        instance.client = await self._stack.enter_async_context(
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                base_url=config.base_url,
            )
        )
        self.transport.add(domain, app)
        self.instances[domain] = instance
        return instance

    def add_documents(self, host: str, documents: Mapping[str, Any] | None = None) -> StaticPeer:
        """Serve fixed JSON ``documents`` (URL → document or status) for ``host`` (see :class:`StaticPeer`).

        Calling it again for the same host adds to that peer's documents.
        """
        peer = self.peers.get(host)
        if peer is None:
            peer = self.peers[host] = StaticPeer(host)
            self.transport.apps[host] = httpx.ASGITransport(app=peer, raise_app_exceptions=False)
        peer.documents.update(documents or {})
        return peer

    async def settle(self, max_steps: int = 500) -> int:
        """Run due jobs on every instance until none is left; returns how many ran."""
        ran = 0
        while ran < max_steps:
            progressed = False
            for instance in self.instances.values():
                assert instance.runner is not None
                while await instance.runner.run_once():
                    ran += 1
                    progressed = True
            if not progressed:
                return ran
        raise AssertionError(f"jobs still running after {max_steps} steps")

    async def make_due(self, instance: Instance) -> None:
        """Let every pending job of ``instance`` run now (skips retry back-off)."""
        async with instance.state.engine.begin() as conn:
            await conn.execute(
                sa.update(Job.__table__)  # type: ignore[attr-defined]
                .where(Job.state == JobState.PENDING.value)
                .values(run_at=utcnow())
            )

    async def close(self) -> None:
        await self._stack.aclose()


@contextlib.asynccontextmanager
async def fediverse(tmp_path: Path, *domains: str) -> AsyncIterator[tuple[Instance, ...]]:
    world = Fediverse(tmp_path)
    try:
        yield tuple([await world.add(d) for d in domains])
    finally:
        await world.close()
