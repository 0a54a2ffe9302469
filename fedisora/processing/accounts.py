"""Local actors changing their own profile, and muting other accounts.

- :func:`update_profile` validates and applies a profile change (name, bio,
  locked, bot, discoverable, indexable, avatar and header URLs) and, when
  anything changed, publishes an ``Update`` of the actor to its followers;
- :func:`follow_account` is :func:`fedisora.processing.follows.follow` plus
  the immediate acceptance a local, unlocked target gives (as on Mastodon);
- :func:`mute` / :func:`unmute`: mutes are a local choice and never federate;
  a mute may expire (``expires_at``) and then no longer counts.

As everywhere in :mod:`fedisora.processing`, the caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub import vocab
from instance_config import Config

from ..attestations.documents import attestation_entries
from ..db.models import Actor, ActorType, Follow, FollowState, Mute, utcnow
from ..federation.documents import actor_document, actor_keys, new_activity_uri
from ..federation.outbox import publish
from ..html import html_to_text, render_text
from ..state import AppState
from . import follows
from .errors import ActionError

__all__ = [
    "MAX_DISPLAY_NAME",
    "MAX_NOTE",
    "MAX_MUTE_SECONDS",
    "ProfileChanges",
    "validate",
    "update_profile",
    "publish_profile_update",
    "follow_account",
    "active_mute",
    "mute",
    "unmute",
    "active_mute_condition",
]

MAX_DISPLAY_NAME = 30  # Mastodon's limits
MAX_NOTE = 500
MAX_MUTE_SECONDS = 10 * 365 * 24 * 3600


@dataclass(frozen=True)
class ProfileChanges:
    """What to change; ``None`` leaves a field as it is."""

    display_name: str | None = None
    note: str | None = None  # plain text, rendered to HTML
    locked: bool | None = None
    bot: bool | None = None
    discoverable: bool | None = None
    indexable: bool | None = None
    avatar_url: str | None = None
    header_url: str | None = None


def validate(changes: ProfileChanges) -> None:
    """:class:`ActionError` (422) when ``changes`` break Mastodon's limits."""
    if changes.display_name is not None and len(changes.display_name) > MAX_DISPLAY_NAME:
        raise ActionError(f"Validation failed: Display name is too long (maximum is {MAX_DISPLAY_NAME} characters)")
    if changes.note is not None and len(changes.note) > MAX_NOTE:
        raise ActionError(f"Validation failed: Note is too long (maximum is {MAX_NOTE} characters)")
    for value in (changes.display_name, changes.note):
        if value is not None and "\x00" in value:
            raise ActionError("Validation failed: text may not contain NUL characters")


def _render_note(state: AppState, text: str) -> str:
    if not text.strip():
        return ""
    return render_text(text, tag_url=lambda tag: f"{state.config.base_url}/tags/{tag}")


async def update_profile(
    session: AsyncSession, state: AppState, actor: Actor, changes: ProfileChanges
) -> bool:
    """Apply ``changes`` to local ``actor``; publishes ``Update`` when something changed.
    Returns whether anything changed.  Raises :class:`ActionError` (422) for bad input."""
    if not actor.local:
        raise ActionError("only local accounts can be edited", 403)
    validate(changes)
    before = _snapshot(actor)
    if changes.display_name is not None:
        actor.display_name = changes.display_name.strip()
    if changes.note is not None and changes.note != html_to_text(actor.summary):
        actor.summary = _render_note(state, changes.note)
    if changes.locked is not None:
        actor.manually_approves_followers = changes.locked
    if changes.bot is not None and actor.actor_type in (ActorType.PERSON.value, ActorType.SERVICE.value):
        actor.actor_type = (ActorType.SERVICE if changes.bot else ActorType.PERSON).value
    if changes.discoverable is not None:
        actor.discoverable = changes.discoverable
    if changes.indexable is not None:
        actor.indexable = changes.indexable
    if changes.avatar_url is not None:
        actor.icon_url = changes.avatar_url or None
    if changes.header_url is not None:
        actor.header_url = changes.header_url or None
    if _snapshot(actor) == before:
        return False
    session.add(actor)
    await session.flush()
    await publish_profile_update(session, state.config, actor)
    return True


def _snapshot(actor: Actor) -> tuple[object, ...]:
    return (
        actor.display_name,
        actor.summary,
        actor.manually_approves_followers,
        actor.actor_type,
        actor.discoverable,
        actor.indexable,
        actor.icon_url,
        actor.header_url,
    )


async def publish_profile_update(session: AsyncSession, config: Config, actor: Actor) -> None:
    """Send ``Update(actor)`` to the actor's followers (they re-fetch the profile): after a
    profile edit here, and after its attestations changed (``attestations.service.announce_actor``)."""
    document = actor_document(actor, await actor_keys(session, actor), await attestation_entries(session, actor))
    update = vocab.update(
        id=new_activity_uri(config),
        actor=actor.uri,
        object=document,
        cc=[actor.followers_uri or f"{actor.uri}/followers"],
        published=utcnow(),
    )
    await publish(session, update, actor=actor, to_followers=True)


# ---- following -------------------------------------------------------------------------------


async def follow_account(session: AsyncSession, state: AppState, follower: Actor, target: Actor) -> Follow:
    """Follow ``target``.  A local target that does not approve followers by hand is
    followed at once (its inbox job later sends the Accept, which changes nothing);
    remote targets and locked accounts stay pending until they answer."""
    record = await follows.follow(session, state, follower, target)
    if (
        target.local
        and not target.manually_approves_followers
        and record.state == FollowState.PENDING.value
    ):
        record.state = FollowState.ACCEPTED.value
        session.add(record)
        await session.flush()
    return record


# ---- mutes -----------------------------------------------------------------------------------


def active_mute_condition() -> sa.ColumnElement[bool]:
    """SQL condition on :class:`Mute`: not expired."""
    return sa.or_(col(Mute.expires_at).is_(None), col(Mute.expires_at) > utcnow())


async def active_mute(session: AsyncSession, actor: Actor, target: Actor) -> Mute | None:
    query = select(Mute).where(Mute.actor_id == actor.id, Mute.target_id == target.id, active_mute_condition())
    return (await session.exec(query)).first()


async def mute(
    session: AsyncSession,
    actor: Actor,
    target: Actor,
    *,
    notifications: bool = True,
    duration: int | None = None,
) -> Mute:
    """Mute ``target`` (again: updates the flags); ``duration`` in seconds, 0/None = forever."""
    if actor.id == target.id:
        raise ActionError("You cannot mute yourself")
    if duration is not None and not (0 <= duration <= MAX_MUTE_SECONDS):
        raise ActionError(f"duration must be between 0 and {MAX_MUTE_SECONDS} seconds")
    expires_at = utcnow() + timedelta(seconds=duration) if duration else None
    record = (
        await session.exec(select(Mute).where(Mute.actor_id == actor.id, Mute.target_id == target.id))
    ).first()
    if record is None:
        record = Mute(actor_id=actor.id, target_id=target.id)
    else:
        record.created_at = utcnow()  # a renewed mute (also one that had expired)
    record.notifications = notifications
    record.expires_at = expires_at
    session.add(record)
    await session.flush()
    return record


async def unmute(session: AsyncSession, actor: Actor, target: Actor) -> bool:
    result = await session.exec(
        sa.delete(Mute).where(col(Mute.actor_id) == actor.id, col(Mute.target_id) == target.id)  # type: ignore[arg-type]
    )
    return bool(result.rowcount)
