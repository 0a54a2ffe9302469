"""``GET /api/v1/preferences`` (docs.joinmastodon.org/methods/preferences), scope ``read:accounts``.

fedisora stores no posting or reading preferences yet, so every account gets
Mastodon's defaults (the same ones ``CredentialAccount.source`` shows).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ...db.models import Visibility
from .accounts import _json, _route
from .auth import authenticate

__all__ = ["routes", "DEFAULT_PREFERENCES"]

DEFAULT_PREFERENCES: dict[str, Any] = {
    "posting:default:visibility": Visibility.PUBLIC.value,
    "posting:default:sensitive": False,
    "posting:default:language": None,
    "reading:expand:media": "default",
    "reading:expand:spoilers": False,
    "reading:autoplay:gifs": False,
}


async def preferences(request: Request) -> Response:
    await authenticate(request, scope="read:accounts")
    return _json(dict(DEFAULT_PREFERENCES))


routes: list[BaseRoute] = [_route("/api/v1/preferences", preferences, ["GET"])]
