"""The ``deliver`` job end to end: outbox -> queue -> signed POST -> job and host state.

Runs on SQLite and PostgreSQL; the remote server is an ``httpx.MockTransport``.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import select

from fedisora.accounts.service import create_account
from fedisora.db.models import Actor, Domain, Job, JobState, Key, KeyPurpose, utcnow
from fedisora.federation.delivery import deliver
from fedisora.federation.outbox import publish
from fedisora.jobs import queue
from fedisora.jobs.runner import JobRunner
from fedisora.state import AppState
from instance_config import parse_config, render_config

SHARED_INBOX = "https://b.example/inbox"
Responder = Callable[[httpx.Request], httpx.Response]


@dataclass
class Env:
    state: AppState
    alice: Actor
    bob: Actor
    requests: list[httpx.Request] = field(default_factory=list)
    respond: Responder = lambda request: httpx.Response(202)
    published: int = 0

    def runner(self) -> JobRunner:
        return JobRunner(self.state.engine, {"deliver": functools.partial(deliver, state=self.state)})

    async def publish(self, text: str = "héllo ✓ <b>") -> tuple[dict[str, Any], Job]:
        """Store a Create addressed to bob and return it with its (single) delivery job."""
        self.published += 1
        activity = {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": f"{self.alice.uri}/activities/{self.published}",
            "type": "Create",
            "actor": self.alice.uri,
            "to": [self.bob.uri],
            "object": {"type": "Note", "content": text, "attributedTo": self.alice.uri},
        }
        async with self.state.sessions() as session:
            record = await publish(session, activity, actor=self.alice, recipients=[self.bob])
            await session.commit()
            activity_id = record.id
            activity = record.raw  # as stored: publish adds the FEP-8b32 proof
        job = await self.job_for(activity_id)
        return activity, job

    async def job_for(self, activity_id: int) -> Job:
        async with self.state.sessions() as session:
            jobs = (await session.exec(select(Job).where(Job.kind == "deliver"))).all()
        [job] = [j for j in jobs if j.payload["activity_id"] == activity_id]
        return job

    async def job(self, job_id: int) -> Job:
        job = await queue.get_job(self.state.engine, job_id)
        assert job is not None
        return job

    async def domain(self, host: str = "b.example") -> Domain:
        async with self.state.sessions() as session:
            row = await session.get(Domain, host)
        assert row is not None
        return row

    async def set_job(self, job_id: int, **values: Any) -> None:
        async with self.state.engine.begin() as conn:
            await conn.execute(sa.update(Job.__table__).where(Job.__table__.c.id == job_id).values(**values))  # type: ignore[attr-defined]


@pytest.fixture
async def env(migrated_url: str, tmp_path: Path) -> AsyncIterator[Env]:
    config = parse_config(
        render_config("a.example", database_url=migrated_url), path=tmp_path / "instance.toml", env={}
    )
    holder: list[Env] = []

    def handler(request: httpx.Request) -> httpx.Response:
        e = holder[0]
        request.read()
        e.requests.append(request)
        return e.respond(request)

    state = AppState.open(config, transport=httpx.MockTransport(handler))
    try:
        async with state.sessions() as session:
            alice = (await create_account(session, config, "alice")).actor
            session.add(Domain(domain="b.example"))
            await session.flush()
            bob = Actor(
                uri="https://b.example/users/bob",
                domain="b.example",
                username="bob",
                username_key="bob",
                inbox_uri="https://b.example/users/bob/inbox",
                shared_inbox_uri=SHARED_INBOX,
            )
            session.add(bob)
            await session.commit()
            await session.refresh(alice)
            await session.refresh(bob)
        holder.append(Env(state=state, alice=alice, bob=bob))
        yield holder[0]
    finally:
        await state.close()


def status(code: int, headers: dict[str, str] | None = None, text: str = "") -> Responder:
    return lambda request: httpx.Response(code, headers=headers, text=text)


async def test_posts_signed_exact_body_to_shared_inbox(env: Env) -> None:
    activity, job = await env.publish()
    assert job.payload["inbox"] == SHARED_INBOX and job.payload["host"] == "b.example"
    assert await env.runner().run_once()

    [request] = env.requests
    body = json.dumps(activity, separators=(",", ":"), ensure_ascii=False).encode()
    assert request.method == "POST" and str(request.url) == SHARED_INBOX
    assert request.content == body
    assert request.headers["content-type"] == "application/activity+json"
    assert f'keyId="{env.alice.uri}#main-key"' in request.headers["signature"]
    assert request.headers["digest"] == "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()
    await _assert_signature_verifies(env, request)

    done = await env.job(job.id)
    assert done.state == JobState.DONE and done.attempts == 1
    domain = await env.domain()
    assert domain.last_success_at is not None and domain.failure_count == 0
    assert domain.unreachable_since is None


async def _assert_signature_verifies(env: Env, request: httpx.Request) -> None:
    from activitypub import signatures

    async with env.state.sessions() as session:
        key = (
            await session.exec(
                select(Key).where(Key.actor_id == env.alice.id, Key.purpose == KeyPurpose.HTTP_SIGNATURE.value)
            )
        ).one()
    parsed = signatures.parse_signature(request.method, str(request.url), request.headers)
    assert parsed.key_id == key.key_id == f"{env.alice.uri}#main-key"
    assert key.public_key_pem is not None
    verified = signatures.verify_signature(parsed, key.public_key_pem, request.content)
    assert verified.key_id == key.key_id


@pytest.mark.parametrize(
    ("responder", "retry_after"),
    [(status(500), None), (status(429, {"Retry-After": "120"}), 120.0)],
    ids=["500", "429"],
)
async def test_server_errors_are_retried(env: Env, responder: Responder, retry_after: float | None) -> None:
    env.respond = responder
    _, job = await env.publish()
    before = utcnow()
    assert await env.runner().run_once()

    again = await env.job(job.id)
    assert again.state == JobState.PENDING and again.attempts == 1
    assert again.run_at > before
    if retry_after is not None:
        assert again.run_at >= before + timedelta(seconds=retry_after)
        assert "HTTP 429" in (again.last_error or "")
    else:
        assert again.run_at <= utcnow() + timedelta(seconds=40)  # ~30 s backoff, ±20 %
        assert "HTTP 500" in (again.last_error or "")
    domain = await env.domain()
    assert domain.failure_count == 1 and domain.last_failure_at is not None
    assert domain.unreachable_since is None

    # Second failure: attempts and the host's failure count keep climbing.
    await env.set_job(job.id, run_at=utcnow())
    assert await env.runner().run_once()
    assert (await env.job(job.id)).attempts == 2
    assert (await env.domain()).failure_count == 2


async def test_connection_error_is_retried(env: Env) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    env.respond = refuse
    _, job = await env.publish()
    assert await env.runner().run_once()
    again = await env.job(job.id)
    assert again.state == JobState.PENDING and again.attempts == 1
    assert "ConnectError" in (again.last_error or "")
    assert (await env.domain()).failure_count == 1


@pytest.mark.parametrize("code", [403, 410])
async def test_client_errors_give_up(env: Env, code: int) -> None:
    env.respond = status(code, text="go away")
    _, job = await env.publish()
    assert await env.runner().run_once()
    dead = await env.job(job.id)
    assert dead.state == JobState.DEAD and dead.attempts == 1
    assert f"HTTP {code}" in (dead.last_error or "")
    assert SHARED_INBOX in (dead.last_error or "") and "go away" in (dead.last_error or "")


async def test_last_attempt_gives_up(env: Env) -> None:
    env.respond = status(503)
    _, job = await env.publish()
    await env.set_job(job.id, attempts=job.max_attempts - 1)
    assert await env.runner().run_once()
    dead = await env.job(job.id)
    assert dead.state == JobState.DEAD and dead.attempts == job.max_attempts
    assert "giving up" in (dead.last_error or "")


async def test_unreachable_host_then_recovery(env: Env) -> None:
    policy = env.state.retry_policy
    env.respond = status(503)
    _, old = await env.publish()
    _, waiting = await env.publish()
    far = utcnow() + timedelta(days=1)
    await env.set_job(waiting.id, run_at=far)
    await env.set_job(old.id, created_at=utcnow() - timedelta(days=3))
    other = await queue.enqueue(
        env.state.engine, "deliver", {"activity_id": 0, "inbox": "https://c.example/inbox", "host": "c.example"}, run_at=far
    )

    before = utcnow()
    assert await env.runner().run_once()
    domain = await env.domain()
    assert domain.unreachable_since is not None and domain.failure_count == 1
    failed = await env.job(old.id)
    assert failed.state == JobState.PENDING
    expected = before + timedelta(seconds=policy.unreachable_retry_seconds)
    assert expected <= failed.run_at <= utcnow() + timedelta(seconds=policy.unreachable_retry_seconds)

    # The host answers again: it is healthy, and its other waiting delivery is due now.
    env.respond = status(202)
    await env.set_job(old.id, run_at=utcnow())
    assert await env.runner().run_once()
    assert (await env.job(old.id)).state == JobState.DONE
    domain = await env.domain()
    assert domain.unreachable_since is None and domain.failure_count == 0
    assert domain.last_success_at is not None
    assert (await env.job(waiting.id)).run_at <= utcnow()
    assert (await env.job(other.id)).run_at == far  # another host: untouched

    assert await env.runner().run_once()
    assert (await env.job(waiting.id)).state == JobState.DONE
    assert len(env.requests) == 3


async def test_blocked_domain_row_sends_nothing(env: Env) -> None:
    async with env.state.sessions() as session:
        row = await session.get(Domain, "b.example")
        assert row is not None
        row.blocked = True
        await session.commit()
    _, job = await env.publish()
    assert await env.runner().run_once()
    assert env.requests == []
    assert (await env.job(job.id)).state == JobState.DONE


async def test_blocked_by_config_sends_nothing(env: Env) -> None:
    env.state.config.moderation.blocked_domains = ["b.example"]
    _, job = await env.publish()
    assert await env.runner().run_once()
    assert env.requests == []
    assert (await env.job(job.id)).state == JobState.DONE


async def test_missing_activity_is_permanent(env: Env) -> None:
    job = await queue.enqueue(
        env.state.engine, "deliver", {"activity_id": 12345, "inbox": SHARED_INBOX, "host": "b.example"}
    )
    assert await env.runner().run_once()
    dead = await env.job(job.id)
    assert dead.state == JobState.DEAD and "12345" in (dead.last_error or "")
    assert env.requests == []


async def test_job_of_crashed_worker_is_delivered_once(env: Env) -> None:
    activity, job = await env.publish()
    crashed = await queue.claim(env.state.engine, "crashed-worker", kinds=["deliver"], lock_seconds=0.05)
    assert crashed is not None and crashed.id == job.id
    await asyncio.sleep(0.1)  # the crashed worker never completes; its lock expires

    runner = env.runner()
    assert await runner.run_once()
    assert not await runner.run_once()
    body = json.dumps(activity, separators=(",", ":"), ensure_ascii=False).encode()
    assert [r.content for r in env.requests] == [body]
    done = await env.job(job.id)
    assert done.state == JobState.DONE and done.attempts == 2
    assert not await queue.complete(env.state.engine, job.id, worker_id="crashed-worker")
