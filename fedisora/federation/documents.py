"""Our models as ActivityPub documents: the one place that decides what we publish.

Shapes follow Mastodon's (see docs/FEDERATION.md) so every peer reads them.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub import vocab
from activitypub.addressing import addressing
from instance_config import Config

from ..db.ids import new_id
from ..db.models import Actor, Key, KeyAlgorithm, KeyPurpose, Mention, Status

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


def actor_document(actor: Actor, keys: list[Key]) -> dict[str, Any]:
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
    return vocab.actor_document(
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


async def mentioned_actors(session: AsyncSession, status: Status) -> list[Actor]:
    query = select(Actor).join(Mention, Mention.actor_id == Actor.id).where(Mention.status_id == status.id)
    return list((await session.exec(query)).all())


def mention_name(actor: Actor) -> str:
    return f"@{actor.username}@{actor.domain}"


def note_document(
    config: Config, status: Status, author: Actor, mentions: list[Actor]
) -> dict[str, Any]:
    to, cc = addressing(
        status.visibility,  # type: ignore[arg-type]
        followers_uri=author.followers_uri or f"{author.uri}/followers",
        mentioned=[m.uri for m in mentions],
    )
    return vocab.note(
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
        tags=[vocab.mention(m.uri, mention_name(m)) for m in mentions],
        language=status.language,
    )


def create_document(note: dict[str, Any]) -> dict[str, Any]:
    return vocab.create(id=f"{note['id']}/activity", actor=note["attributedTo"], object=note)
