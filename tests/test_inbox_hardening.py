"""The inbox under attack and under load: replayed signatures, first-contact races, a busy database.

Requests signed by independent implementations (``httpsig`` for draft-cavage,
``http-message-signatures`` for RFC 9421) for another server, then replayed to
us, are refused; many signed POSTs at once from an actor we have never seen
store it once; a database that stays locked answers 503 with ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpsig
import httpx
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from http_message_signatures import HTTPMessageSigner, MappingKeyResolver
from http_message_signatures.algorithms import RSA_V1_5_SHA256
from sqlmodel import select

from activitypub import keys as keygen
from activitypub import vocab
from activitypub.signatures import digest_header, http_date
from fedisora.db import engine as engine_module
from fedisora.db.busy import is_busy
from fedisora.db.models import Activity, Actor, Key
from fedisora.federation.remote import ensure_domain
from tests.federation import Fediverse, Instance
from tests.test_inbox import (  # noqa: F401 (a and b are fixtures)
    A_INBOX, Peer, a, assert_refused, b, client, counts, follow_of_alice, post, signer,
)

OTHER_INBOX = "https://other.example/inbox"


# --- item 7: a request signed for another server ---------------------------------------


async def test_cavage_signature_for_another_host_is_refused(a: Instance, b: Instance) -> None:
    """httpsig signs ``(request-target) host date digest`` for other.example; replayed to a.example."""
    bob = await signer(b, "bob")
    body = json.dumps(follow_of_alice(bob.uri)).encode()
    headers = {"Host": "other.example", "Date": http_date(datetime.now(UTC)), "Digest": digest_header(body),
               "Content-Type": "application/activity+json"}
    signed = httpsig.HeaderSigner(bob.key_id, bob.private_key_pem, algorithm="rsa-sha256", sign_header="Signature",
                                  headers=["(request-target)", "host", "date", "digest", "content-type"])
    replayed = dict(signed.sign(headers, method="POST", path="/inbox"))
    before = await counts(a)
    response = await client(a).post(A_INBOX, content=body, headers=replayed)
    await assert_refused(a, response, 401, before, "made for host other.example, not for a.example")
    # The same signer, signing for us, is accepted: the refusal is about the host alone.
    headers["Host"] = "a.example"
    ok = await client(a).post(A_INBOX, content=body, headers=dict(signed.sign(headers, method="POST", path="/inbox")))
    assert ok.status_code == 202, ok.text


async def test_rfc9421_signature_for_another_authority_is_refused(a: Instance, b: Instance) -> None:
    """http-message-signatures signs ``@method @target-uri @authority`` for other.example; replayed to a.example."""
    bob = await signer(b, "bob")
    body = json.dumps(follow_of_alice(bob.uri)).encode()
    private = load_pem_private_key(bob.private_key_pem.encode(), password=None)
    resolver = MappingKeyResolver(public_keys={}, private_keys={bob.key_id: private})
    request = httpx.Request("POST", OTHER_INBOX, headers={"Content-Type": "application/activity+json"}, content=body)
    HTTPMessageSigner(signature_algorithm=RSA_V1_5_SHA256, key_resolver=resolver).sign(
        request, key_id=bob.key_id, label="sig1", body=body,
        covered_component_ids=("@method", "@target-uri", "@authority", "content-type"),
    )
    before = await counts(a)
    response = await client(a).post(A_INBOX, content=body, headers=dict(request.headers))
    await assert_refused(a, response, 401, before, "@target-uri and @authority taken from the URL it was received at")


# --- item 9: first contact, many times at once -------------------------------------------


@pytest.fixture
async def fresh(tmp_path: Path, migrated_url: str) -> AsyncIterator[tuple[Fediverse, Instance]]:
    """``a.example`` (with alice) on SQLite and PostgreSQL, in a fediverse where tests add static peers."""
    world = Fediverse(tmp_path)
    try:
        instance = await world.add("a.example", migrated_url)
        await instance.create_account("alice")
        yield world, instance
    finally:
        await world.close()


def static_actor(world: Fediverse, host: str, name: str) -> Peer:
    """A remote actor we have never seen, served by a static peer, with its own RSA key."""
    pair = keygen.generate_rsa()
    uri = f"https://{host}/users/{name}"
    key = {"id": f"{uri}#main-key", "owner": uri, "publicKeyPem": pair.public_pem}
    world.add_documents(host, {uri: {
        "@context": [vocab.AS_CONTEXT, vocab.SECURITY_CONTEXT], "id": uri, "type": "Person",
        "preferredUsername": name, "inbox": f"{uri}/inbox", "outbox": f"{uri}/outbox",
        "followers": f"{uri}/followers", "publicKey": key,
    }})
    return Peer(uri, key["id"], pair.private_pem)


async def test_concurrent_first_contact_stores_the_actor_once(fresh: tuple[Fediverse, Instance]) -> None:
    world, a = fresh
    carol = static_actor(world, "c.example", "carol")
    async with a.state.sessions() as session:  # c.example is known (another of its actors is); carol is not
        await ensure_domain(session, "c.example")
        await session.commit()
    likes = [vocab.like(id=f"{carol.uri}#likes/{n}", actor=carol.uri, object=f"https://a.example/x/{n}") for n in range(30)]
    responses = await asyncio.gather(*(post(a, carol, like) for like in likes))
    assert [r.status_code for r in responses] == [202] * 30, [r.text for r in responses if r.status_code != 202]
    async with a.state.sessions() as session:
        actors = (await session.exec(select(Actor).where(Actor.uri == carol.uri))).all()
        keys = (await session.exec(select(Key).where(Key.key_id == carol.key_id))).all()
        stored = (await session.exec(select(sa.func.count()).select_from(Activity).where(Activity.actor_uri == carol.uri))).one()
    assert len(actors) == 1 and len(keys) == 1 and keys[0].actor_id == actors[0].id
    assert actors[0].inbox_uri == f"{carol.uri}/inbox"
    assert stored == 30


# --- item 11: a busy database ------------------------------------------------------------


@contextlib.asynccontextmanager
async def write_lock_held(instance: Instance, url: str) -> AsyncIterator[None]:
    """Another client holds the database's write lock (SQLite) or a lock on ``activities``
    (PostgreSQL) while the app's waits are short: SQLite ``busy_timeout``, PostgreSQL ``lock_timeout``."""
    if url.startswith("sqlite"):
        holder = sqlite3.connect(url.split(":///", 1)[1], isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    dsn = url.replace("postgresql+asyncpg", "postgresql")
    holder = await asyncpg.connect(dsn)
    try:
        await holder.execute(f"ALTER DATABASE \"{dsn.rsplit('/', 1)[1]}\" SET lock_timeout = '200ms'")
        await instance.state.engine.dispose()  # new connections pick the setting up
        async with holder.transaction():
            await holder.execute("LOCK TABLE activities IN ACCESS EXCLUSIVE MODE")
            yield
    finally:
        await holder.close()


async def test_busy_database_is_503_with_retry_after(
    fresh: tuple[Fediverse, Instance], migrated_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    world, a = fresh
    monkeypatch.setattr(engine_module, "SQLITE_PRAGMAS", tuple(
        "PRAGMA busy_timeout=200" if p.startswith("PRAGMA busy_timeout") else p for p in engine_module.SQLITE_PRAGMAS
    ))
    await a.state.engine.dispose()
    dave = static_actor(world, "d.example", "dave")
    like = vocab.like(id=f"{dave.uri}#likes/1", actor=dave.uri, object="https://a.example/x")
    before = await counts(a)
    async with write_lock_held(a, migrated_url):
        response = await post(a, dave, like)
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "5"
    assert response.json() == {"error": "The database is busy; please try again shortly"}
    assert await counts(a) == before  # nothing half-stored: no activity, no job, not even the actor
    async with a.state.sessions() as session:
        assert (await session.exec(select(Actor).where(Actor.uri == dave.uri))).first() is None
    retried = await post(a, dave, like)  # the peer retries once the database is free
    assert retried.status_code == 202, retried.text
    assert await counts(a) == (before[0] + 1, before[1] + 1)


def test_busy_errors_are_told_from_broken_ones() -> None:
    locked = sa.exc.OperationalError("INSERT …", {}, sqlite3.OperationalError("database is locked"))
    missing = sa.exc.OperationalError("SELECT …", {}, sqlite3.OperationalError("no such table: actors"))
    assert is_busy(locked) and is_busy(sa.exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached"))
    assert not is_busy(missing) and not is_busy(ValueError("database is locked"))
    wrapped = RuntimeError("while storing")
    wrapped.__cause__ = locked
    assert is_busy(wrapped)
