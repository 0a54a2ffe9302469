"""Actors as Mastodon ``Account``, ``Relationship``, ``Mention`` and ``Role`` entities.

Shapes follow Mastodon 4.3 (docs.joinmastodon.org/entities/Account and
Relationship).  Counts are what *this* server knows: for remote accounts
Mastodon shows the totals the origin reports, which we do not store yet.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub.extract import datetime_of
from instance_config import Config

from ..db.models import Actor, ActorType, Block, Follow, FollowState, Mute, Status, User, Visibility, utcnow
from ..html import html_to_text
from .attestations import add_account_verification
from .common import acct, entity_id, iso, iso_date, missing_avatar_url, missing_header_url

__all__ = ["account", "relationship", "mention", "role", "AccountCache"]

BOT_TYPES = (ActorType.SERVICE.value, ActorType.APPLICATION.value)

# Mastodon's built-in role for everyone ("-99", no name, not shown on profiles).
EVERYONE_ROLE: dict[str, Any] = {
    "id": "-99",
    "name": "",
    "permissions": "0",  # Mastodon grants invite_users (65536); we have no invites
    "color": "",
    "highlighted": False,
}
# Admins hold Mastodon's "Admin" role; permission bit 1 is "administrator" (all powers).
ADMIN_ROLE: dict[str, Any] = {
    "id": "2",
    "name": "Admin",
    "permissions": "1",
    "color": "",
    "highlighted": True,
}

AccountCache = dict[tuple[int, bool], dict[str, Any]]
"""Accounts already converted during one request, by ``(actor id, source)``."""


async def _counts(session: AsyncSession, actor: Actor) -> tuple[int, int, int, str | None]:
    """statuses (without direct ones, as Mastodon), followers, following, last_status_at."""
    # Mastodon counts boosts but not direct messages, and dates the last post the same way.
    counted = (
        Status.actor_id == actor.id,
        Status.deleted_at.is_(None),  # type: ignore[union-attr]
        Status.visibility != Visibility.DIRECT.value,
    )
    statuses, last = (
        await session.exec(select(sa.func.count(), sa.func.max(Status.published_at)).where(*counted))
    ).one()
    followers = (
        await session.exec(
            select(sa.func.count()).select_from(Follow).where(
                Follow.target_id == actor.id, Follow.state == FollowState.ACCEPTED.value
            )
        )
    ).one()
    following = (
        await session.exec(
            select(sa.func.count()).select_from(Follow).where(
                Follow.follower_id == actor.id, Follow.state == FollowState.ACCEPTED.value
            )
        )
    ).one()
    return int(statuses), int(followers), int(following), iso_date(last) if last else None


def _created_at(actor: Actor) -> str:
    """Mastodon (3.4+) shows only the day an account was created, at midnight UTC.

    Remote actors: the ``published`` date they advertise, else when we first saw them.
    """
    created = actor.created_at
    if not actor.local and actor.raw:
        created = datetime_of(actor.raw.get("published")) or created
    return iso(created.replace(hour=0, minute=0, second=0, microsecond=0))


async def _user_of(session: AsyncSession, actor: Actor) -> User | None:
    if not actor.local:
        return None
    return (await session.exec(select(User).where(User.actor_id == actor.id))).first()


async def account(
    session: AsyncSession,
    config: Config,
    actor: Actor,
    *,
    source: bool = False,
    user: User | None = None,
    cache: AccountCache | None = None,
) -> dict[str, Any]:
    """The ``Account`` entity of ``actor``.

    ``source=True`` gives a ``CredentialAccount`` (``verify_credentials``,
    ``update_credentials``): adds ``source`` and ``role``; pass the ``user``
    if it is at hand (it is looked up otherwise).
    """
    key = (actor.id, source)
    if cache is not None and key in cache:
        return cache[key]
    statuses_count, followers_count, following_count, last_status_at = await _counts(session, actor)
    suspended = actor.suspended_at is not None or actor.deleted_at is not None
    avatar = actor.icon_url or missing_avatar_url(config)
    header = actor.header_url or missing_header_url(config)
    if suspended:  # Mastodon blanks a suspended (or deleted) profile
        avatar, header = missing_avatar_url(config), missing_header_url(config)
    if actor.local and user is None:  # needed for roles
        user = await _user_of(session, actor)
    entity: dict[str, Any] = {
        "id": entity_id(actor.id),
        "username": actor.username,
        "acct": acct(actor),
        "display_name": "" if suspended else actor.display_name,
        "locked": False if suspended else actor.manually_approves_followers,
        "bot": False if suspended else actor.actor_type in BOT_TYPES,
        "discoverable": False if suspended else actor.discoverable,
        "indexable": False if suspended else actor.indexable,
        "group": actor.actor_type == ActorType.GROUP.value,
        "created_at": _created_at(actor),
        "note": "" if suspended else actor.summary,
        "url": actor.url or actor.uri,
        "uri": actor.uri,
        "avatar": avatar,
        "avatar_static": avatar,  # we do not make static versions of animated avatars
        "header": header,
        "header_static": header,
        "followers_count": followers_count,
        "following_count": following_count,
        "statuses_count": statuses_count,
        "last_status_at": last_status_at,
        "hide_collections": False,  # not stored: we always publish follower/following collections
        "emojis": [],  # not stored: custom emoji
        "fields": [],  # not stored: profile fields (PropertyValue attachments)
    }
    # `moved` is present only for a moved account, as on Mastodon; resolving
    # `moved_to_uri` to an Account is left for the Move work.
    if suspended:
        entity["suspended"] = True
    elif not actor.local and config.moderation.is_limited(actor.domain):
        entity["limited"] = True
    if actor.local:
        entity["noindex"] = False  # not stored: the user's "hide from search engines" preference
        entity["roles"] = [_public_role(ADMIN_ROLE)] if user is not None and user.is_admin else []
    if source:
        entity["source"] = await _source(session, actor)
        entity["role"] = role(user)
    if not suspended:  # attestations: the "Verification" field and entity["fedisora"]["verification"]
        await add_account_verification(session, config, actor, entity)
    if cache is not None:
        cache[key] = entity
    return entity


def _public_role(full: dict[str, Any]) -> dict[str, Any]:
    """Roles on profiles show only id, name and colour."""
    return {"id": full["id"], "name": full["name"], "color": full["color"]}


def role(user: User | None) -> dict[str, Any]:
    """The ``Role`` entity of a local user (``CredentialAccount.role``)."""
    return dict(ADMIN_ROLE if user is not None and user.is_admin else EVERYONE_ROLE)


async def _source(session: AsyncSession, actor: Actor) -> dict[str, Any]:
    pending = (
        await session.exec(
            select(sa.func.count()).select_from(Follow).where(
                Follow.target_id == actor.id, Follow.state == FollowState.PENDING.value
            )
        )
    ).one()
    return {
        "privacy": Visibility.PUBLIC.value,  # not stored: default post visibility
        "sensitive": False,  # not stored: "always mark media sensitive"
        "language": "",  # not stored: default posting language ("" = none chosen)
        "note": html_to_text(actor.summary),
        "fields": [],  # not stored: profile fields
        "follow_requests_count": int(pending),
        "hide_collections": False,
        "discoverable": actor.discoverable,
        "indexable": actor.indexable,
    }


def mention(actor: Actor) -> dict[str, Any]:
    """A ``Status.mentions`` item."""
    return {
        "id": entity_id(actor.id),
        "username": actor.username,
        "url": actor.url or actor.uri,
        "acct": acct(actor),
    }


async def relationship(session: AsyncSession, viewer: Actor, target: Actor) -> dict[str, Any]:
    """The ``Relationship`` of ``viewer`` to ``target``."""
    follows = (
        await session.exec(
            select(Follow).where(
                sa.or_(
                    sa.and_(Follow.follower_id == viewer.id, Follow.target_id == target.id),  # type: ignore[arg-type]
                    sa.and_(Follow.follower_id == target.id, Follow.target_id == viewer.id),  # type: ignore[arg-type]
                )
            )
        )
    ).all()
    out = next((f for f in follows if f.follower_id == viewer.id), None)
    back = next((f for f in follows if f.follower_id == target.id), None)
    blocks = (
        await session.exec(
            select(Block).where(
                sa.or_(
                    sa.and_(Block.actor_id == viewer.id, Block.target_id == target.id),  # type: ignore[arg-type]
                    sa.and_(Block.actor_id == target.id, Block.target_id == viewer.id),  # type: ignore[arg-type]
                )
            )
        )
    ).all()
    muted = (
        await session.exec(
            select(Mute).where(
                Mute.actor_id == viewer.id,
                Mute.target_id == target.id,
                sa.or_(Mute.expires_at.is_(None), Mute.expires_at > utcnow()),  # type: ignore[union-attr,operator]
            )
        )
    ).first()
    following = out is not None and out.state == FollowState.ACCEPTED.value
    requested = out is not None and out.state == FollowState.PENDING.value
    return {
        "id": entity_id(target.id),
        "following": following,
        "showing_reblogs": following or requested,  # not stored: "hide boosts" per follow
        "notifying": False,  # not stored: "notify me of new posts"
        "languages": None,  # not stored: per-follow language filter
        "followed_by": back is not None and back.state == FollowState.ACCEPTED.value,
        "blocking": any(b.actor_id == viewer.id for b in blocks),
        "blocked_by": any(b.actor_id == target.id for b in blocks),
        "muting": muted is not None,
        "muting_notifications": muted is not None and muted.notifications,
        "requested": requested,
        "requested_by": back is not None and back.state == FollowState.PENDING.value,
        "domain_blocking": False,  # not stored: per-user domain blocks
        "endorsed": False,  # not stored: featured accounts
        "note": "",  # not stored: private notes on accounts
    }
