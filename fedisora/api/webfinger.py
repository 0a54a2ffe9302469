"""WebFinger (RFC 7033): ``acct:alice@our.domain`` or an actor URL → links to the actor."""

from __future__ import annotations

from sqlmodel import select
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from activitypub import webfinger

from ..accounts.service import get_instance_actor
from ..db.models import Actor
from ..errors import APIError
from ..state import AppState
from .activitypub import local_actor

CORS = {"Access-Control-Allow-Origin": "*", "Vary": "Accept"}


async def lookup(request: Request) -> Response:
    state: AppState = request.app.state.fedisora
    config = state.config
    resource = request.query_params.get("resource", "").strip()
    if not resource:
        raise APIError(400, "the resource parameter is required, e.g. acct:alice@" + config.instance.domain)
    async with state.sessions() as session:
        if resource.startswith(("https://", "http://")):
            actor = (await session.exec(select(Actor).where(Actor.uri == resource, Actor.local))).first()
            if actor is None:
                actor = (await session.exec(select(Actor).where(Actor.url == resource, Actor.local))).first()
            if actor is None:
                raise APIError(404, "Record not found")
        else:
            try:
                username, host = webfinger.parse_acct(resource)
            except ValueError:
                raise APIError(400, f"not an acct: resource: {resource!r}") from None
            if host != config.instance.domain:
                raise APIError(404, "Record not found")
            if username.lower() == config.instance.domain:
                actor = await get_instance_actor(session, config)
                if actor is None:
                    raise APIError(404, "Record not found")
            else:
                actor = await local_actor(session, state, username)
    document = webfinger.jrd(
        subject=webfinger.acct_uri(actor.username, config.instance.domain),
        aliases=[a for a in (actor.url, actor.uri) if a],
        actor_id=actor.uri,
        profile_url=actor.url or actor.uri,
        avatar_url=actor.icon_url,
    )
    return JSONResponse(document, media_type=webfinger.JRD_CONTENT_TYPE, headers=CORS)


routes = [Route("/.well-known/webfinger", lookup)]
