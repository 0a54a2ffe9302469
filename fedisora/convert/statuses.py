"""Posts as Mastodon ``Status``, ``MediaAttachment``, ``Tag`` and ``Context`` entities (Mastodon 4.3 shapes).

As on Mastodon, the fields that depend on who looks (``favourited``,
``reblogged``, ``muted``, ``bookmarked``, ``filtered``, ``pinned``) are present
only when there is a viewer, and ``pinned`` only on the viewer's own posts.
Which posts a viewer may see is the caller's business; deleted posts are
never converted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub.extract import as_list, datetime_of, id_of, int_of, text_of, types_of
from instance_config import Config

from ..attestations.vocabulary import AI_SOURCE_TYPES
from ..db.models import Actor, Bookmark, Like, MediaAttachment, MediaState, Mention, Status, Visibility, utcnow
from ..html import find_hashtags, html_to_text
from .accounts import AccountCache, account, mention
from .attestations import add_status_verification
from ..media.remote import request_copies
from ..media.sizes import size_meta
from .common import entity_id, iso, iso_or_none, media_url, tag_url

__all__ = ["status", "statuses", "context", "media_attachment", "tag"]

PINNABLE = (Visibility.PUBLIC.value, Visibility.UNLISTED.value, Visibility.PRIVATE.value)


# ---- media -------------------------------------------------------------------------------


def _meta(media: MediaAttachment) -> dict[str, Any]:
    """Mastodon's ``meta``: ``original``/``small`` sizes (and video timing), ``focus``.

    A processor that already wrote Mastodon's shape (an ``original`` key) is
    passed through; otherwise it is built from ``width``/``height`` and the
    video fields we may have.
    """
    stored = dict(media.meta or {})
    if isinstance(stored.get("original"), dict):
        meta = stored
    else:
        meta = {}
        width, height = stored.get("width"), stored.get("height")
        sized = isinstance(width, int) and isinstance(height, int) and size_meta(width, height)
        original: dict[str, Any] = dict(sized) if sized else {}
        for key in ("frame_rate", "duration", "bitrate"):
            if key in stored:
                original[key] = stored[key]
        if original:
            meta["original"] = original
        if isinstance(stored.get("small"), dict):
            meta["small"] = stored["small"]
        for key in ("length", "duration", "fps"):
            if key in stored:
                meta[key] = stored[key]
    if media.focus_x is not None and media.focus_y is not None:
        meta["focus"] = {"x": media.focus_x, "y": media.focus_y}
    return meta


def media_attachment(config: Config, media: MediaAttachment) -> dict[str, Any]:
    """The ``MediaAttachment`` entity: our copy if we have one, else the remote file's URL."""
    if media.state == MediaState.PROCESSING.value:
        url = None  # Mastodon: null until processed
    elif media.file_path:
        url = media_url(config, media.file_path)
    else:
        url = media.remote_url
    if media.thumbnail_path:
        preview = media_url(config, media.thumbnail_path)
    elif media.thumbnail_remote_url:
        preview = media.thumbnail_remote_url  # remote thumbnail not copied (yet): the origin's
    elif media.media_type in ("image", "gifv") and url:
        preview = url  # no smaller copy made: the image previews itself
    else:
        preview = None
    return {
        "id": entity_id(media.id),
        "type": media.media_type,
        "url": url,
        "preview_url": preview,
        "remote_url": media.remote_url,
        "preview_remote_url": media.thumbnail_remote_url,
        "text_url": None,  # Mastodon's short /media links: not made
        "meta": _meta(media),
        "description": media.description,
        "blurhash": media.blurhash,
        # Ours: where processing stands (Mastodon only says url: null meanwhile).
        "fedisora": {
            "state": media.state,
            "progress": min(1.0, max(0.0, float(media.progress or 0.0)))
            if media.state == MediaState.PROCESSING.value
            else (1.0 if media.state == MediaState.READY.value else 0.0),
            "error": media.error if media.state == MediaState.FAILED.value else None,
            **_source(media),
        },
    }


def _source(media: MediaAttachment) -> dict[str, Any]:
    """What we know of how the media was made: its IPTC digital source type (from its
    C2PA manifest, the generator, or the origin's provenance), and whether that means AI."""
    if not media.digital_source_type and not media.c2pa:
        return {}  # absent when there is nothing to say
    found: dict[str, Any] = {
        "digital_source_type": media.digital_source_type,
        "ai_generated": media.digital_source_type in AI_SOURCE_TYPES,
    }
    if media.c2pa:
        c2pa = media.c2pa
        found["content_credentials"] = {
            key: c2pa.get(key)
            for key in ("valid", "claim_generator", "issuer", "actions", "software_agents", "resigned", "lost")
        }
    return found


# ---- tags --------------------------------------------------------------------------------


def tag(config: Config, name: str, *, following: bool | None = None) -> dict[str, Any]:
    """The full ``Tag`` entity (``/api/v1/tags/:name``, trends, search).

    ``history`` is empty: we do not count daily uses yet.  ``following`` is
    given only for a signed-in viewer, as on Mastodon.
    """
    entity: dict[str, Any] = {"name": name, "url": tag_url(config, name), "history": []}
    if following is not None:
        entity["following"] = following
    return entity


def _tag_names(status: Status) -> list[str]:
    """Hashtags: parsed from the text we rendered (local), or the ``Hashtag`` tags sent (remote)."""
    if status.local:
        return find_hashtags(status.source_text or "")
    names: list[str] = []
    for item in as_list((status.raw or {}).get("tag")):
        if isinstance(item, dict) and "Hashtag" in types_of(item):
            name = item.get("name")
            if isinstance(name, str) and name.lstrip("#"):
                names.append(name.lstrip("#").lower())
    return list(dict.fromkeys(names))


# ---- statuses ----------------------------------------------------------------------------


async def _count(session: AsyncSession, query: Any) -> int:
    return int((await session.exec(query)).one())


async def _mentioned(session: AsyncSession, status: Status) -> list[Actor]:
    """Mentioned actors we know: the ``mentions`` rows, plus (remote posts) ``Mention`` tags."""
    hrefs = [
        href
        for item in as_list((status.raw or {}).get("tag"))
        if isinstance(item, dict) and "Mention" in types_of(item) and (href := id_of(item.get("href")))
    ]
    rows = select(Mention.actor_id).where(Mention.status_id == status.id)
    condition = Actor.id.in_(rows)  # type: ignore[attr-defined]
    if hrefs:
        condition = sa.or_(condition, Actor.uri.in_(hrefs))  # type: ignore[attr-defined]
    return list((await session.exec(select(Actor).where(condition).order_by(Actor.id))).all())


async def _author(session: AsyncSession, status: Status) -> Actor:
    author = await session.get(Actor, status.actor_id)
    if author is None:  # impossible with the foreign key; keeps the type checker honest
        raise ValueError(f"status {status.id} has no author")
    return author


async def status(
    session: AsyncSession,
    config: Config,
    status: Status,
    *,
    viewer: Actor | None,
    source: bool = False,
    cache: AccountCache | None = None,
) -> dict[str, Any]:
    """The ``Status`` entity of ``status`` as ``viewer`` (``None``: signed out) sees it.

    A boost carries the boosted post in ``reblog`` and has empty content of
    its own.  ``source=True`` (the answer to a delete, for "delete and
    redraft") puts the plain ``text`` in place of ``content``, as Mastodon
    does.  Raises ``ValueError`` for a deleted post (or a boost of one).
    """
    return await _status(session, config, status, viewer=viewer, source=source, cache=cache)


async def _status(
    session: AsyncSession,
    config: Config,
    row: Status,
    *,
    viewer: Actor | None,
    source: bool,
    cache: AccountCache | None,
) -> dict[str, Any]:
    if row.deleted_at is not None:
        raise ValueError(f"status {row.id} is deleted; deleted posts are not shown")
    cache = {} if cache is None else cache
    author = await _author(session, row)

    reblog = None
    if row.reblog_of_id is not None:
        original = await session.get(Status, row.reblog_of_id)
        if original is None:
            raise ValueError(f"status {row.id} boosts a post we do not have")
        reblog = await _status(session, config, original, viewer=viewer, source=False, cache=cache)

    in_reply_to_account_id = None
    if row.in_reply_to_id is not None:
        parent_author = (
            await session.exec(select(Status.actor_id).where(Status.id == row.in_reply_to_id))
        ).first()
        in_reply_to_account_id = entity_id(parent_author) if parent_author is not None else None

    alive = Status.deleted_at.is_(None)  # type: ignore[union-attr]
    replies = await _count(
        session, select(sa.func.count()).select_from(Status).where(Status.in_reply_to_id == row.id, alive)
    )
    reblogs = await _count(
        session, select(sa.func.count()).select_from(Status).where(Status.reblog_of_id == row.id, alive)
    )
    favourites = await _count(session, select(sa.func.count()).select_from(Like).where(Like.status_id == row.id))
    media = (
        await session.exec(
            select(MediaAttachment).where(MediaAttachment.status_id == row.id).order_by(MediaAttachment.id)
        )
    ).all()

    request_copies(session, config, media)  # remote media whose local copy expired: fetch again
    entity: dict[str, Any] = {
        "id": entity_id(row.id),
        "uri": row.uri,
        "url": row.url,
        "created_at": iso(row.published_at),
        "edited_at": iso_or_none(row.edited_at),
        "account": await account(session, config, author, cache=cache),
        "in_reply_to_id": entity_id(row.in_reply_to_id) if row.in_reply_to_id is not None else None,
        "in_reply_to_account_id": in_reply_to_account_id,
        "reblog": reblog,
        "sensitive": row.sensitive,
        "spoiler_text": row.summary,
        "visibility": row.visibility,
        "language": row.language,
        "replies_count": replies,
        "reblogs_count": reblogs,
        "favourites_count": favourites,
        "media_attachments": [media_attachment(config, m) for m in media],
        "mentions": [mention(a) for a in await _mentioned(session, row)],
        "tags": [{"name": name, "url": tag_url(config, name)} for name in _tag_names(row)],
        "emojis": [],  # not stored: custom emoji
        "card": None,  # not made: link preview cards
        "poll": poll(row),
    }
    await add_status_verification(session, config, row, list(media), entity)  # attestations, media provenance
    if source:
        entity["text"] = row.source_text if row.source_text is not None else html_to_text(row.content)
    else:
        entity["content"] = row.content
    if row.local:
        # Mastodon shows the posting app of local posts; we do not record it yet.
        entity["application"] = None
    if viewer is not None:
        entity["favourited"] = (
            await session.exec(select(Like.id).where(Like.status_id == row.id, Like.actor_id == viewer.id))
        ).first() is not None
        entity["reblogged"] = (
            await session.exec(
                select(Status.id).where(Status.reblog_of_id == row.id, Status.actor_id == viewer.id, alive)
            )
        ).first() is not None
        entity["muted"] = False  # not stored: muted conversations
        entity["bookmarked"] = (
            await session.exec(
                select(Bookmark.id).where(Bookmark.status_id == row.id, Bookmark.actor_id == viewer.id)
            )
        ).first() is not None
        entity["filtered"] = []  # not stored: filters
        if viewer.id == row.actor_id and reblog is None and row.visibility in PINNABLE:
            entity["pinned"] = False  # not stored: pinned posts
    return entity


async def statuses(
    session: AsyncSession, config: Config, rows: Sequence[Status], *, viewer: Actor | None
) -> list[dict[str, Any]]:
    """Several statuses (a timeline page), sharing the account conversions between them."""
    cache: AccountCache = {}
    return [await status(session, config, row, viewer=viewer, cache=cache) for row in rows]


async def context(
    session: AsyncSession,
    config: Config,
    ancestors: Sequence[Status],
    descendants: Sequence[Status],
    *,
    viewer: Actor | None,
) -> dict[str, Any]:
    """The ``Context`` entity: the thread above and below a post (already filtered and ordered)."""
    cache: AccountCache = {}
    return {
        "ancestors": [await status(session, config, s, viewer=viewer, cache=cache) for s in ancestors],
        "descendants": [await status(session, config, s, viewer=viewer, cache=cache) for s in descendants],
    }


def poll(status: Status) -> dict[str, Any] | None:
    """The Poll entity of a remote ``Question``, read from its stored document (read-only:
    voting is not supported yet, so ``voted`` is false and ``own_votes`` empty)."""
    raw = status.raw or {}
    if status.object_type != "Question" or not raw:
        return None
    multiple = "anyOf" in raw
    choices = [c for c in as_list(raw.get("anyOf") if multiple else raw.get("oneOf")) if isinstance(c, dict)]
    if not choices:
        return None
    options = []
    for choice in choices:
        replies = choice.get("replies") if isinstance(choice.get("replies"), dict) else {}
        options.append({"title": text_of(choice, "name") or "", "votes_count": int_of(replies.get("totalItems"))})
    ends = datetime_of(raw.get("endTime")) or datetime_of(raw.get("closed"))
    votes = sum(o["votes_count"] or 0 for o in options)
    return {
        "id": entity_id(status.id),
        "expires_at": iso_or_none(ends),
        "expired": ends is not None and ends <= utcnow(),
        "multiple": multiple,
        "votes_count": votes,
        "voters_count": int_of(raw.get("votersCount")) if multiple else votes,
        "options": options,
        "emojis": [],
        "voted": False,
        "own_votes": [],
    }
