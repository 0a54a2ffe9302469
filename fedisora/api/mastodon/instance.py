"""The public, sign-in-free part of the Mastodon API: what a client reads before logging in.

``/api/v1/instance`` and ``/api/v2/instance``, peers, weekly activity, rules,
custom emoji, trends (honestly empty: we compute no trends yet), and the
"missing" images that Account and Instance entities point to.  Every answer
carries ``Access-Control-Allow-Origin: *`` so browser clients on other origins
can read it, as on Mastodon.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Awaitable, Callable
from functools import cache
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ...convert import instance as convert
from ...convert.common import MISSING_AVATAR_PATH, MISSING_HEADER_PATH, THUMBNAIL_PATH
from ...state import AppState

CORS = {"Access-Control-Allow-Origin": "*"}
PREFLIGHT = {
    **CORS,
    "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
    "Access-Control-Max-Age": "86400",
}

Endpoint = Callable[[Request], Awaitable[Response]]


def _state(request: Request) -> AppState:
    return request.app.state.fedisora  # type: ignore[no-any-return]


def _json(data: Any) -> Response:
    return JSONResponse(data, headers=CORS)


def _public(endpoint: Endpoint) -> Endpoint:
    """Answer CORS preflights; the endpoint itself adds the CORS header to its answer."""

    async def handler(request: Request) -> Response:
        if request.method == "OPTIONS":
            headers = dict(PREFLIGHT)
            asked = request.headers.get("access-control-request-headers")
            if asked:
                headers["Access-Control-Allow-Headers"] = asked
            return Response(status_code=204, headers=headers)
        return await endpoint(request)

    return handler


def _get(path: str, endpoint: Endpoint) -> list[BaseRoute]:
    """The path with and without a trailing slash: Mastodon.py asks for ``/api/v1/instance/``."""
    handler = _public(endpoint)
    methods = ["GET", "HEAD", "OPTIONS"]
    return [Route(path, handler, methods=methods), Route(path + "/", handler, methods=methods)]


# ---- instance ----------------------------------------------------------------------------


async def instance_v2(request: Request) -> Response:
    state = _state(request)
    async with state.sessions() as session:
        return _json(await convert.instance_v2(session, state.config))


async def instance_v1(request: Request) -> Response:
    state = _state(request)
    async with state.sessions() as session:
        return _json(await convert.instance_v1(session, state.config))


async def peers(request: Request) -> Response:
    state = _state(request)
    async with state.sessions() as session:
        return _json(await convert.peers(session, state.config))


async def activity(request: Request) -> Response:
    state = _state(request)
    async with state.sessions() as session:
        return _json(await convert.activity(session))


async def empty_list(request: Request) -> Response:
    """Rules, custom emoji and trends: none yet, and an empty list says so honestly."""
    return _json([])


# ---- default images ----------------------------------------------------------------------


def _png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A flat-colour PNG, made in code so the package ships no binary assets."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes(rgb) * width  # filter type 0, then the pixels
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height, 9))
        + chunk(b"IEND", b"")
    )


@cache
def _image(path: str) -> bytes:
    if path == MISSING_AVATAR_PATH:
        return _png(400, 400, (155, 174, 200))
    if path == MISSING_HEADER_PATH:
        return _png(1500, 500, (96, 105, 132))
    return _png(1200, 630, (40, 44, 55))  # the instance thumbnail


async def image(request: Request) -> Response:
    return Response(
        _image(request.url.path),
        media_type="image/png",
        headers={**CORS, "Cache-Control": "public, max-age=86400"},
    )


routes: list[BaseRoute] = [
    *_get("/api/v1/instance", instance_v1),
    *_get("/api/v2/instance", instance_v2),
    *_get("/api/v1/instance/peers", peers),
    *_get("/api/v1/instance/activity", activity),
    *_get("/api/v1/instance/rules", empty_list),
    *_get("/api/v1/custom_emojis", empty_list),
    *_get("/api/v1/trends", empty_list),
    *_get("/api/v1/trends/tags", empty_list),
    *_get("/api/v1/trends/statuses", empty_list),
    *_get("/api/v1/trends/links", empty_list),
    *(Route(p, image, methods=["GET", "HEAD"]) for p in (MISSING_AVATAR_PATH, MISSING_HEADER_PATH, THUMBNAIL_PATH)),
]
