"""This server as Mastodon's ``Instance`` (v2) and ``V1_Instance`` entities, and the
``/api/v1/instance/*`` lists (peers, weekly activity).

Shapes follow Mastodon 4.3; limits come from ``instance.toml``.  The version
string claims Mastodon 4.3.0 compatibility, as GoToSocial and Pixelfed do,
because clients switch features on by version.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from instance_config import Config

from .. import SOFTWARE_NAME, __version__
from ..db.models import Actor, Domain, Status, User, utcnow
from ..processing.posts import MAX_CHARS
from ..stats import usage
from .accounts import account
from .common import streaming_url, thumbnail_url

__all__ = [
    "MASTODON_VERSION",
    "MASTODON_API_VERSION",
    "SOURCE_URL",
    "SUPPORTED_MIME_TYPES",
    "version_string",
    "configuration",
    "instance_v1",
    "instance_v2",
    "peers",
    "activity",
]

MASTODON_VERSION = "4.3.0"
MASTODON_API_VERSION = 2  # what Mastodon 4.3 reports in api_versions
# No public repository yet (AGPL wants a link to the source): set it when there is one.
SOURCE_URL = ""

SUPPORTED_MIME_TYPES = [
    "video/mp4",
    "video/webm",
    "video/quicktime",
    "image/jpeg",
    "image/png",
    "image/webp",
    "image/gif",
]
MAX_MEDIA_ATTACHMENTS = 4
CHARACTERS_RESERVED_PER_URL = 23
IMAGE_MATRIX_LIMIT = 33_177_600  # Mastodon's (7680x4320); we have no setting of our own


def version_string() -> str:
    """``"4.3.0 (compatible; fedisora 0.1.0)"``: Mastodon.py and megalodon read the part before the space."""
    return f"{MASTODON_VERSION} (compatible; {SOFTWARE_NAME} {__version__})"


def configuration(config: Config) -> dict[str, Any]:
    """The limits clients check before they upload or post (v2 ``configuration``)."""
    media = config.media
    return {
        "urls": {"streaming": streaming_url(config), "status": None},
        "accounts": {
            "max_featured_tags": 0,  # featured tags are not supported
            "max_pinned_statuses": 0,  # pinned posts are not supported
        },
        "statuses": {
            "max_characters": MAX_CHARS,
            "max_media_attachments": MAX_MEDIA_ATTACHMENTS,
            "characters_reserved_per_url": CHARACTERS_RESERVED_PER_URL,
        },
        "media_attachments": {
            "supported_mime_types": list(SUPPORTED_MIME_TYPES),
            "image_size_limit": media.max_image_bytes,
            "image_matrix_limit": IMAGE_MATRIX_LIMIT,
            "video_size_limit": media.max_video_bytes,
            "video_frame_rate_limit": int(media.max_video_fps),
            # The largest frame a video may have: a square one at the longest allowed side.
            "video_matrix_limit": media.max_video_long_side * media.max_video_long_side,
        },
        # Polls are not supported yet; these are Mastodon's defaults so clients keep working.
        "polls": {
            "max_options": 4,
            "max_characters_per_option": 50,
            "min_expiration": 300,
            "max_expiration": 2_629_746,
        },
        "translation": {"enabled": False},
        # `vapid` (Web Push key, 4.3) is left out: there is no push API to subscribe to.
    }


async def contact_account(session: AsyncSession, config: Config) -> dict[str, Any] | None:
    """The first admin (by creation), as an Account, or ``None``."""
    query = (
        select(Actor)
        .join(User, User.actor_id == Actor.id)
        .where(User.is_admin, Actor.suspended_at.is_(None))  # type: ignore[union-attr]
        .order_by(User.id)
    )
    admin = (await session.exec(query)).first()
    return await account(session, config, admin) if admin is not None else None


async def peers(session: AsyncSession, config: Config) -> list[str]:
    """The other servers we know, except the ones we block."""
    query = select(Domain.domain).where(Domain.local.is_(False), Domain.blocked.is_(False))  # type: ignore[attr-defined]
    rows = await session.exec(query.order_by(Domain.domain))
    return [d for d in rows.all() if not config.moderation.is_blocked(d)]


def _registrations_enabled(config: Config) -> bool:
    return config.instance.registrations != "closed"


async def instance_v2(session: AsyncSession, config: Config) -> dict[str, Any]:
    """``GET /api/v2/instance``."""
    counts = await usage(session)
    instance = config.instance
    return {
        "domain": instance.domain,
        "title": instance.name,
        "version": version_string(),
        "source_url": SOURCE_URL,
        "description": instance.description,
        "usage": {"users": {"active_month": counts.active_month}},
        "thumbnail": {"url": thumbnail_url(config)},
        "icon": [],  # no app icons in several sizes yet
        "languages": list(instance.languages),
        "configuration": configuration(config),
        "registrations": {
            "enabled": _registrations_enabled(config),
            "approval_required": instance.registrations == "approval",
            "message": None,
            "url": None,
        },
        "api_versions": {"mastodon": MASTODON_API_VERSION},
        "contact": {"email": instance.contact_email, "account": await contact_account(session, config)},
        "rules": [],  # no server rules yet
    }


async def instance_v1(session: AsyncSession, config: Config) -> dict[str, Any]:
    """``GET /api/v1/instance`` (deprecated by Mastodon, still read by many clients)."""
    counts = await usage(session)
    instance = config.instance
    v2_configuration = configuration(config)
    return {
        "uri": instance.domain,
        "title": instance.name,
        "short_description": instance.description,
        "description": instance.description,
        "email": instance.contact_email,
        "version": version_string(),
        "urls": {"streaming_api": streaming_url(config)},
        "stats": {
            "user_count": counts.total_users,
            "status_count": counts.local_posts,
            "domain_count": len(await peers(session, config)),
        },
        "thumbnail": thumbnail_url(config),
        "languages": list(instance.languages),
        "registrations": _registrations_enabled(config),
        "approval_required": instance.registrations == "approval",
        "invites_enabled": False,
        "configuration": {
            key: v2_configuration[key] for key in ("accounts", "statuses", "media_attachments", "polls")
        },
        "contact_account": await contact_account(session, config),
        "rules": [],
    }


def _week_start(moment: datetime) -> datetime:
    """Monday 00:00 UTC of ``moment``'s week (Mastodon counts ISO weeks)."""
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


async def activity(session: AsyncSession, *, now: datetime | None = None) -> list[dict[str, str]]:
    """``GET /api/v1/instance/activity``: the last 12 weeks, newest first, numbers as strings.

    ``logins`` counts users whose *last* login fell in the week: we keep no
    login history, so earlier weeks undercount.
    """
    this_week = _week_start(now or utcnow())
    posts = (Status.local, Status.reblog_of_id.is_(None))  # type: ignore[union-attr]
    weeks = []
    for i in range(12):
        start = this_week - timedelta(weeks=i)
        end = start + timedelta(weeks=1)

        async def count(model: Any, column: Any, *where: Any) -> int:
            query = select(sa.func.count()).select_from(model).where(column >= start, column < end, *where)
            return int((await session.exec(query)).one())

        weeks.append(
            {
                "week": str(int(start.timestamp())),
                "statuses": str(await count(Status, Status.published_at, *posts)),
                "logins": str(await count(User, User.last_login_at)),
                "registrations": str(await count(User, User.created_at)),
            }
        )
    return weeks
