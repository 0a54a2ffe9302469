"""Activities forwarded by a third party are accepted only when their origin confirms them."""

from __future__ import annotations

import copy

from sqlmodel import select

from fedisora.db.models import Actor, Key, Status
from fedisora.processing import posts
from tests.federation import Fediverse, signed_post


async def test_forwarded_create_is_taken_from_its_origin(world: Fediverse) -> None:
    a = await world.add("a.example")
    b = await world.add("b.example")
    c = await world.add("c.example")
    await a.create_account("alice")
    bob = await b.create_account("bob")
    carol = await c.create_account("carol")
    async with c.state.sessions() as session:
        author = await session.get(Actor, carol.id)
        status = await posts.create_post(session, c.state, author, "the real words")  # type: ignore[arg-type]
        await session.commit()
    async with b.state.sessions() as session:
        key = (await session.exec(select(Key).where(Key.actor_id == bob.id, Key.algorithm == "rsa"))).one()
    note_response = await c.client.get(status.uri, headers={"Accept": "application/activity+json"})  # type: ignore[union-attr]
    note = note_response.json()
    create = {"@context": "https://www.w3.org/ns/activitystreams", "id": f"{status.uri}/activity",
              "type": "Create", "actor": carol.uri, "object": note}

    # bob forwards carol's Create, but changes the words on the way
    forged = copy.deepcopy(create)
    forged["object"]["content"] = "<p>words carol never wrote</p>"
    assert a.client is not None
    response = await signed_post(a.client, "https://a.example/inbox", forged, key.key_id, key.private_key_pem or "")
    assert response.status_code == 202
    await world.settle()
    async with a.state.sessions() as session:
        stored = (await session.exec(select(Status).where(Status.uri == status.uri))).one()
    assert "the real words" in stored.content  # taken from c.example, not from the forwarder

    # a Create of a post that does not exist at its origin is refused
    fake = copy.deepcopy(create)
    fake["id"] = f"{carol.uri}/statuses/1/activity"
    fake["object"]["id"] = f"{carol.uri}/statuses/1"
    response = await signed_post(a.client, "https://a.example/inbox", fake, key.key_id, key.private_key_pem or "")
    assert response.status_code == 401
    assert "signed by" in response.json()["error"]
