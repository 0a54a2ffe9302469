"""Activity types between two (or three) harness instances that test_federation_flows.py does not cover:
Undo(Like), Undo(Announce), Block and Undo(Block), Delete and Update of an actor, reply
threading, direct messages and unlisted posts."""

from __future__ import annotations


import pytest
from sqlmodel import select

from activitypub import vocab
from activitypub.addressing import PUBLIC
from fedisora.db.models import Activity, Actor, Block, Follow, FollowState, Like, Mention, Status
from fedisora.federation.documents import actor_document, actor_keys, new_activity_uri
from fedisora.federation.outbox import publish
from fedisora.federation.remote import resolve_handle
from fedisora.processing import follows, interactions, posts
from fedisora.processing.errors import ActionError
from tests.federation import Fediverse, Instance


async def local(instance: Instance, username: str) -> Actor:
    async with instance.state.sessions() as session:
        return (await session.exec(select(Actor).where(Actor.local, Actor.username == username))).one()


async def known(instance: Instance, uri: str) -> Actor:
    async with instance.state.sessions() as session:
        return (await session.exec(select(Actor).where(Actor.uri == uri))).one()


async def follow_remote(instance: Instance, username: str, handle: str) -> None:
    async with instance.state.sessions() as session:
        me = (await session.exec(select(Actor).where(Actor.local, Actor.username == username))).one()
        target = await resolve_handle(session, instance.state, handle)
        await follows.follow(session, instance.state, me, target)
        await session.commit()


async def post(instance: Instance, username: str, text: str, **kwargs: object) -> Status:
    async with instance.state.sessions() as session:
        me = (await session.exec(select(Actor).where(Actor.local, Actor.username == username))).one()
        in_reply_to = kwargs.pop("in_reply_to", None)
        if isinstance(in_reply_to, str):
            kwargs["in_reply_to"] = (await session.exec(select(Status).where(Status.uri == in_reply_to))).one()
        status = await posts.create_post(session, instance.state, me, text, **kwargs)  # type: ignore[arg-type]
        await session.commit()
        return status


async def copy_of(instance: Instance, uri: str) -> Status | None:
    async with instance.state.sessions() as session:
        return (await session.exec(select(Status).where(Status.uri == uri))).first()


async def follow_rows(instance: Instance, a_uri: str, b_uri: str) -> list[Follow]:
    """Follow rows between the two actors, in either direction."""
    async with instance.state.sessions() as session:
        one = (await session.exec(select(Actor).where(Actor.uri == a_uri))).one()
        two = (await session.exec(select(Actor).where(Actor.uri == b_uri))).one()
        query = select(Follow).where(
            ((Follow.follower_id == one.id) & (Follow.target_id == two.id))
            | ((Follow.follower_id == two.id) & (Follow.target_id == one.id))
        )
        return list((await session.exec(query)).all())


async def activity_state(instance: Instance, activity_type: str) -> list[tuple[str, str | None]]:
    async with instance.state.sessions() as session:
        query = select(Activity).where(Activity.activity_type == activity_type, Activity.local.is_(False))  # type: ignore[attr-defined]
        return [(r.state, r.error) for r in (await session.exec(query)).all()]


async def pair(world: Fediverse) -> tuple[Instance, Instance, Actor, Actor]:
    a = await world.add("a.example")
    b = await world.add("b.example")
    return a, b, await a.create_account("alice"), await b.create_account("bob")


async def test_undo_like_and_undo_announce(world: Fediverse) -> None:
    a, b, alice, bob = await pair(world)
    await follow_remote(b, "bob", "@alice@a.example")
    await world.settle()
    status = await post(a, "alice", "like and boost me, then don't")
    await world.settle()

    async with b.state.sessions() as session:
        me = await session.get(Actor, bob.id)
        their = (await session.exec(select(Status).where(Status.uri == status.uri))).one()
        assert me is not None
        await interactions.like(session, b.state, me, their)
        await interactions.boost(session, b.state, me, their)
        await session.commit()
    await world.settle()
    async with a.state.sessions() as session:
        assert len((await session.exec(select(Like).where(Like.status_id == status.id))).all()) == 1
        assert len((await session.exec(select(Status).where(Status.reblog_of_id == status.id))).all()) == 1

    async with b.state.sessions() as session:
        me = await session.get(Actor, bob.id)
        their = (await session.exec(select(Status).where(Status.uri == status.uri))).one()
        assert me is not None
        assert await interactions.unlike(session, b.state, me, their)
        assert await interactions.unboost(session, b.state, me, their)
        await session.commit()
    await world.settle()
    async with a.state.sessions() as session:
        assert (await session.exec(select(Like).where(Like.status_id == status.id))).first() is None
        assert (await session.exec(select(Status).where(Status.reblog_of_id == status.id))).first() is None
        assert await session.get(Status, status.id) is not None  # the post itself stays
    assert sorted(s for s, _ in await activity_state(a, "Undo")) == ["processed", "processed"]
    assert all(error is None for _, error in await activity_state(a, "Undo"))


async def test_block_and_undo_block(world: Fediverse) -> None:
    a, b, alice, bob = await pair(world)
    await follow_remote(b, "bob", "@alice@a.example")
    await follow_remote(a, "alice", "@bob@b.example")
    await world.settle()
    assert {f.state for f in await follow_rows(a, alice.uri, bob.uri)} == {FollowState.ACCEPTED.value}
    assert len(await follow_rows(a, alice.uri, bob.uri)) == 2

    async with b.state.sessions() as session:
        me = await session.get(Actor, bob.id)
        them = (await session.exec(select(Actor).where(Actor.uri == alice.uri))).one()
        assert me is not None
        await interactions.block(session, b.state, me, them)
        await session.commit()
    await world.settle()
    assert await follow_rows(a, alice.uri, bob.uri) == []
    assert await follow_rows(b, alice.uri, bob.uri) == []
    async with a.state.sessions() as session:
        blocks = (await session.exec(select(Block))).all()
    remote_bob = await known(a, bob.uri)
    assert [(blk.actor_id, blk.target_id) for blk in blocks] == [(remote_bob.id, alice.id)]
    # a knows of the block: alice cannot follow bob while it lasts.
    async with a.state.sessions() as session:
        me = await session.get(Actor, alice.id)
        them = await session.get(Actor, remote_bob.id)
        assert me is not None and them is not None
        with pytest.raises(ActionError, match="blocked"):
            await follows.follow(session, a.state, me, them)

    async with b.state.sessions() as session:
        me = await session.get(Actor, bob.id)
        them = (await session.exec(select(Actor).where(Actor.uri == alice.uri))).one()
        assert me is not None
        assert await interactions.unblock(session, b.state, me, them)
        await session.commit()
    await world.settle()
    async with a.state.sessions() as session:
        assert (await session.exec(select(Block))).first() is None
    # Unblocked: alice can follow bob again.
    await follow_remote(a, "alice", "@bob@b.example")
    await world.settle()
    assert [f.state for f in await follow_rows(a, alice.uri, bob.uri)] == [FollowState.ACCEPTED.value]


async def test_delete_of_an_actor(world: Fediverse) -> None:
    a, b, alice, bob = await pair(world)
    await follow_remote(a, "alice", "@bob@b.example")
    await follow_remote(b, "bob", "@alice@a.example")
    await world.settle()
    first = await post(b, "bob", "my first post")
    second = await post(b, "bob", "my last post")
    await world.settle()
    assert await copy_of(a, first.uri) is not None and await copy_of(a, second.uri) is not None

    # bob deletes his account: b sends Delete{actor} (signed with his key, which a has) to his followers.
    async with b.state.sessions() as session:
        me = await session.get(Actor, bob.id)
        assert me is not None
        delete = vocab.delete(id=f"{me.uri}#delete", actor=me.uri, object=me.uri, to=[PUBLIC])
        await publish(session, delete, actor=me, to_followers=True)
        await session.commit()
    await world.settle()

    gone = await known(a, bob.uri)
    assert gone.deleted_at is not None
    for uri in (first.uri, second.uri):
        copy = await copy_of(a, uri)
        assert copy is not None and copy.deleted_at is not None and copy.content == ""
    assert await follow_rows(a, alice.uri, bob.uri) == []
    assert await activity_state(a, "Delete") == [("processed", None)]


async def test_update_of_an_actor(world: Fediverse) -> None:
    a, b, alice, bob = await pair(world)
    await follow_remote(a, "alice", "@bob@b.example")
    await world.settle()
    assert (await known(a, bob.uri)).display_name == ""

    async with b.state.sessions() as session:
        me = await session.get(Actor, bob.id)
        assert me is not None
        me.display_name = "Bob the Builder"
        me.summary = "<p>Can we fix it?</p>"
        await session.flush()
        person = actor_document(me, await actor_keys(session, me))
        update = vocab.update(id=new_activity_uri(b.config), actor=me.uri, object=person)
        await publish(session, update, actor=me, recipients=[await resolve_handle(session, b.state, "@alice@a.example")])
        await session.commit()
    await world.settle()

    refreshed = await known(a, bob.uri)
    assert refreshed.display_name == "Bob the Builder"
    assert "Can we fix it?" in refreshed.summary
    assert await activity_state(a, "Update") == [("processed", None)]


async def test_reply_threading(world: Fediverse) -> None:
    a, b, alice, bob = await pair(world)
    await follow_remote(b, "bob", "@alice@a.example")
    await world.settle()
    original = await post(a, "alice", "what do you think?")
    await world.settle()
    assert await copy_of(b, original.uri) is not None

    reply = await post(b, "bob", "I think it is fine", in_reply_to=original.uri)
    assert reply.in_reply_to_uri == original.uri
    await world.settle()
    copy = await copy_of(a, reply.uri)
    assert copy is not None
    assert copy.in_reply_to_id == original.id and copy.in_reply_to_uri == original.uri
    assert copy.conversation_uri == original.conversation_uri
    async with a.state.sessions() as session:
        mentions = (await session.exec(select(Mention).where(Mention.status_id == copy.id))).all()
    assert [m.actor_id for m in mentions] == [alice.id]  # a reply mentions the parent's author

    # And back: alice answers bob's reply; b threads it under its own post.
    answer = await post(a, "alice", "glad to hear", in_reply_to=reply.uri)
    await world.settle()
    back = await copy_of(b, answer.uri)
    assert back is not None and back.in_reply_to_id == reply.id


async def test_direct_message_reaches_only_the_mentioned_actor(world: Fediverse) -> None:
    a, b, alice, bob = await pair(world)
    c = await world.add("c.example")
    await c.create_account("carol")
    await follow_remote(c, "carol", "@alice@a.example")  # a follower who is not addressed
    await world.settle()
    sent_to_c = len(world.transport.posts_to("c.example"))

    message = await post(a, "alice", "@bob@b.example this is between us", visibility="direct")
    await world.settle()
    copy = await copy_of(b, message.uri)
    assert copy is not None and copy.visibility == "direct"
    async with b.state.sessions() as session:
        mentions = (await session.exec(select(Mention).where(Mention.status_id == copy.id))).all()
    assert [m.actor_id for m in mentions] == [bob.id]
    assert len(world.transport.posts_to("c.example")) == sent_to_c
    assert await copy_of(c, message.uri) is None
    assert a.client is not None
    anonymous = await a.client.get(message.uri, headers={"Accept": "application/activity+json"})
    assert anonymous.status_code == 404


async def test_unlisted_round_trips(world: Fediverse) -> None:
    a, b, alice, bob = await pair(world)
    await follow_remote(b, "bob", "@alice@a.example")
    await follow_remote(a, "alice", "@bob@b.example")
    await world.settle()

    quiet = await post(a, "alice", "not for the public timelines", visibility="unlisted")
    await world.settle()
    copy = await copy_of(b, quiet.uri)
    assert copy is not None and copy.visibility == "unlisted"

    answer = await post(b, "bob", "quietly back", visibility="unlisted")
    await world.settle()
    back = await copy_of(a, answer.uri)
    assert back is not None and back.visibility == "unlisted"
