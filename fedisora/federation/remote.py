"""Remote actors and objects: fetching them (signed, as the instance actor), checking
them, and caching them in our tables.

Remote documents are untrusted.  An actor document is accepted only from its own
origin (the id's host must be the host that served it); names and summaries are
bounded and sanitized; keys are stored only when they name the actor as owner.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub import webfinger
from activitypub.client import FetchedDocument, FetchError
from activitypub.extract import as_list, bool_of, domain_of, id_of, ids_of, same_origin, str_of, text_of, types_of, url_of
from activitypub.signatures import HTTPSignatureAuth

from ..accounts.service import ensure_instance_actor
from ..db.models import Actor, Domain, Key, KeyAlgorithm, KeyPurpose, username_key, utcnow
from ..db.upsert import insert_missing
from ..html import sanitize_html
from ..state import AppState

ACTOR_TYPES = {"Person", "Service", "Application", "Group", "Organization"}
ACTOR_REFRESH = timedelta(days=1)
MAX_NAME = 200
MAX_SUMMARY = 10_000


class RemoteError(Exception):
    """A remote document could not be fetched or is not acceptable; ``str`` says why.

    ``permanent`` is false only for a failure that may pass (a timeout, a 5xx, a
    refused connection): a bad or local document, or a 404, is the same next time.
    """

    def __init__(self, message: str, *, permanent: bool = True) -> None:
        super().__init__(message)
        self.permanent = permanent


def _host(uri: str) -> str:
    return domain_of(uri) or ""


async def ensure_domain(session: AsyncSession, host: str) -> None:
    """Insert the ``domains`` row for ``host`` if it is missing (safe against races)."""
    values = {"domain": host, "local": False, "blocked": False, "failure_count": 0, "created_at": utcnow()}
    await insert_missing(session, Domain.__table__, values)  # type: ignore[attr-defined]


async def signing_key(session: AsyncSession, actor: Actor) -> Key:
    query = (
        select(Key)
        .where(
            Key.actor_id == actor.id,
            Key.algorithm == KeyAlgorithm.RSA.value,
            Key.purpose == KeyPurpose.HTTP_SIGNATURE.value,
            Key.private_key_pem.is_not(None),  # type: ignore[union-attr]
            Key.revoked_at.is_(None),  # type: ignore[union-attr]
        )
        .order_by(Key.id.desc())  # type: ignore[union-attr]
    )
    key = (await session.exec(query)).first()
    if key is None:
        raise RemoteError(f"{actor.uri} has no signing key")
    return key


async def fetch(session: AsyncSession, state: AppState, url: str) -> FetchedDocument:
    """GET an ActivityPub document, signed by the instance actor (authorized-fetch peers need it)."""
    host = _host(url)
    if host == state.config.instance.domain:
        raise RemoteError(f"{url} is local; it is never fetched over HTTP")
    if state.config.moderation.is_blocked(host):
        raise RemoteError(f"{host} is blocked by this instance")
    instance = await ensure_instance_actor(session, state.config)
    key = await signing_key(session, instance)
    assert key.private_key_pem is not None
    try:
        return await state.client.fetch_document(url, auth=HTTPSignatureAuth(key.key_id, key.private_key_pem))
    except FetchError as exc:
        raise RemoteError(f"fetching {url} failed: {exc}", permanent=exc.permanent) from exc


def _actor_fields(doc: dict[str, Any], served_by: str) -> dict[str, Any]:
    uri = id_of(doc.get("id"))
    if not uri or not types_of(doc) & ACTOR_TYPES:
        raise RemoteError(f"{served_by} is not an actor document")
    if not same_origin(uri, served_by):
        raise RemoteError(f"actor id {uri} does not belong to {served_by}")
    inbox = id_of(doc.get("inbox"))
    if not inbox:
        raise RemoteError(f"actor {uri} has no inbox")
    username = str_of(doc.get("preferredUsername")) or uri.rstrip("/").rsplit("/", 1)[-1]
    endpoints = doc.get("endpoints") if isinstance(doc.get("endpoints"), dict) else {}
    actor_type = next(iter(sorted(types_of(doc) & ACTOR_TYPES)))
    return {
        "uri": uri,
        "domain": _host(uri),
        "username": username[:MAX_NAME],
        "username_key": username_key(username[:MAX_NAME]),
        "actor_type": actor_type,
        "display_name": (text_of(doc, "name") or "")[:MAX_NAME],
        "summary": sanitize_html((text_of(doc, "summary") or "")[:MAX_SUMMARY]),
        "url": url_of(doc.get("url"), prefer_media_type="text/html") or uri,
        "inbox_uri": inbox,
        "outbox_uri": id_of(doc.get("outbox")),
        "shared_inbox_uri": id_of(endpoints.get("sharedInbox")) if endpoints else None,
        "followers_uri": id_of(doc.get("followers")),
        "following_uri": id_of(doc.get("following")),
        "featured_uri": id_of(doc.get("featured")),
        "icon_url": url_of(doc.get("icon")),
        "header_url": url_of(doc.get("image")),
        "manually_approves_followers": bool(bool_of(doc.get("manuallyApprovesFollowers"))),
        "discoverable": bool(bool_of(doc.get("discoverable"))),
        "indexable": bool(bool_of(doc.get("indexable"))),
        "moved_to_uri": id_of(doc.get("movedTo")),
        "also_known_as": ids_of(doc.get("alsoKnownAs"))[:20],
    }


def _keys_of(doc: dict[str, Any], owner: str) -> list[dict[str, Any]]:
    keys = []
    for entry in as_list(doc.get("publicKey")):
        if isinstance(entry, dict) and id_of(entry.get("owner")) in (owner, None):
            pem = str_of(entry.get("publicKeyPem"))
            key_id = id_of(entry.get("id"))
            if pem and key_id and same_origin(key_id, owner):
                keys.append({"key_id": key_id, "algorithm": KeyAlgorithm.RSA.value,
                             "purpose": KeyPurpose.HTTP_SIGNATURE.value, "public_key_pem": pem})
    for entry in as_list(doc.get("assertionMethod")):
        if isinstance(entry, dict) and "Multikey" in types_of(entry):
            multibase = str_of(entry.get("publicKeyMultibase"))
            key_id = id_of(entry.get("id"))
            if multibase and key_id and id_of(entry.get("controller")) == owner and same_origin(key_id, owner):
                keys.append({"key_id": key_id, "algorithm": KeyAlgorithm.ED25519.value,
                             "purpose": KeyPurpose.ASSERTION.value, "public_key_multibase": multibase})
    return keys


async def _cached_actor(session: AsyncSession, fields: dict[str, Any]) -> Actor | None:
    actor = (await session.exec(select(Actor).where(Actor.uri == fields["uri"]))).first()
    if actor is None:  # the same handle under a new id: the account was re-created there
        actor = (
            await session.exec(
                select(Actor).where(Actor.username_key == fields["username_key"], Actor.domain == fields["domain"])
            )
        ).first()
    return actor


async def store_actor(session: AsyncSession, doc: dict[str, Any], served_by: str) -> Actor:
    """Create or refresh the cached copy of a remote actor (and its keys) from ``doc``.

    Idempotent under concurrency: the first copy is an ``INSERT … ON CONFLICT DO
    NOTHING``, so many deliveries of a new actor at once store it once.
    """
    fields = _actor_fields(doc, served_by)
    await ensure_domain(session, fields["domain"])
    actor = await _cached_actor(session, fields)
    if actor is None:
        row = Actor(**fields, local=False, raw=doc, fetched_at=utcnow()).model_dump()
        await insert_missing(session, Actor.__table__, row)  # type: ignore[attr-defined]
        actor = await _cached_actor(session, fields)  # ours, or the one a concurrent delivery stored
        assert actor is not None
    if actor.local:
        raise RemoteError(f"{fields['uri']} is a local actor")
    for name, value in fields.items():
        setattr(actor, name, value)
    actor.deleted_at = None
    actor.raw = doc
    actor.fetched_at = utcnow()
    await session.flush()

    for key in _keys_of(doc, actor.uri):
        existing = (await session.exec(select(Key).where(Key.key_id == key["key_id"]))).first()
        if existing is None:
            await insert_missing(session, Key.__table__, Key(actor_id=actor.id, **key).model_dump(exclude={"id"}))  # type: ignore[attr-defined]
        elif existing.actor_id == actor.id:
            for name, value in key.items():  # key rotation: the same id with a new key
                setattr(existing, name, value)
            existing.revoked_at = None
    await session.flush()
    from ..attestations.receive import actor_stored  # the attestations package imports federation

    await actor_stored(session, actor, doc)  # queue verifying the credentials the actor carries
    return actor


async def get_actor(
    session: AsyncSession, state: AppState, uri: str, *, refresh: bool = False
) -> Actor:
    """The actor with id ``uri``: from our tables, fetched when unknown or stale."""
    actor = (await session.exec(select(Actor).where(Actor.uri == uri))).first()
    if actor is not None and (actor.local or not refresh and not _stale(actor)):
        return actor
    if _host(uri) == state.config.instance.domain:
        raise RemoteError(f"no local actor {uri}")
    try:
        fetched = await fetch(session, state, uri)
    except RemoteError:
        if actor is not None and not refresh:
            return actor  # a stale copy beats none while the peer is down
        raise
    return await store_actor(session, fetched.data, fetched.url_final)


def _stale(actor: Actor) -> bool:
    return actor.fetched_at is None or utcnow() - actor.fetched_at > ACTOR_REFRESH


async def fetch_key_owner(session: AsyncSession, state: AppState, key_id: str) -> Actor:
    """Fetch and store the actor that publishes the key ``key_id``: an actor URL with a
    fragment, a key document naming its ``owner`` (RSA) or ``controller`` (Multikey) on
    its own host, or a GoToSocial key stub pointing at its actor."""
    document_url = key_id.split("#", 1)[0]
    fetched = await fetch(session, state, document_url)
    doc = fetched.data
    if not types_of(doc) & ACTOR_TYPES:  # a key document: its owner is the actor
        owner_uri = id_of(doc.get("owner")) or id_of(doc.get("controller"))
        if not owner_uri or not same_origin(owner_uri, fetched.url_final):
            raise RemoteError(f"key {key_id} has no owner on its own host")
        fetched = await fetch(session, state, owner_uri)
        doc = fetched.data
    elif "inbox" not in doc and id_of(doc.get("id")) not in (None, document_url):
        fetched = await fetch(session, state, id_of(doc.get("id")) or document_url)  # a key stub (GoToSocial)
        doc = fetched.data
    return await store_actor(session, doc, fetched.url_final)


async def find_key(
    session: AsyncSession, state: AppState, key_id: str, *, refresh: bool = False
) -> tuple[Key, Actor]:
    """The public key ``key_id`` and its owner, fetching the owner when needed.

    ``refresh`` re-fetches even a cached key (used once when a signature fails:
    the peer may have rotated its key).
    """
    key = (await session.exec(select(Key).where(Key.key_id == key_id))).first()
    if key is not None and not refresh:
        owner = await session.get(Actor, key.actor_id)
        assert owner is not None
        return key, owner
    owner = await fetch_key_owner(session, state, key_id)
    key = (await session.exec(select(Key).where(Key.key_id == key_id, Key.actor_id == owner.id))).first()
    if key is None:
        raise RemoteError(f"actor {owner.uri} does not publish key {key_id}")
    return key, owner


async def resolve_handle(session: AsyncSession, state: AppState, handle: str) -> Actor:
    """``@user@domain`` → the actor (local from our tables, remote through WebFinger)."""
    try:
        username, host = webfinger.parse_acct(handle)
    except ValueError as exc:
        raise RemoteError(str(exc)) from None
    if host == state.config.instance.domain:
        local = (
            await session.exec(
                select(Actor).where(Actor.local, Actor.domain == host, Actor.username_key == username_key(username))
            )
        ).first()
        if local is None:
            raise RemoteError(f"no local account @{username}")
        return local
    known = (
        await session.exec(select(Actor).where(Actor.domain == host, Actor.username_key == username_key(username)))
    ).first()
    if known is not None and not _stale(known):
        return known
    scheme = "http" if state.config.federation.dev else "https"
    url = webfinger.webfinger_url(host, webfinger.acct_uri(username, host), scheme=scheme)
    try:
        jrd = await state.client.fetch_json(url, accept="application/jrd+json, application/json")
    except FetchError as exc:
        if known is not None:
            return known
        raise RemoteError(f"WebFinger lookup of @{username}@{host} failed: {exc}", permanent=exc.permanent) from exc
    actor_uri = webfinger.actor_id_from_jrd(jrd)
    if not actor_uri:
        raise RemoteError(f"@{username}@{host} has no ActivityPub actor")
    return await get_actor(session, state, actor_uri, refresh=True)

