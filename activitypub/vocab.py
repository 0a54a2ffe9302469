"""Builders for the ActivityPub documents we send, shaped like Mastodon's.

Why Mastodon's shapes: most peers were written and tested against Mastodon, so
the safest document is the one Mastodon would have sent — same ``@context``
terms, same keys, ``null`` where Mastodon says ``null``.  Deviations are
deliberate and few: the actor ``@context`` also carries the data-integrity and
multikey contexts plus an ``assertionMethod`` term, so Fedify-based peers keep
our FEP-521a keys (see docs COMPAT.md).

Every builder takes keyword arguments of plain Python values and returns a
fresh ``dict``; nothing here knows about databases.  Objects embedded in an
activity or a collection page lose their own ``@context``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from .integrity import DATA_INTEGRITY_V2

__all__ = [
    "ACTIVITY_CONTEXT",
    "AS_CONTEXT",
    "DATA_INTEGRITY_CONTEXT",
    "MASTODON_CONTEXT",
    "MULTIKEY_CONTEXT",
    "SECURITY_CONTEXT",
    "accept",
    "actor_document",
    "announce",
    "block",
    "create",
    "delete",
    "document_attachment",
    "follow",
    "hashtag",
    "iso_datetime",
    "like",
    "mention",
    "move",
    "note",
    "ordered_collection",
    "ordered_collection_page",
    "reject",
    "tombstone",
    "undo",
    "update",
]

AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
SECURITY_CONTEXT = "https://w3id.org/security/v1"
# v2, the data-integrity context whose terms match the VC 2.0 context's (see
# activitypub.integrity): actors carry credentials, and v1 beside them is an error.
DATA_INTEGRITY_CONTEXT = DATA_INTEGRITY_V2
MULTIKEY_CONTEXT = "https://w3id.org/security/multikey/v1"

_TOOT = "http://joinmastodon.org/ns#"

# Term shapes copied from Mastodon (app/helpers/context_helper.rb and the
# published actor in tests/data/interop/mastodon-activitypub.academy-person.json).
_MASTODON_TERMS: dict[str, Any] = {
    "manuallyApprovesFollowers": "as:manuallyApprovesFollowers",
    "toot": _TOOT,
    "featured": {"@id": "toot:featured", "@type": "@id"},
    "featuredTags": {"@id": "toot:featuredTags", "@type": "@id"},
    "alsoKnownAs": {"@id": "as:alsoKnownAs", "@type": "@id"},
    "movedTo": {"@id": "as:movedTo", "@type": "@id"},
    "schema": "http://schema.org#",
    "PropertyValue": "schema:PropertyValue",
    "value": "schema:value",
    "discoverable": "toot:discoverable",
    "indexable": "toot:indexable",
    "memorial": "toot:memorial",
    "suspended": "toot:suspended",
    "focalPoint": {"@container": "@list", "@id": "toot:focalPoint"},
    "blurhash": "toot:blurhash",
    "sensitive": "as:sensitive",
    "Hashtag": "as:Hashtag",
    "Emoji": "toot:Emoji",
    "votersCount": "toot:votersCount",
    "attributionDomains": {"@id": "toot:attributionDomains", "@type": "@id"},
    # Not Mastodon's: the did/v1 definition, so assertionMethod expands to
    # sec:assertionMethod without pulling in the whole DID context.
    "assertionMethod": {
        "@id": "https://w3id.org/security#assertionMethod",
        "@type": "@id",
        "@container": "@set",
    },
}

MASTODON_CONTEXT: list[Any] = [
    AS_CONTEXT,
    SECURITY_CONTEXT,
    DATA_INTEGRITY_CONTEXT,
    MULTIKEY_CONTEXT,
    _MASTODON_TERMS,
]

ACTIVITY_CONTEXT: list[Any] = [
    AS_CONTEXT,
    {
        "ostatus": "http://ostatus.org#",
        "conversation": "ostatus:conversation",
        "sensitive": "as:sensitive",
        "Hashtag": "as:Hashtag",
        "toot": _TOOT,
        "Emoji": "toot:Emoji",
        "votersCount": "toot:votersCount",
        "blurhash": "toot:blurhash",
        "focalPoint": {"@container": "@list", "@id": "toot:focalPoint"},
    },
]


def _copy_context(context: Sequence[Any]) -> list[Any]:
    return [dict(c) if isinstance(c, Mapping) else c for c in context]


def iso_datetime(value: datetime | str) -> str:
    """``2024-09-12T00:00:00Z``: Mastodon's format (UTC, seconds, ``Z``).

    Naive datetimes are taken as UTC; strings pass through unchanged.
    """
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _embed(obj: Mapping[str, Any] | str) -> Any:
    """An object placed inside another document: same dict without ``@context``."""
    if isinstance(obj, Mapping):
        return {k: v for k, v in obj.items() if k != "@context"}
    return obj


# --- actors ---------------------------------------------------------------


def _property_value(field: Mapping[str, str] | tuple[str, str]) -> dict[str, str]:
    name, value = (field["name"], field["value"]) if isinstance(field, Mapping) else field
    return {"type": "PropertyValue", "name": name, "value": value}


def _multikey(key: Mapping[str, str] | tuple[str, str], controller: str) -> dict[str, str]:
    key_id, multibase = (key["id"], key["multibase"]) if isinstance(key, Mapping) else key
    return {"id": key_id, "type": "Multikey", "controller": controller, "publicKeyMultibase": multibase}


def _image(url: str | None, media_type: str | None) -> dict[str, str] | None:
    if not url:
        return None
    image = {"type": "Image"}
    if media_type:
        image["mediaType"] = media_type
    image["url"] = url
    return image


def actor_document(
    *,
    id: str,
    type: str,
    preferred_username: str,
    name: str | None,
    summary_html: str,
    url: str,
    inbox: str,
    outbox: str,
    followers: str,
    following: str,
    featured: str,
    shared_inbox: str,
    public_key_id: str,
    public_key_pem: str,
    manually_approves_followers: bool,
    discoverable: bool,
    indexable: bool,
    published: datetime | str,
    icon_url: str | None = None,
    icon_media_type: str | None = None,
    image_url: str | None = None,
    image_media_type: str | None = None,
    attachments: Iterable[Mapping[str, str] | tuple[str, str]] = (),
    assertion_keys: Iterable[Mapping[str, str] | tuple[str, str]] = (),
    also_known_as: Iterable[str] = (),
    moved_to: str | None = None,
    featured_tags: str | None = None,
) -> dict[str, Any]:
    """An actor as Mastodon publishes it (``Person``, ``Service``, ``Group``…).

    ``attachments`` are profile fields ``(name, value_html)``; ``assertion_keys``
    are FEP-521a keys ``(key_id, publicKeyMultibase)`` (or mappings with
    ``id``/``multibase``), published as ``Multikey`` under ``assertionMethod``.
    A blank ``name`` (no display name) is left out rather than sent as ``""``:
    every server falls back to ``preferredUsername`` for an actor without a
    ``name``, while ``name || preferredUsername`` in Ruby or Elixir (where
    ``""`` is a value) keeps the empty one.
    """
    doc: dict[str, Any] = {
        "@context": _copy_context(MASTODON_CONTEXT),
        "id": id,
        "type": type,
        "following": following,
        "followers": followers,
        "inbox": inbox,
        "outbox": outbox,
        "featured": featured,
    }
    if featured_tags:
        doc["featuredTags"] = featured_tags
    doc.update(
        {
            "preferredUsername": preferred_username,
            **({"name": name} if name and name.strip() else {}),
            "summary": summary_html,
            "url": url,
            "manuallyApprovesFollowers": manually_approves_followers,
            "discoverable": discoverable,
            "indexable": indexable,
            "published": iso_datetime(published),
            "publicKey": {"id": public_key_id, "owner": id, "publicKeyPem": public_key_pem},
            "tag": [],
            "attachment": [_property_value(f) for f in attachments],
            "endpoints": {"sharedInbox": shared_inbox},
        }
    )
    keys = [_multikey(k, id) for k in assertion_keys]
    if keys:
        doc["assertionMethod"] = keys
    aliases = list(also_known_as)
    if aliases:
        doc["alsoKnownAs"] = aliases
    if moved_to:
        doc["movedTo"] = moved_to
    icon = _image(icon_url, icon_media_type)
    if icon:
        doc["icon"] = icon
    image = _image(image_url, image_media_type)
    if image:
        doc["image"] = image
    return doc


# --- objects --------------------------------------------------------------


def hashtag(name: str, href: str) -> dict[str, str]:
    """A ``Hashtag`` tag; ``name`` gets its ``#`` if missing."""
    return {"type": "Hashtag", "href": href, "name": name if name.startswith("#") else f"#{name}"}


def mention(href: str, name: str) -> dict[str, str]:
    """A ``Mention`` tag: ``href`` is the actor id, ``name`` is ``@user@host``."""
    return {"type": "Mention", "href": href, "name": name if name.startswith("@") else f"@{name}"}


def document_attachment(
    *,
    url: str,
    media_type: str,
    name: str | None = None,
    blurhash: str | None = None,
    width: int | None = None,
    height: int | None = None,
    focal_point: tuple[float, float] | None = None,
    thumbnail_url: str | None = None,
    thumbnail_media_type: str | None = None,
) -> dict[str, Any]:
    """A media attachment as Mastodon sends it (``Document`` + mediaType).

    ``name`` is the alt text (Mastodon sends ``null`` when there is none);
    the thumbnail goes in ``icon``, which Mastodon reads as the preview.
    """
    doc: dict[str, Any] = {"type": "Document", "mediaType": media_type, "url": url, "name": name}
    if blurhash:
        doc["blurhash"] = blurhash
    if focal_point is not None:
        doc["focalPoint"] = [float(focal_point[0]), float(focal_point[1])]
    if width is not None:
        doc["width"] = width
    if height is not None:
        doc["height"] = height
    thumb = _image(thumbnail_url, thumbnail_media_type)
    if thumb:
        doc["icon"] = thumb
    return doc


def note(
    *,
    id: str,
    attributed_to: str,
    content: str,
    published: datetime | str,
    to: Sequence[str],
    cc: Sequence[str],
    in_reply_to: str | None = None,
    summary: str | None = None,
    sensitive: bool = False,
    url: str | None = None,
    conversation: str | None = None,
    attachments: Iterable[Mapping[str, Any]] = (),
    tags: Iterable[Mapping[str, Any]] = (),
    language: str | None = None,
    updated: datetime | str | None = None,
) -> dict[str, Any]:
    """A ``Note``.  A content warning is ``summary`` plus ``sensitive: true``:
    giving ``summary`` forces ``sensitive`` as Mastodon does."""
    doc: dict[str, Any] = {
        "@context": _copy_context(ACTIVITY_CONTEXT),
        "id": id,
        "type": "Note",
        "summary": summary or None,
        "inReplyTo": in_reply_to,
        "published": iso_datetime(published),
        "url": url or id,
        "attributedTo": attributed_to,
        "to": list(to),
        "cc": list(cc),
        "sensitive": bool(sensitive or summary),
    }
    if conversation:
        doc["conversation"] = conversation
    doc["content"] = content
    if language:
        doc["contentMap"] = {language: content}
    if updated is not None:
        doc["updated"] = iso_datetime(updated)
    doc["attachment"] = [dict(a) for a in attachments]
    doc["tag"] = [dict(t) for t in tags]
    return doc


def tombstone(id: str, former_type: str | None = None, deleted: datetime | str | None = None) -> dict[str, Any]:
    """What a deleted object's URL serves (and what a ``Delete`` carries)."""
    doc: dict[str, Any] = {"id": id, "type": "Tombstone"}
    if former_type:
        doc["formerType"] = former_type
    if deleted is not None:
        doc["deleted"] = iso_datetime(deleted)
    return doc


def ordered_collection(id: str, total_items: int, first: str | None = None) -> dict[str, Any]:
    """A collection head: Mastodon/GoToSocial style, items only on pages."""
    doc: dict[str, Any] = {"@context": AS_CONTEXT, "id": id, "type": "OrderedCollection", "totalItems": total_items}
    if first:
        doc["first"] = first
    return doc


def ordered_collection_page(
    id: str,
    part_of: str,
    items: Iterable[Mapping[str, Any] | str],
    next: str | None = None,
    prev: str | None = None,
) -> dict[str, Any]:
    """One page of an ``OrderedCollection``; embedded items lose their ``@context``."""
    doc: dict[str, Any] = {"@context": AS_CONTEXT, "id": id, "type": "OrderedCollectionPage"}
    if next:
        doc["next"] = next
    if prev:
        doc["prev"] = prev
    doc["partOf"] = part_of
    doc["orderedItems"] = [_embed(i) for i in items]
    return doc


# --- activities -----------------------------------------------------------


def _activity(
    type_: str,
    *,
    id: str,
    actor: str,
    object: Mapping[str, Any] | str,
    to: Sequence[str] | None = None,
    cc: Sequence[str] | None = None,
    published: datetime | str | None = None,
    context: Any = AS_CONTEXT,
) -> dict[str, Any]:
    doc: dict[str, Any] = {"@context": _copy_context(context) if isinstance(context, list) else context}
    doc.update({"id": id, "type": type_, "actor": actor})
    if published is not None:
        doc["published"] = iso_datetime(published)
    if to is not None:
        doc["to"] = list(to)
    if cc is not None:
        doc["cc"] = list(cc)
    doc["object"] = _embed(object)
    return doc


def _context_of(object: Mapping[str, Any], default: list[Any]) -> list[Any] | Any:
    """The ``@context`` an activity wrapping ``object`` carries: the object's own, when it
    has one, so the embedded copy means what the object served alone means (its terms,
    such as ``provenance``, stay defined); ``default`` otherwise."""
    context = object.get("@context")
    return context if context is not None else default


def create(
    *,
    id: str,
    actor: str,
    object: Mapping[str, Any],
    to: Sequence[str] | None = None,
    cc: Sequence[str] | None = None,
    published: datetime | str | None = None,
) -> dict[str, Any]:
    """``Create``; ``to``/``cc``/``published`` default to the object's, as Mastodon copies them,
    and the ``@context`` is the object's (see :func:`_context_of`)."""
    return _activity(
        "Create",
        id=id,
        actor=actor,
        object=object,
        to=list(to) if to is not None else list(object.get("to", [])),
        cc=list(cc) if cc is not None else list(object.get("cc", [])),
        published=published if published is not None else object.get("published"),
        context=_context_of(object, ACTIVITY_CONTEXT),
    )


def update(
    *,
    id: str,
    actor: str,
    object: Mapping[str, Any],
    to: Sequence[str] | None = None,
    cc: Sequence[str] | None = None,
    published: datetime | str | None = None,
) -> dict[str, Any]:
    """``Update`` of a note (addressed like it) or of the actor itself (to Public); the
    ``@context`` is the object's (see :func:`_context_of`)."""
    if to is None:
        to = list(object.get("to", [])) or ["https://www.w3.org/ns/activitystreams#Public"]
    if cc is None:
        cc = list(object.get("cc", []))
    default = MASTODON_CONTEXT if object.get("type") not in ("Note", "Question") else ACTIVITY_CONTEXT
    context = _context_of(object, default)
    return _activity("Update", id=id, actor=actor, object=object, to=to, cc=cc, published=published, context=context)


def delete(
    *, id: str, actor: str, object: Mapping[str, Any] | str, to: Sequence[str] = (), cc: Sequence[str] = ()
) -> dict[str, Any]:
    """``Delete``; ``object`` is a :func:`tombstone` or the deleted id (actor deletes)."""
    return _activity("Delete", id=id, actor=actor, object=object, to=list(to), cc=list(cc))


def follow(*, id: str, actor: str, object: str) -> dict[str, Any]:
    """``Follow`` of the actor ``object``."""
    return _activity("Follow", id=id, actor=actor, object=object)


def accept(*, id: str, actor: str, object: Mapping[str, Any] | str) -> dict[str, Any]:
    """``Accept`` of a Follow: Mastodon embeds the whole Follow, so should we."""
    return _activity("Accept", id=id, actor=actor, object=object)


def reject(*, id: str, actor: str, object: Mapping[str, Any] | str) -> dict[str, Any]:
    """``Reject`` of a Follow (embedded like :func:`accept`)."""
    return _activity("Reject", id=id, actor=actor, object=object)


def undo(
    *,
    id: str,
    actor: str,
    object: Mapping[str, Any] | str,
    to: Sequence[str] | None = None,
    cc: Sequence[str] | None = None,
) -> dict[str, Any]:
    """``Undo`` of a Follow/Like/Announce/Block; embed the original activity."""
    return _activity("Undo", id=id, actor=actor, object=object, to=to, cc=cc)


def like(*, id: str, actor: str, object: str) -> dict[str, Any]:
    """``Like`` of the object id ``object``."""
    return _activity("Like", id=id, actor=actor, object=object)


def announce(
    *,
    id: str,
    actor: str,
    object: str,
    to: Sequence[str],
    cc: Sequence[str],
    published: datetime | str | None = None,
) -> dict[str, Any]:
    """``Announce`` (boost) of the object id ``object``."""
    return _activity("Announce", id=id, actor=actor, object=object, to=to, cc=cc, published=published)


def block(*, id: str, actor: str, object: str) -> dict[str, Any]:
    """``Block`` of the actor ``object`` (sent only to that actor's inbox)."""
    return _activity("Block", id=id, actor=actor, object=object)


def move(
    *, id: str, actor: str, target: str, object: str | None = None, to: Sequence[str] | None = None
) -> dict[str, Any]:
    """``Move`` of ``actor`` (the ``object``, by default itself) to ``target``."""
    doc = _activity("Move", id=id, actor=actor, object=object or actor, to=to)
    doc["target"] = target
    return doc
