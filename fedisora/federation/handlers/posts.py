"""Create, Update and Delete: remote posts (Note, and read-only Video/Article/Page/Question)
and actor updates and deletions."""

from __future__ import annotations

from html import escape
from typing import Any

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
    same_origin,
    str_of,
    text_of,
    types_of,
    url_of,
)

from ...db.models import Actor, Follow, MediaAttachment, MediaState, MediaType, Mention, Status, utcnow
from ...html import sanitize_html
from ...notify import notify_boosters_of_edit, notify_mentions
from ...processing.history import hashtags_of_object, record_edit, record_tags, snapshot
from ...state import AppState
from ..remote import fetch, get_actor
from .common import Ignored, local_actor_by_uri, status_by_uri

POST_TYPES = ("Note", "Question", "Article", "Page", "Video", "Audio", "Image", "Event")
ACTOR_TYPES = ("Person", "Service", "Application", "Group", "Organization")
MAX_CONTENT = 100_000
MAX_ATTACHMENTS = 16


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


def _media_type(mime: str | None) -> str:
    top = (mime or "").split("/", 1)[0]
    return {"video": MediaType.VIDEO, "image": MediaType.IMAGE, "audio": MediaType.AUDIO}.get(top, MediaType.UNKNOWN).value


def _attachments(obj: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for item in as_list(obj.get("attachment"))[:MAX_ATTACHMENTS]:
        if not isinstance(item, dict):
            continue
        url = url_of(item.get("url")) or url_of(item.get("href"))
        if not url:
            continue
        mime = str_of(item.get("mediaType"))
        found.append(
            {
                "remote_url": url,
                "mime_type": mime,
                "media_type": _media_type(mime),
                "description": (text_of(item, "summary") or text_of(item, "name") or None),
                "blurhash": str_of(item.get("blurhash")),
                "meta": {
                    k: v for k, v in {"width": int_of(item.get("width")), "height": int_of(item.get("height"))}.items() if v
                },
            }
        )
    if has_type(obj, "Video") and not found:  # PeerTube: the video itself is in `url`
        url = url_of(obj.get("url"), prefer_media_type="video/mp4")
        if url:
            found.append({"remote_url": url, "mime_type": "video/mp4", "media_type": MediaType.VIDEO.value,
                          "description": text_of(obj, "name"), "blurhash": None, "meta": {}})
    return found


def _apply(status: Status, obj: dict[str, Any], actor: Actor) -> None:
    status.content = _content(obj)
    summary = text_of(obj, "summary") or ""
    status.summary = "" if has_type(obj, "Article", "Page", "Video") else summary[:5000]
    status.sensitive = bool(bool_of(obj.get("sensitive")) or status.summary)
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
    for media in _attachments(obj):
        session.add(MediaAttachment(actor_id=actor.id, status_id=status.id, state=MediaState.READY.value, **media))
    await session.flush()
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



