"""Models against a migrated database: defaults, types, constraints, cascades."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from fedisora.db.engine import make_sessionmaker
from fedisora.db.models import (
    Activity,
    Actor,
    Domain,
    Follow,
    FollowState,
    Key,
    MediaAttachment,
    Status,
    User,
    Visibility,
    metadata,
    username_key,
)

DOMAIN = "example.test"


def _actor(name: str, domain: str = DOMAIN, **kw: object) -> Actor:
    return Actor(
        uri=f"https://{domain}/users/{name}",
        domain=domain,
        username=name,
        username_key=username_key(name),
        **kw,
    )


async def _seed_domain(engine: AsyncEngine) -> None:
    async with make_sessionmaker(engine)() as s:
        s.add(Domain(domain=DOMAIN, local=True))
        await s.commit()


def test_metadata_has_all_tables_with_named_constraints() -> None:
    assert set(metadata.tables) == {
        "domains", "actors", "users", "keys", "follows",
        "statuses", "activities", "media_attachments", "jobs",
        "likes", "blocks", "mentions",
        "oauth_applications", "oauth_authorization_codes", "oauth_tokens",
        "notifications", "bookmarks", "mutes", "markers", "status_edits",
        "status_tags", "idempotency_keys",
        "attestations", "status_lists", "moderation_audit_log",
        "attestation_verifications", "attestation_status_lists", "delivery_failures",
    }  # fmt: skip
    for table in metadata.tables.values():
        for constraint in table.constraints:
            assert constraint.name, f"unnamed constraint on {table.name}"


async def test_roundtrip_defaults_json_and_utc(engine: AsyncEngine) -> None:
    await _seed_domain(engine)
    sessions = make_sessionmaker(engine)
    fetched = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    async with sessions() as s:
        actor = _actor("Alice", also_known_as=["https://old.test/@a"], fetched_at=fetched)
        actor.raw = {"type": "Person", "nested": {"k": [1, 2]}}
        s.add(actor)
        await s.commit()
        actor_id = actor.id
    assert actor_id > 2**40  # snowflake default
    async with sessions() as s:
        got = await s.get(Actor, actor_id)
        assert got is not None
        assert got.username_key == "alice" and got.display_name == "" and got.discoverable
        assert got.also_known_as == ["https://old.test/@a"]
        assert got.raw == {"type": "Person", "nested": {"k": [1, 2]}}
        assert got.fetched_at == fetched and got.fetched_at.tzinfo == timezone.utc
        assert got.created_at.tzinfo == timezone.utc
        assert got.suspended_at is None and got.url is None
        assert abs(got.created_at - datetime.now(timezone.utc)) < timedelta(minutes=1)


async def test_unique_username_key_per_domain(engine: AsyncEngine) -> None:
    await _seed_domain(engine)
    sessions = make_sessionmaker(engine)
    async with sessions() as s:
        s.add(_actor("bob"))
        await s.commit()
    async with sessions() as s:
        dup = _actor("BOB")
        dup.uri = "https://example.test/users/BOB-other"
        s.add(dup)
        with pytest.raises(IntegrityError):
            await s.commit()
    async with sessions() as s:  # same name on another domain is fine
        s.add(Domain(domain="other.test"))
        await s.flush()  # no ORM relationships: parents are flushed first by hand
        s.add(_actor("bob", domain="other.test"))
        await s.commit()


async def test_nullable_json_is_sql_null(engine: AsyncEngine) -> None:
    await _seed_domain(engine)
    async with make_sessionmaker(engine)() as s:
        s.add(_actor("nobody"))
        await s.commit()
        raw = (await s.exec(sa.text("SELECT COUNT(*) FROM actors WHERE raw IS NULL"))).one()  # type: ignore[call-overload]
        assert raw[0] == 1


async def test_unique_activity_uri(engine: AsyncEngine) -> None:
    sessions = make_sessionmaker(engine)

    def activity() -> Activity:
        return Activity(
            uri="https://r.test/activities/1",
            activity_type="Create",
            actor_uri="https://r.test/users/x",
            raw={"type": "Create"},
        )

    async with sessions() as s:
        s.add(activity())
        await s.commit()
    async with sessions() as s:
        s.add(activity())
        with pytest.raises(IntegrityError):
            await s.commit()


async def test_actor_requires_known_domain(engine: AsyncEngine) -> None:
    async with make_sessionmaker(engine)() as s:
        s.add(_actor("ghost", domain="unknown.test"))
        with pytest.raises(IntegrityError):
            await s.commit()


async def test_deleting_actor_cascades(engine: AsyncEngine) -> None:
    await _seed_domain(engine)
    sessions = make_sessionmaker(engine)
    async with sessions() as s:
        alice, bob = _actor("alice"), _actor("bob")
        s.add_all([alice, bob])
        await s.flush()
        s.add(User(actor_id=alice.id, email="a@example.test"))
        s.add(Key(actor_id=alice.id, key_id=f"{alice.uri}#main-key", public_key_pem="PEM"))
        s.add(Follow(follower_id=bob.id, target_id=alice.id, state=FollowState.ACCEPTED))
        post = Status(uri=f"{alice.uri}/statuses/1", actor_id=alice.id, content="<p>hi</p>")
        s.add(post)
        await s.flush()
        reply = Status(
            uri=f"{bob.uri}/statuses/2",
            actor_id=bob.id,
            in_reply_to_id=post.id,
            visibility=Visibility.UNLISTED,
        )
        media = MediaAttachment(actor_id=bob.id, status_id=post.id)
        s.add_all([reply, media])
        await s.commit()
        alice_id, reply_id, media_id = alice.id, reply.id, media.id

    async with sessions() as s:
        await s.exec(sa.delete(Actor).where(col(Actor.id) == alice_id))  # type: ignore[call-overload]
        await s.commit()

    async with sessions() as s:
        for model in (User, Key, Follow):
            assert (await s.exec(select(model))).all() == []
        statuses = (await s.exec(select(Status))).all()
        assert [st.id for st in statuses] == [reply_id]
        assert statuses[0].in_reply_to_id is None  # SET NULL
        media_row = await s.get(MediaAttachment, media_id)
        assert media_row is not None and media_row.status_id is None  # SET NULL


async def test_unique_follow_pair(engine: AsyncEngine) -> None:
    await _seed_domain(engine)
    sessions = make_sessionmaker(engine)
    async with sessions() as s:
        a, b = _actor("a"), _actor("b")
        s.add_all([a, b])
        await s.flush()
        s.add(Follow(follower_id=a.id, target_id=b.id))
        await s.commit()
        a_id, b_id = a.id, b.id
    async with sessions() as s:
        s.add(Follow(follower_id=a_id, target_id=b_id))
        with pytest.raises(IntegrityError):
            await s.commit()
