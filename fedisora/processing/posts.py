"""Writing, editing and deleting posts, with their federation."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub import vocab

from ..db.ids import new_id
from ..db.models import Actor, MediaAttachment, Mention, Status, Visibility, utcnow
from ..federation.documents import (
    create_document,
    mentioned_actors,
    note_addressing,
    note_document,
    note_parts,
    status_uri,
    status_url,
)
from ..federation.handlers.posts import mark_deleted
from ..federation.outbox import publish
from ..federation.remote import RemoteError, resolve_handle
from ..html import find_mentions, render_text
from ..notify import notify_boosters_of_edit, notify_mentions
from ..state import AppState
from .errors import ActionError
from .history import hashtags_of_text, record_edit, record_tags, snapshot

MAX_CHARS = 5000
MAX_MENTIONS = 50


async def _resolve_mentions(
    session: AsyncSession, state: AppState, text: str
) -> dict[tuple[str, str | None], Actor]:
    found: dict[tuple[str, str | None], Actor] = {}
    for username, host in find_mentions(text)[:MAX_MENTIONS]:
        handle = f"{username}@{host or state.config.instance.domain}"
        try:
            found[(username, host)] = await resolve_handle(session, state, handle)
        except RemoteError:
            continue  # an unknown mention stays plain text, as on Mastodon
    return found


def _render(state: AppState, text: str, mentions: dict[tuple[str, str | None], Actor]) -> str:
    def mention_url(username: str, host: str | None) -> str | None:
        actor = mentions.get((username, host))
        return (actor.url or actor.uri) if actor else None

    return render_text(text, mention_url=mention_url, tag_url=lambda tag: f"{state.config.base_url}/tags/{tag}")


def _check(text: str, visibility: str, *, has_media: bool = False) -> None:
    if not text.strip() and not has_media:
        raise ActionError("a post needs some text or media")
    if len(text) > MAX_CHARS:
        raise ActionError(f"a post may have at most {MAX_CHARS} characters")
    if visibility not in {v.value for v in Visibility}:
        raise ActionError(f"visibility must be one of public, unlisted, private, direct; not {visibility!r}")


async def _deliver(session: AsyncSession, state: AppState, author: Actor, status: Status, activity: dict) -> None:  # type: ignore[type-arg]
    mentions = await mentioned_actors(session, status)
    await publish(
        session, activity, actor=author, recipients=mentions,
        to_followers=status.visibility != Visibility.DIRECT.value,
    )


async def create_post(
    session: AsyncSession,
    state: AppState,
    author: Actor,
    text: str,
    *,
    visibility: str = Visibility.PUBLIC.value,
    in_reply_to: Status | None = None,
    spoiler_text: str = "",
    sensitive: bool = False,
    language: str | None = None,
    media: Sequence[MediaAttachment] = (),
) -> Status:
    """Create, store and deliver a post; ``media`` (already checked by the caller: the
    author's own, ready, unattached) are attached before the ``Create`` is built."""
    _check(text, visibility, has_media=bool(media))
    mentions = await _resolve_mentions(session, state, text)
    if in_reply_to is not None:
        parent_author = await session.get(Actor, in_reply_to.actor_id)
        if parent_author is not None and parent_author.id != author.id:
            mentions.setdefault((parent_author.username, parent_author.domain), parent_author)
    status_id = new_id()
    status = Status(
        id=status_id,
        uri=status_uri(author, status_id),
        url=status_url(state.config, author, status_id),
        actor_id=author.id,
        local=True,
        visibility=visibility,
        content=_render(state, text, mentions),
        source_text=text,
        summary=spoiler_text,
        sensitive=sensitive or bool(spoiler_text),
        language=language,
        in_reply_to_uri=in_reply_to.uri if in_reply_to else None,
        in_reply_to_id=in_reply_to.id if in_reply_to else None,
        conversation_uri=(in_reply_to.conversation_uri if in_reply_to else None)
        or f"{state.config.base_url}/contexts/{status_id}",
    )
    session.add(status)
    await session.flush()
    for actor in {a.id: a for a in mentions.values()}.values():
        session.add(Mention(status_id=status.id, actor_id=actor.id))
    await session.flush()
    for item in media:
        item.status_id = status.id
        session.add(item)
    await session.flush()
    await record_tags(session, status, hashtags_of_text(text))
    note = note_document(state.config, status, author, await note_parts(session, state.config, status, issue=True))
    await _deliver(session, state, author, status, create_document(note))
    await notify_mentions(session, status, author)
    return status


async def edit_post(
    session: AsyncSession, state: AppState, author: Actor, status: Status, text: str, *, spoiler_text: str | None = None,
    sensitive: bool | None = None,
) -> Status:
    if status.actor_id != author.id or status.deleted_at is not None or status.reblog_of_id is not None:
        raise ActionError("you can only edit your own posts", 403)
    attached = (await session.exec(select(MediaAttachment.id).where(MediaAttachment.status_id == status.id))).first()
    _check(text, status.visibility, has_media=attached is not None)
    mentions = await _resolve_mentions(session, state, text)
    before = snapshot(status)
    status.content = _render(state, text, mentions)
    status.source_text = text
    if spoiler_text is not None:
        status.summary = spoiler_text
        status.sensitive = status.sensitive or bool(spoiler_text)
    if sensitive is not None:
        status.sensitive = sensitive or bool(status.summary)
    status.edited_at = utcnow()
    existing = {m.actor_id for m in (await session.exec(select(Mention).where(Mention.status_id == status.id))).all()}
    for actor in mentions.values():
        if actor.id not in existing:
            session.add(Mention(status_id=status.id, actor_id=actor.id))
            existing.add(actor.id)
    await session.flush()
    await record_tags(session, status, hashtags_of_text(text))
    await record_edit(session, status, before)
    note = note_document(state.config, status, author, await note_parts(session, state.config, status, issue=True))
    # A fresh id per edit: two edits within one second are two activities.
    update = vocab.update(id=f"{status.uri}#updates/{new_id()}", actor=author.uri, object=note)
    await _deliver(session, state, author, status, update)
    await notify_mentions(session, status, author)  # the newly mentioned
    await notify_boosters_of_edit(session, status, author)
    return status


async def delete_post(session: AsyncSession, state: AppState, author: Actor, status: Status) -> None:
    if status.actor_id != author.id or status.deleted_at is not None:
        raise ActionError("you can only delete your own posts", 403)
    to, cc = note_addressing(status, author, await mentioned_actors(session, status))
    delete = vocab.delete(
        id=f"{status.uri}#delete",
        actor=author.uri,
        object=vocab.tombstone(status.uri, status.object_type),
        to=to,
        cc=cc,
    )
    await _deliver(session, state, author, status, delete)
    mark_deleted(status)
    status.source_text = None


