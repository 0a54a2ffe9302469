"""Public HTML pages for people: an account's profile with its public posts, and one post.

ActivityPub clients that ask for these URLs with an AP ``Accept`` header get
the actor or the Note instead (``Vary: Accept``).
"""

from __future__ import annotations

from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from ..api.activitypub import actor_response, local_actor, public_status, status_response, wants_activitypub
from ..db.models import Actor, Status
from ..federation import collections
from ..state import AppState
from .layout import page

PROFILE_POSTS = 20


def _post_html(status: Status) -> str:
    when = status.published_at.strftime("%Y-%m-%d %H:%M UTC")
    body = status.content
    if status.summary:
        body = f"<details><summary>{escape(status.summary)}</summary>{status.content}</details>"
    edited = " · edited" if status.edited_at else ""
    return (
        f'<article class="post">{body}<p class="muted"><a href="{escape(status.url or status.uri)}">'
        f"{when}</a>{edited}</p></article>"
    )


def _header(actor: Actor, domain: str) -> str:
    kind = "Automated account" if actor.actor_type == "Service" else ""
    badge = f' <span class="muted">({kind})</span>' if kind else ""
    name = escape(actor.display_name or actor.username)
    return (
        f"<header><h1>{name}{badge}</h1><p class=\"muted\">@{escape(actor.username)}@{escape(domain)}</p>"
        f"{actor.summary}</header>"
    )


async def profile(request: Request) -> Response:
    state: AppState = request.app.state.fedisora
    async with state.sessions() as session:
        actor = await local_actor(session, state, request.path_params["username"])
        if wants_activitypub(request):
            return await actor_response(session, actor)
        posts = await collections.outbox_page(session, actor, max_id=None, limit=PROFILE_POSTS)
    items = "\n".join(_post_html(p) for p in posts if p.visibility == "public") or "<p>No posts yet.</p>"
    body = _header(actor, state.config.instance.domain) + f"<main>{items}</main>"
    return HTMLResponse(page(actor.display_name or actor.username, body), headers={"Vary": "Accept"})


async def post(request: Request) -> Response:
    state: AppState = request.app.state.fedisora
    async with state.sessions() as session:
        actor = await local_actor(session, state, request.path_params["username"])
        status = await public_status(session, actor, request.path_params["status_id"])
        if wants_activitypub(request):  # the signed Note, or its Tombstone, as at the post's id
            return await status_response(session, state.config, actor, status)
        if status.deleted_at is not None:
            return HTMLResponse(page("Deleted", "<p>This post was deleted.</p>"), status_code=410)
    body = _header(actor, state.config.instance.domain) + f"<main>{_post_html(status)}</main>"
    return HTMLResponse(page(f"Post by @{actor.username}", body), headers={"Vary": "Accept"})


routes = [
    Route("/@{username}", profile),
    Route("/@{username}/{status_id}", post),
]
