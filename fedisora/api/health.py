"""``/healthz``: for load balancers and `make run` users — is the database answering?"""

from __future__ import annotations

import asyncio
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import __version__
from ..db.engine import ping
from ..state import AppState

log = logging.getLogger(__name__)

DATABASE_TIMEOUT = 5.0


async def healthz(request: Request) -> Response:
    state: AppState = request.app.state.fedisora
    try:
        await asyncio.wait_for(ping(state.engine), DATABASE_TIMEOUT)
    except Exception as exc:  # any failure means "not healthy"; never a traceback to the caller
        log.warning("health check: database not answering: %s", exc)
        return JSONResponse(
            {"status": "error", "version": __version__, "database": "unavailable"}, status_code=503
        )
    return JSONResponse({"status": "ok", "version": __version__, "database": "ok"})


routes = [Route("/healthz", healthz, methods=["GET", "HEAD"])]
