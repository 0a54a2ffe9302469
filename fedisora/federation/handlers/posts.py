"""Create, Update and Delete: remote posts (Note, and read-only Video/Article/Page/Question)
and actor updates and deletions."""

from __future__ import annotations

import math
import mimetypes
import re
from html import escape
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub.addressing import visibility_of
from activitypub.extract import (
    as_list,
    bool_of,
    datetime_of,
    has_type,
    id_of,
    int_of,
    links_of,
    same_origin,
    str_of,
    text_of,
    types_of,
    url_of,
)

from ...db.models import Actor, Follow, MediaAttachment, MediaState, MediaType, Mention, Status, utcnow
from ...html import sanitize_html
from ...media.remote import enqueue_cache
from ...notify import notify_boosters_of_edit, notify_mentions
from ...processing.history import hashtags_of_object, record_edit, record_tags, snapshot
from ...state import AppState
from ..remote import fetch, get_actor
from .common import Ignored, local_actor_by_uri, status_by_uri

POST_TYPES = ("Note", "Question", "Article", "Page", "Video", "Audio", "Image", "Event")
ACTOR_TYPES = ("Person", "Service", "Application", "Group", "Organization")
MAX_CONTENT = 100_000
MAX_ATTACHMENTS = 16
MAX_LINKS = 64
MAX_DESCRIPTION = 1500
MAX_SIDE = 16384
MAX_RESOLUTION = 1080  # "1080p": the largest of PeerTube's variants we pick (COMPAT: ≤ 1080p)


async def _object_of(session: AsyncSession, state: AppState, actor: Actor, value: Any) -> dict[str, Any]:
    """The activity's object, fetched from its origin when only referenced."""
    if isinstance(value, dict):
        return value
    uri = id_of(value)
    if not uri or not same_origin(uri, actor.uri):
        raise Ignored("object is neither embedded nor on the actor's server")
    return (await fetch(session, state, uri)).data


def _content(obj: dict[str, Any]) -> str:
    html = sanitize_html((text_of(obj, "content") or "")[:MAX_CONTENT])
    title = text_of(obj, "name")
    if title and not has_type(obj, "Note", "Question"):
        # Video/Article/Page: show the title first, and link the original like Mastodon does.
        link = url_of(obj.get("url"), prefer_media_type="text/html") or id_of(obj.get("id"))
        heading = f"<p><strong>{escape(title[:500])}</strong></p>"
        footer = f'<p><a href="{escape(link or "")}">{escape(link or "")}</a></p>' if link else ""
        html = heading + html + footer
    return html


def _language(obj: dict[str, Any]) -> str | None:
    content_map = obj.get("contentMap")
    if isinstance(content_map, dict):
        for key in content_map:
            if isinstance(key, str) and 1 < len(key) < 16:
                return key
    return None


def _media_type(mime: str | None, item: dict[str, Any] | None = None) -> str:
    top = (mime or "").split("/", 1)[0].lower()
    found = {"video": MediaType.VIDEO, "image": MediaType.IMAGE, "audio": MediaType.AUDIO}.get(top)
    if found is None and item is not None:  # no mediaType: the object's own type says it
        for name, kind in (("Video", MediaType.VIDEO), ("Image", MediaType.IMAGE), ("Audio", MediaType.AUDIO)):
            if has_type(item, name):
                found = kind
    return (found or MediaType.UNKNOWN).value


def _mime_of(link: dict[str, Any] | None) -> str | None:
    mime = str_of((link or {}).get("mediaType"))
    return mime.split(";", 1)[0].strip().lower()[:100] if mime else None


def _guess_mime(url: str) -> str | None:
    path = urlsplit(url).path if url else ""
    guessed, _ = mimetypes.guess_type(path)
    return guessed


_B83 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~"


def valid_blurhash(value: Any) -> str | None:
    """A blurhash Mastodon would keep: well-formed, at most 5×5 components."""
    text = str_of(value)
    if not text or len(text) < 6 or len(text) > 100 or any(c not in _B83 for c in text):
        return None
    size = _B83.index(text[0])
    x, y = size % 9 + 1, size // 9 + 1
    if x > 5 or y > 5 or len(text) != 4 + 2 * x * y:
        return None
    return text


_DURATION_RE = re.compile(r"^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$")


def duration_of(value: Any) -> float | None:
    """Seconds from an ISO 8601 duration (``PT42S``, ``PT1M3.5S``) or a number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = str_of(value)
        match = _DURATION_RE.match(text.strip().upper()) if text and len(text) < 40 else None
        if not match or not any(match.groups()):
            return None
        d, h, m, s = (float(g) if g else 0.0 for g in match.groups())
        seconds = ((d * 24 + h) * 60 + m) * 60 + s
    return seconds if math.isfinite(seconds) and 0 < seconds < 1e7 else None


def _length(seconds: float) -> str:
    """Mastodon's ``meta.length``: ``0:00:42.50``."""
    whole = int(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}.{int(round((seconds - whole) * 100)) % 100:02d}"


def _side(value: Any) -> int | None:
    number = int_of(value)
    return number if number is not None and 0 < number <= MAX_SIDE else None


def _focal_point(value: Any) -> tuple[float, float] | None:
    items = as_list(value)
    if len(items) != 2 or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in items):
        return None
    x, y = float(items[0]), float(items[1])
    return (x, y) if -1.0 <= x <= 1.0 and -1.0 <= y <= 1.0 else None


def _resolution(link: dict[str, Any]) -> int:
    """A variant's resolution as PeerTube names it ("1080p"): its short side."""
    width, height = _side(link.get("width")), _side(link.get("height"))
    if width and height:
        return min(width, height)
    return width or height or 0


def _is_mp4(link: dict[str, Any]) -> bool:
    return _mime_of(link) == "video/mp4"


def choose_video(value: Any, *, max_resolution: int = MAX_RESOLUTION, max_bytes: int | None = None) -> dict[str, Any] | None:
    """The video link to show from a ``url`` list (PeerTube, Funkwhale…).

    The largest progressive MP4 whose resolution (short side, PeerTube's "1080p")
    is at most ``max_resolution`` (and
    whose ``size``, when given, at most ``max_bytes``); else the largest such MP4
    inside an HLS playlist's ``tag`` list; else the smallest MP4 of any size;
    else the first ``video/*`` link.  Torrents, magnets, HLS playlists and
    metadata links are never chosen.
    """
    top = [link for link in links_of(value) if not link.get("rel") or "metadata" not in as_list(link.get("rel"))]
    progressive = [link for link in top if _is_mp4(link)]
    nested = [
        inner
        for link in top
        if (_mime_of(link) or "") in ("application/x-mpegurl", "application/vnd.apple.mpegurl")
        for inner in links_of(link.get("tag"))
        if _is_mp4(inner) and "metadata" not in as_list(inner.get("rel"))
    ]

    def fits(link: dict[str, Any]) -> bool:
        size = int_of(link.get("size"))
        return _resolution(link) <= max_resolution and (max_bytes is None or size is None or size <= max_bytes)

    def rank(link: dict[str, Any]) -> tuple[int, float, int]:
        fps = link.get("fps")
        return (_resolution(link), float(fps) if isinstance(fps, int | float) and not isinstance(fps, bool) else 0.0,
                -(int_of(link.get("size")) or 0))

    for group in (progressive, nested):
        fitting = [link for link in group if fits(link)]
        if fitting:
            return max(fitting, key=rank)
    every = progressive + nested
    if every:
        return min(every, key=lambda link: (_resolution(link) or 10**9, int_of(link.get("size")) or 0))
    return next((link for link in top if (_mime_of(link) or "").startswith("video/")), None)


def _image_url(value: Any) -> str | None:
    """The largest image of an ``icon``/``preview`` value (an Image, a list of them, a URL)."""
    candidates = []
    for item in as_list(value)[:MAX_LINKS]:
        if isinstance(item, dict) and not has_type(item, "Image", "Link", "Document") and "type" in item:
            continue
        for link in links_of(item):
            mime = _mime_of(link) or _mime_of(item if isinstance(item, dict) else None)
            if mime and not mime.startswith("image/"):
                continue
            width = _side(link.get("width")) or _side(item.get("width") if isinstance(item, dict) else None) or 0
            height = _side(link.get("height")) or _side(item.get("height") if isinstance(item, dict) else None) or 0
            candidates.append((width * height, -len(candidates), link["href"]))
    return max(candidates)[2] if candidates else None


def _https(url: str | None) -> str | None:
    if not url or len(url) > 2000:
        return None
    return url if urlsplit(url).scheme in ("https", "http") else None


def _source_type(item: dict[str, Any]) -> str | None:
    value = str_of(item.get("digitalSourceType"))
    if not value:
        return None
    return value.rstrip("/").rsplit("/", 1)[-1][:100] or None


def _media_from(item: dict[str, Any], *, fallback_description: str | None, thumbnail: Any = None) -> dict[str, Any] | None:
    """One attachment (or a whole PeerTube ``Video``) as MediaAttachment fields."""
    links = links_of(item.get("url")) or links_of(item.get("href"))
    chosen: dict[str, Any] | None = None
    if len(links) > 1 or has_type(item, "Video") or any(_mime_of(link) == "application/x-mpegurl" for link in links):
        chosen = choose_video(item.get("url"))
    if chosen is None:
        chosen = next(
            (link for link in links if (_mime_of(link) or "").split("/", 1)[0] in ("video", "image", "audio")),
            links[0] if links else None,
        )
    url = _https(chosen["href"]) if chosen else None
    if not url:
        return None
    item_mime = _mime_of(item)
    if item_mime and item_mime.startswith("text/") and has_type(item, "Video"):
        item_mime = None  # PeerTube: the Video's own mediaType is its description's
    mime = _mime_of(chosen) or item_mime or _guess_mime(url)
    if _media_type(mime, item) == MediaType.UNKNOWN.value:
        return None  # a link to a web page, or a file that is not video, image or audio: not media
    width = _side(chosen.get("width")) or _side(item.get("width"))
    height = _side(chosen.get("height")) or _side(item.get("height"))
    meta: dict[str, Any] = {}
    if width and height:
        meta.update(width=width, height=height)
    duration = duration_of(item.get("duration")) or duration_of(chosen.get("duration"))
    if duration:
        meta.update(duration=round(duration, 3), length=_length(duration))
    fps = chosen.get("fps")
    if isinstance(fps, int | float) and not isinstance(fps, bool) and 0 < fps <= 1000:
        meta["fps"] = fps
    description = text_of(item, "summary") or text_of(item, "name") or fallback_description
    focus = _focal_point(item.get("focalPoint"))
    thumb = _image_url(item.get("icon")) or _image_url(item.get("preview")) or _image_url(thumbnail)
    return {
        "remote_url": url,
        "mime_type": mime,
        "media_type": _media_type(mime, item),
        "description": description[:MAX_DESCRIPTION] if description else None,
        "blurhash": valid_blurhash(item.get("blurhash")),
        "focus_x": focus[0] if focus else None,
        "focus_y": focus[1] if focus else None,
        "meta": meta,
        "thumbnail_remote_url": _https(thumb),
        "digital_source_type": _source_type(item),
    }


def remote_attachments(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """The media of a remote post, as MediaAttachment fields.

    ``attachment`` entries (Mastodon, GoToSocial, Pixelfed, Misskey, Loops…)
    that are video, image or audio by their ``mediaType``, their URL's file
    extension or their type (``Image``…); a ``Link`` to a web page or a
    ``Document`` of another file type (``text/html``, PDF) is not media;
    for a PeerTube ``Video`` without them, the video itself (its best ``url``,
    ``duration``, largest ``icon``, ``name`` as the description).  A post-level
    ``icon``/``preview`` is the thumbnail of a single video attachment.
    """
    items = [i for i in as_list(obj.get("attachment"))[:MAX_ATTACHMENTS] if isinstance(i, dict)]
    items = [i for i in items if not has_type(i, "PropertyValue", "Hashtag", "Mention", "Emoji")]
    note_thumbnail = obj.get("icon") or obj.get("preview")
    found = []
    for item in items:
        media = _media_from(item, fallback_description=None, thumbnail=note_thumbnail if len(items) == 1 else None)
        if media is not None:
            found.append(media)
    if has_type(obj, "Video") and not found:  # PeerTube: the video itself is in `url`
        media = _media_from(obj, fallback_description=None, thumbnail=None)
        if media is not None and media["media_type"] == MediaType.VIDEO.value:
            media["description"] = (text_of(obj, "name") or "")[:MAX_DESCRIPTION] or None
            media["blurhash"] = None
            found.append(media)
    return found



async def _store_media(session: AsyncSession, status: Status, actor: Actor, obj: dict[str, Any]) -> None:
    """Create, update or detach the status's media to match ``obj``; queue copies of new ones."""
    wanted = remote_attachments(obj)
    existing = list(
        (await session.exec(select(MediaAttachment).where(MediaAttachment.status_id == status.id))).all()
    )
    by_url = {m.remote_url: m for m in existing}
    added: list[MediaAttachment] = []
    keep: set[int] = set()
    for fields in wanted:
        media = by_url.get(fields["remote_url"])
        if media is None:
            media = MediaAttachment(
                actor_id=actor.id, status_id=status.id, state=MediaState.READY.value, remote_domain=actor.domain,
                **fields,
            )
            session.add(media)
            added.append(media)
        else:
            for key in ("description", "blurhash", "focus_x", "focus_y", "thumbnail_remote_url"):
                setattr(media, key, fields[key])
            if fields["meta"]:
                media.meta = {**(media.meta or {}), **fields["meta"]}
            keep.add(media.id)
    for media in existing:
        if media.id not in keep:
            media.status_id = None  # no longer shown; expiry and cleanup drop it
    await session.flush()
    for media in added:
        await enqueue_cache(session, media.id)


def _apply(status: Status, obj: dict[str, Any], actor: Actor) -> None:
    status.content = _content(obj)
    summary = text_of(obj, "summary") or ""
    status.summary = "" if has_type(obj, "Article", "Page", "Video") else summary[:5000]
    # Misskey marks sensitive files on the attachment itself.
    files_sensitive = any(
        isinstance(item, dict) and bool_of(item.get("sensitive")) for item in as_list(obj.get("attachment"))[:MAX_ATTACHMENTS]
    )
    status.sensitive = bool(bool_of(obj.get("sensitive")) or files_sensitive or status.summary)
    status.language = _language(obj)
    status.url = url_of(obj.get("url"), prefer_media_type="text/html") or status.uri
    status.raw = obj


async def _store_mentions(session: AsyncSession, status: Status, obj: dict[str, Any]) -> None:
    for tag in as_list(obj.get("tag")):
        if isinstance(tag, dict) and "Mention" in types_of(tag):
            mentioned = await local_actor_by_uri(session, id_of(tag.get("href")))
            if mentioned is not None:
                exists = await session.exec(
                    select(Mention).where(Mention.status_id == status.id, Mention.actor_id == mentioned.id)
                )
                if exists.first() is None:
                    session.add(Mention(status_id=status.id, actor_id=mentioned.id))


async def store_remote_post(session: AsyncSession, actor: Actor, obj: dict[str, Any]) -> Status:
    """Create our copy of a remote post (once: an existing copy is returned as it is)."""
    uri = id_of(obj.get("id"))
    if not uri or not has_type(obj, *POST_TYPES):
        raise Ignored(f"not a post: {sorted(types_of(obj))}")
    if id_of(obj.get("attributedTo")) not in (actor.uri, None) and not same_origin(uri, actor.uri):
        raise Ignored("post attributed to someone else")
    existing = await status_by_uri(session, uri)
    if existing is not None:
        return existing
    in_reply_to = id_of(obj.get("inReplyTo"))
    parent = await status_by_uri(session, in_reply_to)
    status = Status(
        uri=uri,
        actor_id=actor.id,
        local=False,
        object_type=next(iter(sorted(types_of(obj) & set(POST_TYPES)))),
        visibility=visibility_of(obj.get("to"), obj.get("cc"), actor.followers_uri),
        in_reply_to_uri=in_reply_to,
        in_reply_to_id=parent.id if parent else None,
        conversation_uri=id_of(obj.get("conversation")) or id_of(obj.get("context")),
        published_at=datetime_of(obj.get("published")) or utcnow(),
    )
    _apply(status, obj, actor)
    session.add(status)
    await session.flush()
    await _store_mentions(session, status, obj)
    await record_tags(session, status, hashtags_of_object(obj))
    await _store_media(session, status, actor, obj)
    from ...attestations.receive import post_stored  # lazily: attestations import federation

    await post_stored(session, status, obj)  # queue verifying media provenance and the post's proof
    return status


async def on_create(session: AsyncSession, state: AppState, actor: Actor, activity: dict[str, Any]) -> None:
    if actor.local:
        return  # our own post, stored when it was written
    obj = await _object_of(session, state, actor, activity.get("object"))
    status = await store_remote_post(session, actor, obj)
    await notify_mentions(session, status, actor)


async def on_update(session: AsyncSession, state: AppState, actor: Actor, activity: dict[str, Any]) -> None:
    if actor.local:
        return
    value = activity.get("object")
    if id_of(value) == actor.uri or has_type(value, *ACTOR_TYPES):
        if id_of(value) != actor.uri:
            raise Ignored("an actor may only update itself")
        # Re-fetch from the origin rather than trusting the embedded copy (profile and key changes).
        await get_actor(session, state, actor.uri, refresh=True)
        return
    obj = await _object_of(session, state, actor, value)
    status = await status_by_uri(session, id_of(obj.get("id")))
    if status is None or status.actor_id != actor.id:
        raise Ignored("Update of a post we do not have, or that is not the actor's")
    before = snapshot(status)
    _apply(status, obj, actor)
    status.edited_at = datetime_of(obj.get("updated")) or utcnow()
    await record_tags(session, status, hashtags_of_object(obj))
    await _store_media(session, status, actor, obj)
    from ...attestations.receive import post_stored  # lazily: attestations import federation

    await post_stored(session, status, obj)  # the edit may carry new media credentials, and has a new proof
    if (status.content, status.summary, status.sensitive) != (before["content"], before["summary"], before["sensitive"]):
        await record_edit(session, status, before)
        await notify_boosters_of_edit(session, status, actor)


async def on_delete(session: AsyncSession, state: AppState, actor: Actor, activity: dict[str, Any]) -> None:
    if actor.local:
        return
    target = id_of(activity.get("object"))
    if target == actor.uri:
        await delete_actor(session, actor)
        return
    status = await status_by_uri(session, target)
    if status is None:
        raise Ignored("Delete of a post we do not have")
    if status.actor_id != actor.id:
        raise Ignored("an actor may only delete its own posts")
    mark_deleted(status)
    await session.exec(sa.delete(Status).where(Status.reblog_of_id == status.id))  # type: ignore[arg-type]


def mark_deleted(status: Status) -> None:
    status.deleted_at = utcnow()
    status.content = ""
    status.summary = ""
    status.raw = None


async def delete_actor(session: AsyncSession, actor: Actor) -> None:
    """A remote account is gone: keep a tombstone row, drop its posts and relationships."""
    actor.deleted_at = utcnow()
    now = utcnow()
    await session.exec(
        sa.update(Status).where(Status.actor_id == actor.id, Status.deleted_at.is_(None))  # type: ignore[union-attr]
        .values(deleted_at=now, content="", summary="", raw=None)
    )
    await session.exec(
        sa.delete(Follow).where(sa.or_(Follow.follower_id == actor.id, Follow.target_id == actor.id))  # type: ignore[arg-type]
    )



