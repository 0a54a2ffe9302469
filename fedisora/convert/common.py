"""Pieces every Mastodon entity shares: timestamps, ids, handles and the URLs of default images."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from instance_config import Config

from ..db.models import Actor
from ..federation.documents import tag_url  # one hashtag URL for the client API and federation

__all__ = [
    "iso",
    "iso_or_none",
    "iso_date",
    "entity_id",
    "acct",
    "MISSING_AVATAR_PATH",
    "MISSING_HEADER_PATH",
    "THUMBNAIL_PATH",
    "missing_avatar_url",
    "missing_header_url",
    "thumbnail_url",
    "streaming_url",
    "media_url",
    "tag_url",
    "error",
]

# Mastodon's own paths for "no image": clients such as Tusky and Ivory look for
# the ``missing.png`` ending to draw their own placeholder.  The routes that
# answer at these paths live in ``fedisora.api.mastodon.instance``.
MISSING_AVATAR_PATH = "/avatars/original/missing.png"
MISSING_HEADER_PATH = "/headers/original/missing.png"
THUMBNAIL_PATH = "/images/preview.png"


def iso(moment: datetime) -> str:
    """A timestamp as Mastodon writes it: UTC, milliseconds, ``Z`` (``2026-11-25T08:30:00.123Z``)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # stored datetimes are UTC; naive ones mean UTC
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def iso_or_none(moment: datetime | None) -> str | None:
    return iso(moment) if moment is not None else None


def iso_date(moment: datetime | date) -> str:
    """A date only (``2026-11-25``), as in ``Account.last_status_at``."""
    if isinstance(moment, datetime):
        moment = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC).date()
    return moment.isoformat()


def entity_id(value: int) -> str:
    """Ids are 64-bit integers in the database and strings in the API (JavaScript loses precision)."""
    return str(value)


def acct(actor: Actor) -> str:
    """``username`` for local accounts, ``username@domain`` for remote ones."""
    return actor.username if actor.local else f"{actor.username}@{actor.domain}"


def missing_avatar_url(config: Config) -> str:
    return config.base_url + MISSING_AVATAR_PATH


def missing_header_url(config: Config) -> str:
    return config.base_url + MISSING_HEADER_PATH


def thumbnail_url(config: Config) -> str:
    return config.base_url + THUMBNAIL_PATH


def streaming_url(config: Config) -> str:
    """``wss://host`` (``ws://`` on an http instance).  The streaming API (WebSocket and server-sent events) answers there."""
    scheme, _, rest = config.base_url.partition("://")
    return ("wss" if scheme == "https" else "ws") + "://" + rest


def media_url(config: Config, file_path: str) -> str:
    """The public URL of a stored media file: ``<s3_public_url>/<s3_prefix><path>`` when an S3
    backend has a public URL, else ``<base>/media/<path>`` (served by :mod:`fedisora.web.media`,
    which also redirects there when the files have moved to S3).  ``file_path`` is
    the storage path (``ab/cd/<sha>.<ext>``) or an absolute path inside the media dir.
    """
    from ..media.storage import public_base_url  # here: the rest of this module needs no media

    path = Path(file_path)
    if path.is_absolute():
        try:
            path = path.relative_to(config.media_dir)
        except ValueError:
            path = Path(path.name)
    rel = path.as_posix().lstrip("/")
    base = public_base_url(config)
    return f"{base}/{rel}" if base is not None else f"{config.base_url}/media/{rel}"


def error(message: str, description: str | None = None) -> dict[str, Any]:
    """Mastodon's Error entity: ``{"error": ...}`` (plus ``error_description`` for OAuth errors)."""
    body: dict[str, Any] = {"error": message}
    if description is not None:
        body["error_description"] = description
    return body
