"""``POST /api/v1/apps`` (register a client) and ``GET /api/v1/apps/verify_credentials``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ...db.models import OAuthApplication
from ...errors import APIError
from ...oauth import apps
from ...oauth.errors import ValidationError
from ...state import AppState
from .auth import authenticate, request_params, text_param

CORS = {"Access-Control-Allow-Origin": "*"}

Endpoint = Callable[[Request], Awaitable[Response]]


def _state(request: Request) -> AppState:
    return request.app.state.fedisora  # type: ignore[no-any-return]


def cors(endpoint: Endpoint, methods: str) -> Endpoint:
    """Answer CORS preflights for browser clients on other origins (as Mastodon does)."""

    async def handler(request: Request) -> Response:
        if request.method == "OPTIONS":
            headers = {
                **CORS,
                "Access-Control-Allow-Methods": f"{methods}, OPTIONS",
                "Access-Control-Allow-Headers": request.headers.get(
                    "access-control-request-headers", "Authorization, Content-Type"
                ),
                "Access-Control-Max-Age": "86400",
            }
            return Response(status_code=204, headers=headers)
        return await endpoint(request)

    return handler


def _list_or_text(value: Any) -> Any:
    return value if isinstance(value, (str, list)) or value is None else str(value)


async def create_app(request: Request) -> Response:
    params = await request_params(request)
    async with _state(request).sessions() as session:
        try:
            new = await apps.register_app(
                session,
                name=text_param(params, "client_name"),
                redirect_uris=_list_or_text(params.get("redirect_uris")),
                scopes=_list_or_text(params.get("scopes")),
                website=text_param(params, "website"),
            )
        except ValidationError as exc:
            raise APIError(422, str(exc)) from None
        await session.commit()
    return JSONResponse(
        apps.application_entity(new.app, client_secret=new.client_secret), headers=CORS
    )


async def verify_credentials(request: Request) -> Response:
    auth = await authenticate(request, user_required=False)
    async with _state(request).sessions() as session:
        app = await session.get(OAuthApplication, auth.application_id)
    if app is None:  # deleted since the token was checked
        raise APIError(401, "The access token is invalid")
    return JSONResponse(apps.application_entity(app), headers=CORS)


routes: list[BaseRoute] = [
    Route("/api/v1/apps", cors(create_app, "POST"), methods=["POST", "OPTIONS"]),
    Route(
        "/api/v1/apps/verify_credentials",
        cors(verify_credentials, "GET"),
        methods=["GET", "OPTIONS"],
    ),
]
