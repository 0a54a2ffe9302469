"""Like, Announce (boost), Block, and Undo of those and of Follow."""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub.addressing import visibility_of
from activitypub.extract import datetime_of, has_type, id_of, same_origin

from ...db.models import Actor, Block, Follow, Like, NotificationType, Status, utcnow
from ...notify import notify, withdraw, withdraw_boost_notification
from ...state import AppState
from ..proofs import ProofError, verify_document
from ..remote import fetch, get_actor
from .common import Ignored, embedded_or_stored, local_actor_by_uri, status_by_uri
from .posts import store_remote_post

log = logging.getLogger(__name__)


async def on_like(session: AsyncSession, state: AppState, actor: Actor, activity: dict[str, Any]) -> None:
    status = await status_by_uri(session, id_of(activity.get("object")))
    if status is None or status.deleted_at is not None:
        raise Ignored("Like of a post we do not have")
    exists = await session.exec(select(Like).where(Like.actor_id == actor.id, Like.status_id == status.id))
    if exists.first() is None and not actor.local:  # local likes are made by the service
        session.add(Like(uri=id_of(activity.get("id")), actor_id=actor.id, status_id=status.id))
    if not actor.local:  # a local like notifies when it is made
        author = await session.get(Actor, status.actor_id)
        if author is not None:
            await notify(session, recipient=author, type=NotificationType.FAVOURITE, from_actor=actor, status=status)


async def fetch_post(session: AsyncSession, state: AppState, uri: str, embedded: Any = None) -> Status:
    """The post ``uri``: ours already, the ``embedded`` copy when its author's proof vouches
    for it (a relay or a server that embeds what it boosts), else fetched from its origin."""
    status = await status_by_uri(session, uri)
    if status is not None:
        return status
    proven = await _proven_post(session, state, uri, embedded)
    if proven is not None:
        return proven
    fetched = await fetch(session, state, uri)
    author_uri = id_of(fetched.data.get("attributedTo"))
    if not author_uri or not same_origin(author_uri, fetched.url_final) or not same_origin(uri, fetched.url_final):
        raise Ignored(f"boosted post {uri} is not served by its author's server")
    author = await get_actor(session, state, author_uri)
    return await store_remote_post(session, author, fetched.data)


async def _proven_post(session: AsyncSession, state: AppState, uri: str, embedded: Any) -> Status | None:
    """``embedded`` stored as the post ``uri`` when it carries a valid FEP-8b32 proof made by
    its author, on the author's own server; ``None`` (fetch it instead) otherwise."""
    if not isinstance(embedded, dict) or embedded.get("proof") is None or id_of(embedded.get("id")) != uri:
        return None
    author_uri = id_of(embedded.get("attributedTo"))
    if not author_uri or not same_origin(author_uri, uri):
        return None
    try:
        controller = await verify_document(state, session, embedded, expected_controller=author_uri)
    except ProofError as exc:
        log.info("embedded copy of %s not used: %s", uri, exc)
        return None
    author = await get_actor(session, state, controller)
    return await store_remote_post(session, author, embedded)


async def on_announce(session: AsyncSession, state: AppState, actor: Actor, activity: dict[str, Any]) -> None:
    if actor.local:
        return  # our own boost, stored when it was made
    uri = id_of(activity.get("id"))
    if await status_by_uri(session, uri) is not None:
        return
    target = id_of(activity.get("object"))
    if not target:
        raise Ignored("Announce without an object")
    original = await fetch_post(session, state, target, activity.get("object"))
    if original.deleted_at is not None:
        raise Ignored("Announce of a deleted post")
    session.add(
        Status(
            uri=str(uri),
            actor_id=actor.id,
            local=False,
            visibility=visibility_of(activity.get("to"), activity.get("cc"), actor.followers_uri),
            reblog_of_id=original.id,
            published_at=datetime_of(activity.get("published")) or utcnow(),
        )
    )
    original_author = await session.get(Actor, original.actor_id)
    if original_author is not None:
        await notify(session, recipient=original_author, type=NotificationType.REBLOG, from_actor=actor, status=original)


async def on_block(session: AsyncSession, state: AppState, actor: Actor, activity: dict[str, Any]) -> None:
    target = await local_actor_by_uri(session, id_of(activity.get("object")))
    if target is None:
        raise Ignored("Block of an actor that is not ours")
    exists = await session.exec(select(Block).where(Block.actor_id == actor.id, Block.target_id == target.id))
    if exists.first() is None:
        if actor.local:
            raise Ignored("local block no longer exists")  # unblocked before this job ran
        session.add(Block(uri=id_of(activity.get("id")), actor_id=actor.id, target_id=target.id))
    # A block ends following in both directions.
    await session.exec(
        sa.delete(Follow).where(  # type: ignore[arg-type]
            sa.or_(
                sa.and_(Follow.follower_id == actor.id, Follow.target_id == target.id),
                sa.and_(Follow.follower_id == target.id, Follow.target_id == actor.id),
            )
        )
    )


async def _undone_kind(session: AsyncSession, inner: dict[str, Any], inner_id: str | None) -> str:
    for kind in ("Follow", "Like", "Block", "Announce"):
        if has_type(inner, kind):
            return kind
    if inner_id:  # only an id we never stored: find which of our rows carries it
        for kind, model in (("Follow", Follow), ("Like", Like), ("Block", Block)):
            if (await session.exec(select(model).where(model.uri == inner_id))).first() is not None:  # type: ignore[attr-defined]
                return kind
    return "Announce"


async def on_undo(session: AsyncSession, state: AppState, actor: Actor, activity: dict[str, Any]) -> None:
    inner = await embedded_or_stored(session, activity.get("object"))
    if inner is None:
        raise Ignored("Undo without an object")
    inner_id = id_of(inner.get("id"))
    if id_of(inner.get("actor")) not in (None, actor.uri):
        raise Ignored("an actor may only undo its own activities")
    kind = await _undone_kind(session, inner, inner_id)
    target = id_of(inner.get("object"))
    if kind == "Follow":
        followed = await local_actor_by_uri(session, target)
        await _undo_by(session, Follow, Follow.follower_id, actor, inner_id, Follow.target_id, followed)
        if followed is not None:
            for notification_type in (NotificationType.FOLLOW, NotificationType.FOLLOW_REQUEST):
                await withdraw(session, recipient=followed, type=notification_type, from_actor=actor)
    elif kind == "Like":
        liked = await status_by_uri(session, target)
        await _undo_by(session, Like, Like.actor_id, actor, inner_id, Like.status_id, liked)
        if liked is not None:
            await withdraw(session, recipient=liked.actor_id, type=NotificationType.FAVOURITE, from_actor=actor, status=liked)
    elif kind == "Block":
        await _undo_by(session, Block, Block.actor_id, actor, inner_id,
                       Block.target_id, await local_actor_by_uri(session, target))
    else:
        boost = await status_by_uri(session, inner_id)
        if boost is None or boost.actor_id != actor.id or boost.reblog_of_id is None:
            raise Ignored("Undo of a boost we do not have")
        await session.delete(boost)
        await withdraw_boost_notification(session, actor, boost.reblog_of_id)


async def _undo_by(
    session: AsyncSession,
    model: type[Follow] | type[Like] | type[Block],
    owner_column: Any,
    actor: Actor,
    inner_id: str | None,
    other_column: Any,
    other: Actor | Status | None,
) -> None:
    """Delete the row made by ``actor``: by the undone activity's id, else by its object."""
    conditions = [owner_column == actor.id]
    by_uri = model.uri == inner_id if inner_id else sa.false()  # type: ignore[attr-defined]
    by_object = other_column == other.id if other is not None else sa.false()
    result = await session.exec(sa.delete(model).where(*conditions, sa.or_(by_uri, by_object)))  # type: ignore[arg-type]
    if not result.rowcount:  # type: ignore[attr-defined]
        raise Ignored(f"Undo of a {model.__name__.lower()} we do not have")
