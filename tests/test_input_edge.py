"""Input no database can store, or no parser should recurse into, is refused at the door (4xx, never 500).

Each case here answered 500 before (found by attacking a dev instance): JSON
nested 100,000 levels deep, NUL characters (PostgreSQL cannot store them), lone
surrogates (no driver can encode them) and NaN (PostgreSQL's jsonb refuses it),
in paths, query strings, form fields, JSON bodies and signed activities.  Every
test runs on SQLite and PostgreSQL (the ``here`` fixture).
"""

from __future__ import annotations

import json

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import select

from activitypub import vocab
from fedisora.db.ids import new_id
from fedisora.db.models import Activity, Job, Status, utcnow
from fedisora.federation.outbox import PROCESS_INBOX
from fedisora.jobs import queue
from tests.federation import Fediverse, Instance, token_for
from tests.test_inbox import counts, post
from tests.test_inbox_hardening import fresh, static_actor  # noqa: F401 (fresh is a fixture)

DEEP = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"a":' * 100_000 + b"1" + b"}" * 100_000


def api(here: Instance) -> httpx.AsyncClient:
    assert here.client is not None
    return here.client


def refused(response: httpx.Response, status: int, reason: str) -> None:
    assert response.status_code == status, f"{response.status_code}: {response.text[:300]}"
    if response.headers["content-type"].startswith("application/json"):
        assert reason in response.json()["error"]
    else:
        assert reason in response.text


async def test_deeply_nested_json_is_400(here: Instance) -> None:
    await here.create_account("alice")
    token = await token_for(here, "alice")
    for path in ("/inbox", "/api/v1/apps", "/oauth/token", "/api/v1/statuses"):
        content_type = "application/activity+json" if path == "/inbox" else "application/json"
        for body in (DEEP, DEEP_OBJECT):
            headers = {"Content-Type": content_type, "Authorization": f"Bearer {token}"}
            refused(await api(here).post(path, content=body, headers=headers), 400, "nested more than 100 levels deep")


NUL_PATHS = [
    "/users/al%00ice", "/users/al%00ice/outbox", "/users/al%00ice/followers", "/users/al%00ice/statuses/1",
    "/@al%00ice", "/.well-known/webfinger?resource=acct:al%00ice@video.example.org",
    "/api/v1/accounts/lookup?acct=al%00ice", "/api/v1/timelines/tag/a%00b", "/api/v2/search?q=al%00ice",
    "/api/v1/accounts/search?q=%00", "/tags/a%00b",
]


async def test_nul_in_paths_and_queries_is_400(here: Instance) -> None:
    await here.create_account("alice")
    for path in NUL_PATHS:
        refused(await api(here).get(path, headers={"Accept": "application/json"}), 400, "holds a NUL character")


async def test_nul_and_surrogates_in_bodies_are_400(here: Instance) -> None:
    await here.create_account("alice")
    token = await token_for(here, "alice")
    auth = {"Authorization": f"Bearer {token}"}
    client = api(here)
    form = await client.post("/api/v1/apps", data={"client_name": "evil\x00app", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob"})
    refused(form, 400, "Invalid parameter 'client_name': it holds a NUL character")
    for text in ("hello\x00world", "hello \ud800 world"):
        body = json.dumps({"status": text}).encode()  # ensure_ascii: sent as \u0000 / \ud800 escapes
        response = await client.post("/api/v1/statuses", content=body, headers={**auth, "Content-Type": "application/json"})
        refused(response, 400, "Error while parsing request body: a string holds")
    form_status = await client.post("/api/v1/statuses", data={"status": "hello\x00"}, headers=auth)
    refused(form_status, 400, "it holds a NUL character")
    name = json.dumps({"display_name": "\udfffx"}).encode()
    response = await client.patch("/api/v1/accounts/update_credentials", content=name, headers={**auth, "Content-Type": "application/json"})
    refused(response, 400, "an unpaired surrogate (U+DFFF)")
    nan = await client.post("/api/v1/statuses", content=b'{"status": "x", "poll": {"expires_in": NaN}}', headers={**auth, "Content-Type": "application/json"})
    refused(nan, 400, "NaN is not a JSON number")
    async with here.state.sessions() as session:
        assert (await session.exec(select(sa.func.count()).select_from(Status))).one() == 0


UNSTORABLE_ACTIVITIES = [
    ('"id": "https://b.example/users/bob#likes/\\ud800"', "an unpaired surrogate (U+D800)"),
    ('"id": "https://b.example/users/bob#likes/1", "content": "a\\u0000b"', "a NUL character"),
    ('"id": "https://b.example/users/bob#likes/1", "score": NaN', "NaN is not a JSON number"),
    ('"id": "https://b.example/users/bob#likes/1", "score": -Infinity', "-Infinity is not a JSON number"),
]


async def test_signed_activity_with_unstorable_data_is_400(fresh: tuple[Fediverse, Instance]) -> None:
    """Signed by a real actor whose key we fetch (the signature covers these exact bytes),
    and refused before anything is stored."""
    world, a = fresh
    bob = static_actor(world, "b.example", "bob")
    for raw, reason in UNSTORABLE_ACTIVITIES:
        body = ('{"@context": "https://www.w3.org/ns/activitystreams", "type": "Like", '
                '"actor": "https://b.example/users/bob", "object": "https://a.example/x", ' + raw + "}").encode()
        refused(await post(a, bob, body), 400, reason)
    assert await counts(a) == (0, 0)
    assert (await post(a, bob, vocab.like(id=f"{bob.uri}#likes/2", actor=bob.uri, object="https://a.example/x"))).status_code == 202


async def _stored_job(here: Instance, activity: dict[str, object]) -> int:
    """An inbox job for ``activity`` as if it had been stored before the inbox refused such data."""
    async with here.state.sessions() as session:
        row = Activity(id=new_id(), uri=str(activity["id"]), activity_type=str(activity["type"]),
                       actor_uri=str(activity["actor"]), local=False, raw=activity, received_at=utcnow())
        session.add(row)
        await session.flush()
        job = await queue.enqueue(session, PROCESS_INBOX, {"activity_id": row.id})
        await session.commit()
        return job.id


async def run_job(here: Instance, job_id: int) -> Job:
    assert here.runner is not None
    assert await here.runner.run_once()
    job = await queue.get_job(here.state.engine, job_id)
    assert job is not None
    return job


async def test_inbox_job_that_can_never_succeed_is_dead_at_once(here: Instance) -> None:
    """A job whose actor is local (never fetched) is dead after one attempt, with its reason,
    not retried five times; so is one whose stored activity holds bad data (SQLite can store
    a \\ud800 escape in JSON, and every handler then fails to write it)."""
    await here.create_account("alice")
    local = await _stored_job(here, vocab.like(id="https://video.example.org/users/nobody#likes/1",
                                               actor="https://video.example.org/users/nobody", object="https://x.example/1"))
    job = await run_job(here, local)
    assert (job.state, job.attempts) == ("dead", 1)
    assert "no local actor" in (job.last_error or "")
    if here.state.engine.dialect.name == "sqlite":
        bad = await _stored_job(here, {"id": "https://b.example/users/bob#notes/1", "type": "Create",
                                       "actor": "https://b.example/users/bob", "object": {"content": "\ud800"}})
        job = await run_job(here, bad)
        assert (job.state, job.attempts) == ("dead", 1)
        assert "bad data: a string holds an unpaired surrogate (U+D800)" in (job.last_error or "")
        async with here.state.sessions() as session:
            activity = (await session.exec(select(Activity).where(Activity.uri == "https://b.example/users/bob#notes/1"))).one()
            assert activity.state == "failed" and activity.error.startswith("bad data")


async def test_inbox_job_for_a_gone_actor_is_dead_at_once_and_a_down_server_is_retried(
    fresh: tuple[Fediverse, Instance],
) -> None:
    world, a = fresh
    world.add_documents("gone.example", {"https://gone.example/users/ghost": 404})
    gone = await _stored_job(a, vocab.like(id="https://gone.example/users/ghost#likes/1",
                                           actor="https://gone.example/users/ghost", object="https://a.example/x"))
    job = await run_job(a, gone)
    assert (job.state, job.attempts) == ("dead", 1)
    assert "404" in (job.last_error or "")
    down = await _stored_job(a, vocab.like(id="https://down.example/users/zed#likes/1",
                                           actor="https://down.example/users/zed", object="https://a.example/x"))
    job = await run_job(a, down)  # no server answers for down.example: a connection error may pass
    assert (job.state, job.attempts) == ("pending", 1)
    assert "ConnectError" in (job.last_error or "")


async def test_nul_in_a_multipart_profile_update_is_400(here: Instance) -> None:
    """``update_credentials`` reads multipart bodies itself (for the avatar and header): its
    fields get the same check as every other form, whichever field it is."""
    await here.create_account("alice")
    token = await token_for(here, "alice")
    for field in ("display_name", "source[privacy]", "x\x00y"):
        response = await api(here).patch(
            "/api/v1/accounts/update_credentials", data={field: "a\x00b"},
            files={"unused": ("", b"", "application/octet-stream")}, headers={"Authorization": f"Bearer {token}"},
        )
        refused(response, 400, "it holds a NUL character")
