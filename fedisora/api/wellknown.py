"""``/.well-known/*`` and NodeInfo: how peers and clients discover this instance."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from activitypub import hostmeta, nodeinfo

from .. import SOFTWARE_NAME, __version__
from ..errors import APIError
from ..state import AppState
from ..stats import usage

def _state(request: Request) -> AppState:
    return request.app.state.fedisora


async def nodeinfo_index(request: Request) -> Response:
    return JSONResponse(
        nodeinfo.well_known_index(_state(request).config.base_url),
        headers={"Access-Control-Allow-Origin": "*"},
    )


async def nodeinfo_document(request: Request) -> Response:
    version = request.path_params["version"]
    if version not in nodeinfo.SUPPORTED_VERSIONS:
        raise APIError(404, f"NodeInfo version {version} is not served; use 2.0 or 2.1")
    state = _state(request)
    config = state.config
    async with state.sessions() as session:
        counts = await usage(session)
    info = nodeinfo.NodeInfo(
        software=nodeinfo.Software(SOFTWARE_NAME, __version__),
        usage=counts,
        open_registrations=config.instance.registrations != "closed",
        metadata={
            "nodeName": config.instance.name,
            "nodeDescription": config.instance.description,
            "languages": config.instance.languages,
            "registrationsApproval": config.instance.registrations == "approval",
            "generation": config.generation.enabled,
        },
    )
    return JSONResponse(
        info.document(version),
        media_type=nodeinfo.content_type(version),
        headers={"Access-Control-Allow-Origin": "*"},
    )


async def host_meta(request: Request) -> Response:
    base_url = _state(request).config.base_url
    headers = {"Access-Control-Allow-Origin": "*"}
    if "json" in request.headers.get("accept", "") or request.url.path.endswith(".json"):
        return JSONResponse(
            hostmeta.host_meta_json(base_url), media_type=hostmeta.JRD_CONTENT_TYPE, headers=headers
        )
    return Response(
        hostmeta.host_meta_xrd(base_url), media_type=hostmeta.XRD_CONTENT_TYPE, headers=headers
    )


routes = [
    Route("/.well-known/nodeinfo", nodeinfo_index),
    Route("/nodeinfo/{version}", nodeinfo_document),
    Route("/.well-known/host-meta", host_meta),
    Route("/.well-known/host-meta.json", host_meta),
]
