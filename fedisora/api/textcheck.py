"""Refusing, at the door, request text that no database can store.

PostgreSQL cannot store a NUL character in ``text`` or ``jsonb``, and no
database driver can encode an unpaired surrogate.  Such text in a path or a
query string is refused here, before any route runs, with a 400 (Rails and so
Mastodon answer 400 to unusable parameters too); this middleware wraps the
whole app, so routes added later are covered.  Bodies are checked where they
are parsed: JSON by :func:`activitypub.safejson.loads` (the inbox, the client
API), form fields by :func:`fedisora.api.mastodon.auth.checked_fields`.
"""

from __future__ import annotations

from urllib.parse import unquote_plus

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from activitypub.safejson import unstorable

from ..errors import error_response


def refusal(scope: Scope) -> str | None:
    """Why the request's path or query string cannot be served, or ``None``."""
    problem = unstorable(scope.get("path", ""))
    if problem is not None:
        return f"The path holds {problem}"
    query = unquote_plus(scope.get("query_string", b"").decode("latin-1"))
    problem = unstorable(query)
    if problem is not None:
        return f"The query string holds {problem}"
    return None


class TextCheckMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        reason = refusal(scope) if scope["type"] in ("http", "websocket") else None
        if reason is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "http":
            await error_response(Request(scope), 400, reason)(scope, receive, send)
        else:
            await receive()  # websocket.connect; closing before accepting is a 403 to the client
            await send({"type": "websocket.close", "code": 1008, "reason": reason})
