"""Our models as ActivityPub documents: the one place that decides what we publish.

Shapes follow Mastodon's (see docs/FEDERATION.md) so every peer reads them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub import vocab
from activitypub.addressing import addressing
from instance_config import Config

from ..db.ids import new_id
from ..db.models import Actor, Key, KeyAlgorithm, KeyPurpose, MediaAttachment, MediaState, Mention, Status, StatusTag
from ..media.storage import CONTENT_TYPES

ACTIVITY_JSON = "application/activity+json"


def new_activity_uri(config: Config) -> str:
    """A fresh, dereferenceable id for an activity that is not a post's Create."""
    return f"{config.base_url}/activities/{new_id()}"


def status_uri(author: Actor, status_id: int) -> str:
    return f"{author.uri}/statuses/{status_id}"


def status_url(config: Config, author: Actor, status_id: int) -> str:
    return f"{config.base_url}/@{author.username}/{status_id}"


def create_activity_uri(status: Status) -> str:
    return f"{status.uri}/activity"


async def actor_keys(session: AsyncSession, actor: Actor) -> list[Key]:
    query = select(Key).where(Key.actor_id == actor.id, Key.revoked_at.is_(None)).order_by(Key.id)  # type: ignore[union-attr]
    return list((await session.exec(query)).all())


def actor_document(
    actor: Actor, keys: list[Key], attestations: Sequence[Mapping[str, Any]] = ()
) -> dict[str, Any]:
    """``attestations``: attachment entries from ``fedisora.attestations.documents.attestation_entries``."""
    rsa = next(
        (k for k in reversed(keys) if k.algorithm == KeyAlgorithm.RSA.value and k.purpose == KeyPurpose.HTTP_SIGNATURE.value),
        None,
    )
    if rsa is None or rsa.public_key_pem is None:
        raise ValueError(f"actor {actor.uri} has no RSA key")
    assertion = [
        (k.key_id, k.public_key_multibase)
        for k in keys
        if k.algorithm == KeyAlgorithm.ED25519.value and k.public_key_multibase
    ]
    document = vocab.actor_document(
        id=actor.uri,
        type=actor.actor_type,
        preferred_username=actor.username,
        name=actor.display_name,
        summary_html=actor.summary,
        url=actor.url or actor.uri,
        inbox=actor.inbox_uri or f"{actor.uri}/inbox",
        outbox=actor.outbox_uri or f"{actor.uri}/outbox",
        followers=actor.followers_uri or f"{actor.uri}/followers",
        following=actor.following_uri or f"{actor.uri}/following",
        featured=actor.featured_uri or f"{actor.uri}/collections/featured",
        shared_inbox=actor.shared_inbox_uri or f"{actor.uri}/inbox",
        public_key_id=rsa.key_id,
        public_key_pem=rsa.public_key_pem,
        manually_approves_followers=actor.manually_approves_followers,
        discoverable=actor.discoverable,
        indexable=actor.indexable,
        published=actor.created_at,
        icon_url=actor.icon_url,
        image_url=actor.header_url,
        assertion_keys=assertion,
        also_known_as=actor.also_known_as,
        moved_to=actor.moved_to_uri,
    )
    if attestations:
        from ..attestations.documents import add_attestations  # here: attestations imports this module

        add_attestations(document, attestations)
    return document


@dataclass
class NoteParts:
    """What a status's ``Note`` carries beside the status row itself: the actors it
    mentions, its published media, its hashtags and the media provenance credentials
    (by media id).  Loaded by :func:`note_parts`."""

    mentions: list[Actor] = field(default_factory=list)
    media: list[MediaAttachment] = field(default_factory=list)
    hashtags: list[str] = field(default_factory=list)
    provenance: dict[int, dict[str, Any]] = field(default_factory=dict)


async def published_media(session: AsyncSession, status: Status) -> list[MediaAttachment]:
    """A status's media that may be published: ``ready``, with a local file, in order."""
    query = (
        select(MediaAttachment)
        .where(
            MediaAttachment.status_id == status.id,
            MediaAttachment.state == MediaState.READY.value,
            MediaAttachment.file_path.is_not(None),  # type: ignore[union-attr]
        )
        .order_by(MediaAttachment.id)  # type: ignore[arg-type]
    )
    return list((await session.exec(query)).all())


async def status_hashtags(session: AsyncSession, status: Status) -> list[str]:
    """The status's hashtags (lower-cased, without ``#``) as recorded in ``status_tags``."""
    query = select(StatusTag.name).where(StatusTag.status_id == status.id).order_by(StatusTag.id)  # type: ignore[arg-type]
    return list(dict.fromkeys((await session.exec(query)).all()))


async def mentioned_actors(session: AsyncSession, status: Status) -> list[Actor]:
    query = select(Actor).join(Mention, Mention.actor_id == Actor.id).where(Mention.status_id == status.id)
    return list((await session.exec(query)).all())


async def note_parts(session: AsyncSession, config: Config, status: Status, *, issue: bool = False) -> NoteParts:
    """Everything :func:`note_document` needs besides the status.

    With ``issue`` (when the Note is about to be sent, inside a transaction that
    commits) missing provenance credentials for local media are issued; otherwise
    only those already issued are included.
    """
    from ..attestations.documents import existing_provenance, provenance_for_media  # attestations imports this module

    media = await published_media(session, status)
    provenance: dict[int, dict[str, Any]] = {}
    if issue:
        for item in media:
            credential = await provenance_for_media(session, config, item)
            if credential is not None:
                provenance[item.id] = credential
    else:
        provenance = await existing_provenance(session, media)
    return NoteParts(
        mentions=await mentioned_actors(session, status),
        media=media,
        hashtags=await status_hashtags(session, status),
        provenance=provenance,
    )


def media_url(config: Config, file_path: str) -> str:
    """The public URL of a stored file, as the client API gives it."""
    from ..convert.common import media_url as public_url  # here: convert imports this module

    return public_url(config, file_path)


def tag_url(config: Config, name: str) -> str:
    return f"{config.base_url}/tags/{name.lower()}"


def mention_name(actor: Actor) -> str:
    return f"@{actor.username}@{actor.domain}"


def _focal_point(media: MediaAttachment) -> tuple[float, float]:
    if media.focus_x is None or media.focus_y is None:
        return (0.0, 0.0)
    return (media.focus_x, media.focus_y)


def _dimension(media: MediaAttachment, key: str) -> int | None:
    meta = media.meta or {}
    value = meta.get(key)
    if not isinstance(value, int) and isinstance(meta.get("original"), dict):
        value = meta["original"].get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _stored_type(path: str) -> str | None:
    """The Content-Type a stored file is served with, from its extension; None when unknown."""
    return CONTENT_TYPES.get(path.rsplit(".", 1)[-1].lower())


def attachment_document(config: Config, media: MediaAttachment) -> dict[str, Any] | None:
    """One published media as a Mastodon-shaped ``Document`` (None when it has no file)."""
    if not media.file_path:
        return None
    mime = media.mime_type or _stored_type(media.file_path) or {"video": "video/mp4", "image": "image/jpeg"}.get(
        media.media_type, "application/octet-stream"
    )
    thumb_type = _stored_type(media.thumbnail_path) if media.thumbnail_path else None
    return vocab.document_attachment(
        url=media_url(config, media.file_path),
        media_type=mime,
        name=media.description or None,
        blurhash=media.blurhash,
        width=_dimension(media, "width"),
        height=_dimension(media, "height"),
        focal_point=_focal_point(media),
        thumbnail_url=media_url(config, media.thumbnail_path) if media.thumbnail_path else None,
        thumbnail_media_type=thumb_type,
    )


def ai_label(media: Sequence[MediaAttachment]) -> dict[str, Any] | None:
    """A FEP-4c96 ``Label`` tag naming the IPTC digital source type when any media is
    AI-generated (servers that don't know ``Label`` ignore it)."""
    from ..attestations.vocabulary import AI_SOURCE_TYPES, IPTC_DIGITAL_SOURCE_TYPE  # attestations imports this module

    for item in media:
        if item.digital_source_type in AI_SOURCE_TYPES:
            return {
                "type": "Label",
                "href": IPTC_DIGITAL_SOURCE_TYPE + item.digital_source_type,
                "name": "AI-generated",
            }
    return None


def note_addressing(status: Status, author: Actor, mentions: list[Actor]) -> tuple[list[str], list[str]]:
    """The post's ``to`` and ``cc``: its visibility and the actors it mentions."""
    return addressing(
        status.visibility,  # type: ignore[arg-type]
        followers_uri=author.followers_uri or f"{author.uri}/followers",
        mentioned=[m.uri for m in mentions],
    )


def note_document(config: Config, status: Status, author: Actor, parts: NoteParts) -> dict[str, Any]:
    """The status as a ``Note``: mentions, hashtags, an AI label when it applies, and its
    ready media as ``Document``s, each with its provenance credential when it has one."""
    from ..attestations.documents import attach_provenance  # attestations imports this module
    from ..attestations.vocabulary import PROVENANCE_TERMS

    mentions = parts.mentions
    to, cc = note_addressing(status, author, mentions)
    attachments = []
    for item in parts.media:
        doc = attachment_document(config, item) if item.state == MediaState.READY.value else None
        if doc is not None:
            attachments.append(attach_provenance(doc, parts.provenance.get(item.id)))
    tags: list[dict[str, Any]] = [vocab.mention(m.uri, mention_name(m)) for m in mentions]
    tags += [vocab.hashtag(name, tag_url(config, name)) for name in parts.hashtags]
    label = ai_label(parts.media)
    if label is not None:
        tags.append(label)
    note = vocab.note(
        id=status.uri,
        attributed_to=author.uri,
        content=status.content,
        published=status.published_at,
        updated=status.edited_at,
        to=to,
        cc=cc,
        in_reply_to=status.in_reply_to_uri,
        summary=status.summary or None,
        sensitive=status.sensitive,
        url=status.url,
        conversation=status.conversation_uri,
        attachments=attachments,
        tags=tags,
        language=status.language,
    )
    if any("provenance" in doc for doc in attachments) or label is not None:
        note["@context"] = [*note["@context"], dict(PROVENANCE_TERMS)]
    return note


def create_document(note: dict[str, Any]) -> dict[str, Any]:
    return vocab.create(id=f"{note['id']}/activity", actor=note["attributedTo"], object=note)
