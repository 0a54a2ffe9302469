"""ActivityPub GET endpoints: actors, collections, posts and activities.

Every URL that is an ActivityPub id answers AP JSON to ``Accept:
application/activity+json`` (or ld+json) and an HTML page (or a redirect to
one) to browsers, with ``Vary: Accept`` so caches keep them apart.

Every document served here carries an FEP-8b32 proof made with the owning
actor's Ed25519 key: actor documents, collections and their pages (and each
activity in an outbox page), posts, their ``Create`` and Tombstones.  Other
activities are served as stored, signed when published; the few stored before
proofs existed are signed as they are served.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from activitypub import vocab
from activitypub.addressing import is_public
from activitypub.extract import ids_of
from instance_config import Config

from ..accounts.service import get_instance_actor
from ..attestations.documents import attestation_entries
from ..db.models import Activity, Actor, Status, username_key
from ..errors import APIError
from ..federation import collections
from ..federation.inbox import receive
from ..federation.proofs import ProofError, sign_document, signer_for
from ..federation.documents import (
    actor_document,
    actor_keys,
    create_document,
    note_document,
    note_parts,
)
from ..state import AppState

log = logging.getLogger(__name__)

AP_CONTENT_TYPE = "application/activity+json"
PAGE_SIZE = 20
FOLLOWS_PAGE_SIZE = 40


def wants_activitypub(request: Request) -> bool:
    accept = request.headers.get("accept", "").lower()
    return "application/activity+json" in accept or "application/ld+json" in accept


def ap_response(document: dict[str, Any], status_code: int = 200) -> Response:
    return JSONResponse(
        document,
        status_code=status_code,
        media_type=AP_CONTENT_TYPE,
        headers={"Vary": "Accept", "Access-Control-Allow-Origin": "*"},
    )


async def signed_response(
    session: AsyncSession, owner: Actor, document: dict[str, Any], status_code: int = 200
) -> Response:
    """``document`` signed with ``owner``'s Ed25519 key, as an AP response.

    Commits: an account without an Ed25519 key has just been given one.
    """
    signed = await sign_document(session, owner, document)
    await session.commit()
    return ap_response(signed, status_code)


async def actor_response(session: AsyncSession, person: Actor, *, attestations: bool = True) -> Response:
    """``person``'s signed actor document (with its attestations) as an AP response.

    The signing key is loaded (or made) before the document is built, so the
    document lists the key its own proof names.
    """
    signer = await signer_for(session, person)
    entries = await attestation_entries(session, person) if attestations else None
    document = signer.sign(actor_document(person, await actor_keys(session, person), entries))
    await session.commit()
    return ap_response(document)


async def status_response(
    session: AsyncSession, config: Config, person: Actor, post: Status, *, activity: bool = False
) -> Response:
    """A public post as AP JSON, signed by its author: the Note (or its ``Create``), or a
    Tombstone (410) once deleted.  Served at the post's id and at its web page's URL."""
    if post.deleted_at is not None:
        gone = {"@context": vocab.AS_CONTEXT, **vocab.tombstone(post.uri, post.object_type, post.deleted_at)}
        return await signed_response(session, person, gone, 410)
    note = note_document(config, post, person, await note_parts(session, config, post))
    return await signed_response(session, person, create_document(note) if activity else note)


def html_redirect(url: str) -> Response:
    return RedirectResponse(url, status_code=302, headers={"Vary": "Accept"})


def _state(request: Request) -> AppState:
    return request.app.state.fedisora  # type: ignore[no-any-return]


async def local_actor(session: AsyncSession, state: AppState, username: str) -> Actor:
    query = select(Actor).where(
        Actor.local,
        Actor.domain == state.config.instance.domain,
        Actor.username_key == username_key(username),
    )
    actor = (await session.exec(query)).first()
    if actor is None or actor.suspended_at is not None or actor.actor_type == "Application":
        raise APIError(404, "Record not found")
    return actor


def _max_id(request: Request) -> int | None:
    raw = request.query_params.get("max_id")
    if raw is None:
        return None
    if not raw.isdigit() or len(raw) > 19:
        raise APIError(400, "max_id must be a numeric id")
    return int(raw)


async def actor(request: Request) -> Response:
    state = _state(request)
    async with state.sessions() as session:
        person = await local_actor(session, state, request.path_params["username"])
        if not wants_activitypub(request):
            return html_redirect(person.url or f"{state.config.base_url}/@{person.username}")
        return await actor_response(session, person)


async def instance_actor(request: Request) -> Response:
    state = _state(request)
    async with state.sessions() as session:
        person = await get_instance_actor(session, state.config)
        if person is None:
            raise APIError(404, "Record not found")
        if not wants_activitypub(request):
            return html_redirect(f"{state.config.base_url}/")
        return await actor_response(session, person, attestations=False)


async def outbox(request: Request) -> Response:
    state = _state(request)
    async with state.sessions() as session:
        person = await local_actor(session, state, request.path_params["username"])
        base = person.outbox_uri or f"{person.uri}/outbox"
        if "page" not in request.query_params and "max_id" not in request.query_params:
            total = await collections.count_outbox(session, person)
            return await signed_response(session, person, vocab.ordered_collection(base, total, first=f"{base}?page=true"))
        max_id = _max_id(request)
        posts = await collections.outbox_page(session, person, max_id=max_id, limit=PAGE_SIZE)
        signer = await signer_for(session, person)
        items = []
        for post in posts:
            note = note_document(state.config, post, person, await note_parts(session, state.config, post))
            # each Create (and its Note) verifies alone once taken out of the page
            items.append(signer.sign(create_document(note)))
        page_id = f"{base}?page=true" if max_id is None else f"{base}?max_id={max_id}"
        next_page = f"{base}?max_id={posts[-1].id}" if len(posts) == PAGE_SIZE else None
        page = vocab.ordered_collection_page(page_id, base, [], next=next_page)
        page["orderedItems"] = items  # with their @context, which their proofs cover
        return await signed_response(session, person, page)


async def _follow_collection(request: Request, *, followers: bool) -> Response:
    state = _state(request)
    async with state.sessions() as session:
        person = await local_actor(session, state, request.path_params["username"])
        base = (person.followers_uri if followers else person.following_uri) or (
            f"{person.uri}/{'followers' if followers else 'following'}"
        )
        if "page" not in request.query_params and "max_id" not in request.query_params:
            total = await collections.count_follows(session, person, followers=followers)
            return await signed_response(session, person, vocab.ordered_collection(base, total, first=f"{base}?page=1"))
        max_id = _max_id(request)
        rows = await collections.follows_page(
            session, person, followers=followers, max_id=max_id, limit=FOLLOWS_PAGE_SIZE
        )
        page_id = f"{base}?page=1" if max_id is None else f"{base}?max_id={max_id}"
        next_page = f"{base}?max_id={rows[-1][0]}" if len(rows) == FOLLOWS_PAGE_SIZE else None
        page = vocab.ordered_collection_page(page_id, base, [uri for _, uri in rows], next=next_page)
        return await signed_response(session, person, page)


async def followers(request: Request) -> Response:
    return await _follow_collection(request, followers=True)


async def following(request: Request) -> Response:
    return await _follow_collection(request, followers=False)


async def featured(request: Request) -> Response:
    state = _state(request)
    async with state.sessions() as session:
        person = await local_actor(session, state, request.path_params["username"])
        base = person.featured_uri or f"{person.uri}/collections/featured"
        document = vocab.ordered_collection(base, 0)
        document["orderedItems"] = []  # pinned posts come with the client API
        return await signed_response(session, person, document)


async def public_status(session: AsyncSession, person: Actor, raw_id: str) -> Status:
    if not raw_id.isdigit() or len(raw_id) > 19:
        raise APIError(404, "Record not found")
    post = await session.get(Status, int(raw_id))
    # Followers-only and direct posts are not served to anonymous fetches.
    if (
        post is None
        or post.actor_id != person.id
        or post.reblog_of_id is not None
        or post.visibility not in collections.PUBLIC_VISIBILITIES
    ):
        raise APIError(404, "Record not found")
    return post


async def status(request: Request) -> Response:
    state = _state(request)
    async with state.sessions() as session:
        person = await local_actor(session, state, request.path_params["username"])
        post = await public_status(session, person, request.path_params["status_id"])
        if post.deleted_at is None and not wants_activitypub(request):
            return html_redirect(post.url or post.uri)
        return await status_response(
            session, state.config, person, post, activity=request.url.path.endswith("/activity")
        )


async def activity(request: Request) -> Response:
    """Our activities other than posts' Creates (Follow, Like, Announce …), when public."""
    state = _state(request)
    uri = f"{state.config.base_url}/activities/{request.path_params['activity_id']}"
    async with state.sessions() as session:
        record = (await session.exec(select(Activity).where(Activity.uri == uri, Activity.local))).first()
        if record is None or not _is_public(record.raw):
            raise APIError(404, "Record not found")
        if "proof" not in record.raw:
            # Stored before proofs were made at publish time: signed once, and kept so.
            owner = (await session.exec(select(Actor).where(Actor.uri == record.actor_uri, Actor.local))).first()
            if owner is None or owner.suspended_at is not None:
                raise APIError(404, "Record not found")
            try:
                record.raw = await sign_document(session, owner, record.raw)
            except ProofError as exc:  # not I-JSON (publish leaves these unsigned too): served as stored
                log.info("activity %s is served without a proof: %s", uri, exc)
            else:
                session.add(record)
                await session.commit()
        return ap_response(record.raw)


def _is_public(document: dict[str, Any]) -> bool:
    return any(is_public(a) for a in ids_of(document.get("to")) + ids_of(document.get("cc")))


async def shared_inbox(request: Request) -> Response:
    return await receive(request, _state(request))


async def user_inbox(request: Request) -> Response:
    state = _state(request)
    async with state.sessions() as session:
        await local_actor(session, state, request.path_params["username"])
    return await receive(request, state)


routes = [
    Route("/inbox", shared_inbox, methods=["POST"]),
    Route("/users/{username}/inbox", user_inbox, methods=["POST"]),
    Route("/actor/inbox", shared_inbox, methods=["POST"]),
    Route("/actor", instance_actor),
    Route("/users/{username}", actor),
    Route("/users/{username}/outbox", outbox),
    Route("/users/{username}/followers", followers),
    Route("/users/{username}/following", following),
    Route("/users/{username}/collections/featured", featured),
    Route("/users/{username}/statuses/{status_id}", status),
    Route("/users/{username}/statuses/{status_id}/activity", status),
    Route("/activities/{activity_id}", activity),
]
