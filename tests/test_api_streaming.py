"""The streaming API against a real ``fedisora serve`` process, with posts made by other processes.

Posts are written by the ``fedisora post`` CLI (another process, which only
commits rows and queues jobs), so events can only reach the server's
streaming clients through the database, which is the point: the server polls
it.  Clients: the ``websockets`` library for the WebSocket, httpx for
server-sent events.  Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from fedisora.accounts.service import create_account
from fedisora.db.models import Status, User
from fedisora.oauth.apps import OOB_REDIRECT_URI, register_app
from fedisora.oauth.tokens import issue_token
from fedisora.processing import accounts
from fedisora.state import AppState
from instance_config import load_config
from tests.processes import Proc, cli, free_port, shown, start, stop, terminate, wait_healthy

pytestmark = pytest.mark.slow

WAIT = 20.0  # seconds an event may take (the server polls every 0.5 s)


@dataclass
class Server:
    port: int
    config_path: Path
    cwd: Path
    proc: Proc
    state: AppState
    tokens: dict[str, str]

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def cli(self, *args: str) -> str:
        """Run ``fedisora ARGS --config …`` in another process; its stdout."""
        result = await asyncio.to_thread(cli, *args, "--config", self.config_path, cwd=self.cwd)
        assert result.returncode == 0, shown(result)
        return result.stdout

    async def post(self, username: str, text: str, *options: str) -> Status:
        uri = (await self.cli("post", "create", username, text, *options)).splitlines()[0]
        async with self.state.sessions() as session:
            return (await session.exec(select(Status).where(Status.uri == uri))).one()


@pytest.fixture
async def server(tmp_path: Path, database_url: str) -> AsyncIterator[Server]:
    port = free_port()
    result = cli(
        "init", "--domain", f"localhost:{port}", "--dev", "--name", "Streams", "--data-dir", "D",
        "--database-url", database_url, cwd=tmp_path,
    )
    assert result.returncode == 0, shown(result)
    config_path = tmp_path / "D" / "instance.toml"
    state = AppState.open(load_config(config_path, env={}))
    tokens: dict[str, str] = {}
    proc: Proc | None = None
    try:
        async with state.sessions() as session:
            people = {}
            for name in ("alice", "bob", "carol"):
                people[name] = await create_account(session, state.config, name)
            await session.flush()
            # alice follows bob (accepted at once: bob does not approve followers by hand)
            await accounts.follow_account(session, state, people["alice"].actor, people["bob"].actor)
            app = await register_app(session, name="tests", redirect_uris=OOB_REDIRECT_URI, scopes="read write")
            for name, account in people.items():
                user = (await session.exec(select(User).where(User.actor_id == account.actor.id))).one()
                issued = await issue_token(session, application_id=app.app.id, user_id=user.id, scopes=["read", "write"])
                tokens[name] = issued.access_token
            await session.commit()
        proc = start(
            "serve", "--config", config_path, "--port", str(port), "--workers", "1",
            cwd=tmp_path, log_path=tmp_path / "serve.log",
        )
        wait_healthy(proc, port)
        yield Server(port, config_path, tmp_path, proc, state, tokens)
        code, took = terminate(proc)
        log = proc.log()
        assert code == 0, f"serve exited with {code} after {took:.1f}s\n{log}"
        assert "Traceback" not in log, log
    finally:
        if proc is not None:
            stop(proc)
        await state.close()


async def next_event(ws: ClientConnection, want: Any, timeout: float = WAIT) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The first message for which ``want(message)`` holds, and the messages before it."""
    before: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no matching event within {timeout}s; got {before}")
        message = json.loads(await asyncio.wait_for(ws.recv(), timeout=left))
        if want(message):
            return message, before
        before.append(message)


def is_update(uri: str, event: str = "update") -> Any:
    def check(message: dict[str, Any]) -> bool:
        return message.get("event") == event and json.loads(message["payload"])["uri"] == uri

    return check


async def test_websocket_user_stream(server: Server) -> None:
    url = f"{server.ws}/api/v1/streaming?stream=user&access_token={server.tokens['alice']}"
    async with connect(url) as ws:
        await asyncio.sleep(1.0)  # let the hub take its first look
        hello = await server.post("bob", "hello from the command line")
        message, _ = await next_event(ws, is_update(hello.uri))
        assert message["stream"] == ["user"]
        assert isinstance(message["payload"], str)
        status = json.loads(message["payload"])
        assert status["id"] == str(hello.id)
        assert status["account"]["acct"] == "bob"
        assert status["content"] == hello.content
        assert status["favourited"] is False  # as alice sees it

        # a mention: the post, and a notification
        mention = await server.post("bob", "@alice look at this")
        note, others = await next_event(ws, lambda m: m.get("event") == "notification")
        notification = json.loads(note["payload"])
        assert note["stream"] == ["user"]
        assert notification["type"] == "mention"
        assert notification["account"]["acct"] == "bob"
        assert notification["status"]["id"] == str(mention.id)
        seen = [m for m in others if m["event"] == "update"]
        if not seen:  # the update may come right after the notification (same poll)
            seen = [(await next_event(ws, is_update(mention.uri)))[0]]
        assert json.loads(seen[0]["payload"])["id"] == str(mention.id)

        # an edit, then a delete (by other processes too)
        await server.cli("post", "edit", "bob", hello.uri, "hello, edited")
        edited, _ = await next_event(ws, is_update(hello.uri, "status.update"))
        assert "hello, edited" in json.loads(edited["payload"])["content"]
        assert json.loads(edited["payload"])["edited_at"] is not None
        await server.cli("post", "delete", "bob", hello.uri)
        deleted, _ = await next_event(ws, lambda m: m.get("event") == "delete")
        assert deleted == {"stream": ["user"], "event": "delete", "payload": str(hello.id)}

        # carol is not followed: her posts are not on alice's home stream
        theirs = await server.post("carol", "not for alice's home")
        mine = await server.post("alice", "my own post")
        _, before = await next_event(ws, is_update(mine.uri))
        assert all(json.loads(m["payload"]).get("uri") != theirs.uri for m in before if m["event"] == "update")


async def test_websocket_subscriptions_and_visibility(server: Server) -> None:
    # the token may also come as the WebSocket subprotocol (what browsers can send)
    async with connect(f"{server.ws}/api/v1/streaming/", subprotocols=[server.tokens["bob"]]) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == server.tokens["bob"]
        await ws.send(json.dumps({"type": "subscribe", "stream": "public"}))
        await ws.send(json.dumps({"type": "subscribe", "stream": "hashtag"}))  # no tag
        error = json.loads(await asyncio.wait_for(ws.recv(), timeout=WAIT))
        assert error == {"error": "No tag for stream provided", "status": 400}
        await ws.send(json.dumps({"type": "subscribe", "stream": "direct:nonsense"}))
        assert json.loads(await asyncio.wait_for(ws.recv(), timeout=WAIT))["error"] == "Unknown stream type"
        await asyncio.sleep(1.0)

        # a followers-only post of someone bob does not follow never shows; the public one does
        hidden = await server.post("carol", "only for my followers", "--visibility", "private")
        shown_ = await server.post("carol", "for everyone")
        message, before = await next_event(ws, is_update(shown_.uri))
        assert message["stream"] == ["public"]
        assert all(json.loads(m["payload"]).get("uri") != hidden.uri for m in before)

        # swap public for a hashtag
        await ws.send(json.dumps({"type": "unsubscribe", "stream": "public"}))
        await ws.send(json.dumps({"type": "subscribe", "stream": "hashtag", "tag": "Clips"}))
        await asyncio.sleep(0.5)
        plain = await server.post("carol", "nothing tagged")
        tagged = await server.post("carol", "new #clips today")
        message, before = await next_event(ws, is_update(tagged.uri))
        assert message["stream"] == ["hashtag", "Clips"]
        assert before == []  # not the plain post: public is unsubscribed
        assert plain.id < tagged.id


async def test_websocket_refuses_a_bad_token(server: Server) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(f"{server.ws}/api/v1/streaming?stream=user&access_token=nonsense"):
            pass
    assert refused.value.response.status_code == 401
    # no token: public streams work, user streams are refused per subscription
    async with connect(f"{server.ws}/api/v1/streaming?stream=user") as ws:
        error = json.loads(await asyncio.wait_for(ws.recv(), timeout=WAIT))
        assert error["status"] == 401


async def test_server_sent_events_and_health(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.http, timeout=WAIT) as http:
        health = await http.get("/api/v1/streaming/health")
        assert health.status_code == 200 and health.text == "OK"
        assert (await http.get("/api/v1/streaming/user")).status_code == 401
        assert (await http.get("/api/v1/streaming/hashtag")).status_code == 404  # no tag

        async with http.stream("GET", "/api/v1/streaming/public/local") as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = response.aiter_lines()
            assert await asyncio.wait_for(anext(lines), timeout=WAIT) == ":)"
            await asyncio.sleep(1.0)
            status = await server.post("carol", "served as an event")
            event = data = None
            deadline = time.monotonic() + WAIT
            while time.monotonic() < deadline:
                line = await asyncio.wait_for(anext(lines), timeout=WAIT)
                if line.startswith("event: "):
                    event = line.removeprefix("event: ")
                elif line.startswith("data: ") and event == "update":
                    data = json.loads(line.removeprefix("data: "))
                    if data["uri"] == status.uri:
                        break
            assert data is not None and data["id"] == str(status.id)

        # the user stream over SSE, with the token in the header
        headers = {"Authorization": f"Bearer {server.tokens['alice']}"}
        async with http.stream("GET", "/api/v1/streaming/user/notification", headers=headers) as response:
            assert response.status_code == 200
            lines = response.aiter_lines()
            assert await asyncio.wait_for(anext(lines), timeout=WAIT) == ":)"
            await asyncio.sleep(1.0)
            await server.cli("post", "create", "carol", "hi @alice")
            found: dict[str, Any] | None = None
            event = None
            while found is None:
                line = await asyncio.wait_for(anext(lines), timeout=WAIT)
                if line.startswith("event: "):
                    event = line.removeprefix("event: ")
                    assert event == "notification"  # nothing but notifications on this stream
                elif line.startswith("data: "):
                    found = json.loads(line.removeprefix("data: "))
            assert found["type"] == "mention" and found["account"]["acct"] == "carol"



async def test_open_streams_do_not_hold_up_a_stop(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.http, timeout=WAIT) as http:
        async with http.stream("GET", "/api/v1/streaming/public") as response:
            lines = response.aiter_lines()
            assert await asyncio.wait_for(anext(lines), timeout=WAIT) == ":)"
            async with connect(f"{server.ws}/api/v1/streaming?stream=public:local") as ws:
                code, took = await asyncio.to_thread(terminate, server.proc)
                assert code == 0, server.proc.log()
                assert took < 5, f"took {took:.1f}s to stop\n{server.proc.log()}"
                with pytest.raises(Exception):  # the server went away: the socket is closed
                    await asyncio.wait_for(ws.recv(), timeout=WAIT)
            rest = [line async for line in lines]  # the event stream ended
            assert all(line.startswith(":") or not line for line in rest)
