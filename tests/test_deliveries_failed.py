"""Failed deliveries shown to the admin: a peer that refuses what we send (Fedify's
``400 Invalid activity.`` to a document its JSON-LD processor cannot read) must not
fail silently.  ``fedisora deliveries failed`` (the real console script) and
``GET /api/v1/admin/deliveries`` show the peer's status and answer; only admins see them.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from fedisora.db.models import Actor, Domain, Job, JobState
from fedisora.federation.failures import EXCERPT_CHARS, excerpt
from fedisora.processing import follows
from tests.federation import Fediverse, Instance, token_for
from tests.processes import cli, shown

DELIVERIES = "/api/v1/admin/deliveries"
PEER = "fedify.example"
INBOX = f"https://{PEER}/inbox"


async def remote(instance: Instance, host: str, name: str) -> Actor:
    async with instance.state.sessions() as session:
        if await session.get(Domain, host) is None:
            session.add(Domain(domain=host))
            await session.flush()
        actor = Actor(
            uri=f"https://{host}/users/{name}", domain=host, username=name, username_key=name,
            inbox_uri=f"https://{host}/users/{name}/inbox", shared_inbox_uri=f"https://{host}/inbox",
        )  # fmt: skip
        session.add(actor)
        await session.commit()
        await session.refresh(actor)
        return actor


async def follow(instance: Instance, follower: Actor, target: Actor) -> str:
    async with instance.state.sessions() as session:
        record = await follows.follow(session, instance.state, follower, target)
        await session.commit()
        return record.uri


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def deliver_jobs(instance: Instance) -> list[Job]:
    from sqlmodel import select

    async with instance.state.sessions() as session:
        return list((await session.exec(select(Job).where(Job.kind == "deliver").order_by(Job.id))).all())


async def test_a_refused_delivery_is_listed_with_the_peers_answer(
    world: Fediverse, migrated_url: str, tmp_path: Path
) -> None:
    here = await world.add("video.example.org", migrated_url)
    alice = await here.create_account("alice", admin=True)
    await here.create_account("carol")
    peer = world.add_documents(PEER)
    peer.post_answer = (400, "text/plain; charset=utf-8", b"Invalid activity.")
    bob = await remote(here, PEER, "bob")
    follow_uri = await follow(here, alice, bob)
    await world.settle()

    assert [url for url, _, _ in peer.received] == [INBOX]  # sent once; a 400 is final
    [job] = await deliver_jobs(here)
    assert job.state == JobState.DEAD.value and job.attempts == 1

    # The command line, as the admin runs it.
    assert here.config.path is not None
    listed, as_json = (
        cli("deliveries", "failed", "--config", here.config.path, cwd=tmp_path),
        cli("deliveries", "failed", "--json", "--config", here.config.path, cwd=tmp_path),
    )
    assert listed.returncode == 0, shown(listed)
    assert f"{job.id}  " in listed.stdout and "HTTP 400 after 1 try" in listed.stdout, shown(listed)
    assert f"  inbox:    {INBOX}\n" in listed.stdout
    assert f"  activity: Follow {follow_uri}\n" in listed.stdout
    assert "  answer:   Invalid activity.\n" in listed.stdout
    assert as_json.returncode == 0, shown(as_json)
    [entry] = json.loads(as_json.stdout)
    assert entry["http_status"] == 400 and entry["response"] == "Invalid activity."
    assert entry["activity"] == {"id": follow_uri, "type": "Follow"}
    assert entry["inbox"] == INBOX and entry["host"] == PEER and entry["state"] == "failed"
    assert entry["attempts"] == 1 and entry["failed_at"]

    # The admin API says the same.
    assert here.client is not None
    api = here.client
    admin = bearer(await token_for(here, "alice", "read admin:read admin:write"))
    answer = await api.get(DELIVERIES, params={"state": "failed"}, headers=admin)
    assert answer.status_code == 200, answer.text
    assert answer.json() == [entry]
    assert f"max_id={job.id}" in answer.headers["link"]
    assert (await api.get(DELIVERIES, params={"host": PEER}, headers=admin)).json() == [entry]
    assert (await api.get(DELIVERIES, params={"host": "other.example"}, headers=admin)).json() == []
    assert (await api.get(DELIVERIES, params={"max_id": str(job.id)}, headers=admin)).json() == []
    assert (await api.get(DELIVERIES, params={"state": "retrying"}, headers=admin)).json() == []
    bad = await api.get(DELIVERIES, params={"state": "lost"}, headers=admin)
    assert bad.status_code == 422 and "state" in bad.json()["error"]

    # Only admins, and only with an admin scope.
    not_admin = bearer(await token_for(here, "carol", "read admin:read admin:write"))
    no_scope = bearer(await token_for(here, "alice", "read write"))
    for headers in (not_admin, no_scope):
        refused = await api.get(DELIVERIES, headers=headers)
        assert refused.status_code == 403 and isinstance(refused.json()["error"], str), refused.text
        refused = await api.post(f"{DELIVERIES}/{job.id}/retry", headers=headers)
        assert refused.status_code == 403, refused.text
    assert (await api.get(DELIVERIES)).status_code == 401

    # Sending it again: a fresh job; the peer refuses again, and it is listed again.
    assert (await api.post(f"{DELIVERIES}/12345/retry", headers=admin)).status_code == 404
    again = await api.post(f"{DELIVERIES}/{job.id}/retry", headers=admin)
    assert again.status_code == 200, again.text
    assert again.json()["state"] == "queued" and again.json()["retried"] == str(job.id)
    assert (await api.get(DELIVERIES, headers=admin)).json() == []
    assert (await api.post(f"{DELIVERIES}/{job.id}/retry", headers=admin)).status_code == 404
    await world.settle()
    assert len(peer.received) == 2
    [retried] = (await api.get(DELIVERIES, headers=admin)).json()
    assert retried["id"] == again.json()["id"] and retried["http_status"] == 400 and retried["attempts"] == 1

    # The CLI retries too, and refuses what is not a failed delivery.
    unknown = cli("deliveries", "retry", "12345", "--config", here.config.path, cwd=tmp_path)
    assert unknown.returncode == 1 and "no failed delivery with id 12345" in unknown.stderr, shown(unknown)
    queued = cli("deliveries", "retry", retried["id"], "--config", here.config.path, cwd=tmp_path)
    assert queued.returncode == 0 and f"(instead of {retried['id']})" in queued.stdout, shown(queued)
    [pending] = [j for j in await deliver_jobs(here) if j.state == JobState.PENDING.value]
    assert pending.payload["inbox"] == INBOX and pending.attempts == 0


async def test_what_a_peer_answers_is_kept_bounded_and_safe(world: Fediverse, migrated_url: str) -> None:
    """A hostile or huge answer (terminal escapes, NUL, a whole HTML page) is stored as one
    bounded line; a peer that does not answer is listed as retrying, with no status."""
    here = await world.add("video.example.org", migrated_url)
    alice = await here.create_account("alice", admin=True)
    peer = world.add_documents(PEER)
    page = "\x1b[31m<h1>Bad\x00 request</h1>\r\n" + "x" * 5000
    peer.post_answer = (422, "text/html", page.encode())
    await follow(here, alice, await remote(here, PEER, "bob"))
    world.transport.down.add("down.example")
    await follow(here, alice, await remote(here, "down.example", "dan"))
    await world.settle()

    assert here.client is not None
    admin = bearer(await token_for(here, "alice", "admin:read"))
    [failed] = (await here.client.get(DELIVERIES, headers=admin)).json()
    assert failed["http_status"] == 422
    assert failed["response"].startswith("[31m<h1>Bad request</h1> xxx"), failed["response"]
    assert len(failed["response"]) == EXCERPT_CHARS and failed["response"].endswith("…")
    assert not any(ord(c) < 32 for c in failed["response"])
    [waiting] = (await here.client.get(DELIVERIES, params={"state": "retrying"}, headers=admin)).json()
    assert waiting["host"] == "down.example" and waiting["http_status"] is None
    assert waiting["state"] == "retrying" and waiting["next_attempt_at"] and waiting["reason"]

    assert excerpt("a\x1b[2Jb\u2028c\ud800d\x00e\n\tf") == "a [2Jb c d e f"
    assert excerpt(None) == "" and excerpt("  ") == ""


async def test_bad_parameters_to_the_admin_api_are_refused_not_500(here: Instance) -> None:
    await here.create_account("alice", admin=True)
    admin = bearer(await token_for(here, "alice", "read admin:read admin:write"))
    api = here.client
    assert api is not None
    huge = "9" * 40
    for params in ({"max_id": huge}, {"since_id": huge}, {"min_id": huge}, {"limit": huge}, {"limit": "-5"},
                   {"host": "x" * 5000}, {"host": "FEDIFY.example:443"}, {"max_id": "-1"}):
        answer = await api.get(DELIVERIES, params=params, headers=admin)
        assert answer.status_code in (200, 422), (params, answer.status_code, answer.text[:200])
    for params in ({"state[]": ["failed", "retrying"]}, {"limit[]": ["1", "2"]}, {"host[x]": "y"}):
        answer = await api.get(DELIVERIES, params=params, headers=admin)
        assert answer.status_code in (200, 422), (params, answer.status_code, answer.text[:200])
    for job_id in (huge, "-1", "1.5", "%E2%91%A0"):
        answer = await api.post(f"{DELIVERIES}/{job_id}/retry", headers=admin)
        assert answer.status_code == 404, (job_id, answer.status_code, answer.text[:200])


async def test_retrying_a_delivery_another_retry_just_took_is_not_found(here: Instance) -> None:
    """Two admins press "retry" at once: the second finds the job already gone (a 404 in the
    API), instead of deleting a row that is no longer there (a 500)."""
    import pytest
    from sqlmodel import select

    from fedisora.federation import failures
    from fedisora.jobs import queue

    async with here.state.sessions() as session:
        job = await queue.enqueue(session, "deliver", {"inbox": INBOX, "host": PEER, "activity_id": 1})
        await session.commit()
    await queue.fail(here.state.engine, job.id, "HTTP 400", retry_delay=None)
    async with here.state.sessions() as first, here.state.sessions() as second:
        seen = await second.get(Job, job.id)  # the second read it before the first retried
        assert seen is not None and seen.state == JobState.DEAD.value
        await failures.retry(first, job.id)
        await first.commit()
        with pytest.raises(failures.DeliveryNotFound):
            await failures.retry(second, job.id)
    async with here.state.sessions() as session:
        jobs = list((await session.exec(select(Job).where(Job.kind == "deliver"))).all())
    assert [j.state for j in jobs] == [JobState.PENDING.value]


async def test_a_refusal_stays_final_when_its_answer_cannot_be_recorded(
    world: Fediverse, migrated_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keeping the peer's answer is bookkeeping: when the database refuses it (busy), the
    delivery's outcome is the same (a 400 is final, not sent again)."""
    import sqlalchemy as sa

    from fedisora.federation import failures

    async def busy(*args: object, **kwargs: object) -> None:
        raise sa.exc.OperationalError("INSERT INTO delivery_failures …", {}, Exception("database is locked"))

    monkeypatch.setattr(failures, "record", busy)
    here = await world.add("video.example.org", migrated_url)
    alice = await here.create_account("alice")
    peer = world.add_documents(PEER)
    peer.post_answer = (400, "text/plain; charset=utf-8", b"Invalid activity.")
    await follow(here, alice, await remote(here, PEER, "bob"))
    await world.settle()
    assert [url for url, _, _ in peer.received] == [INBOX]
    [job] = await deliver_jobs(here)
    assert job.state == JobState.DEAD.value and job.attempts == 1
    assert "HTTP 400" in (job.last_error or "")
