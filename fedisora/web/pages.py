"""Pages for people with browsers.  For now: the landing page."""

from __future__ import annotations

from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from .. import __version__
from ..state import AppState
from ..stats import usage
from .layout import page


async def landing(request: Request) -> Response:
    state: AppState = request.app.state.fedisora
    instance = state.config.instance
    async with state.sessions() as session:
        counts = await usage(session)
    contact = (
        f'<dt>Contact</dt><dd><a href="mailto:{escape(instance.contact_email)}">'
        f"{escape(instance.contact_email)}</a></dd>"
        if instance.contact_email
        else ""
    )
    body = f"""<header>
<h1>{escape(instance.name)}</h1>
<p class="muted">{escape(instance.domain)}</p>
</header>
<main>
<p>{escape(instance.description)}</p>
<dl>
<dt>People</dt><dd>{counts.total_users}</dd>
<dt>Posts</dt><dd>{counts.local_posts}</dd>
<dt>Registrations</dt><dd>{escape(instance.registrations)}</dd>
{contact}
</dl>
</main>
<footer><p class="muted">fedisora {escape(__version__)} ·
<a href="/nodeinfo/2.1">NodeInfo</a></p></footer>"""
    return HTMLResponse(page(instance.name, body, lang=instance.languages[0] if instance.languages else "en"))


routes = [Route("/", landing, methods=["GET", "HEAD"])]
