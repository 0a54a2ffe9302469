"""The ASGI application: routes, error handlers, and a lifespan that owns the database.

``create_app(config)`` builds everything from an explicit configuration;
nothing is read from the environment or the disk at import time.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import BaseRoute

from instance_config import Config

from .api import activitypub, health, mastodon, webfinger, wellknown
from .api import attestations as attestation_documents
from .api.ratelimit import RateLimitMiddleware
from .api.textcheck import TextCheckMiddleware
from .db.migrate import ensure_current
from .errors import EXCEPTION_HANDLERS
from .state import AppState
from .web import media as media_files
from .web import pages, profiles
from .workers import Workers

log = logging.getLogger(__name__)


def all_routes() -> list[BaseRoute]:
    return [
        *health.routes,
        *wellknown.routes,
        *webfinger.routes,
        *activitypub.routes,
        *attestation_documents.routes,
        *mastodon.routes,
        *pages.routes,
        *profiles.routes,
        *media_files.routes,
    ]


def create_app(
    config: Config,
    *,
    run_workers: bool = True,
    check_database: bool = True,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Starlette:
    """The fedisora app for ``config``.

    ``run_workers`` starts ``config.server.workers`` background job runners in
    this process; ``check_database`` refuses to start on a database that is
    not at the current migration; ``transport`` replaces the network for
    federation requests (the in-process test harness routes them to other apps).
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state = AppState.open(config, transport=transport)
        try:
            if check_database:
                await ensure_current(config.database_url)
            app.state.fedisora = state
            async with Workers(state, count=config.server.workers if run_workers else 0):
                yield
        finally:
            await state.close()

    return Starlette(
        routes=all_routes(),
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        lifespan=lifespan,
        middleware=[
            # Browser apps (Elk, Phanpy) call the API from other origins, with tokens in headers.
            Middleware(
                CORSMiddleware,
                allow_origins=["*"],
                allow_methods=["*"],
                allow_headers=["*"],
                expose_headers=["Link", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"],
            ),
            Middleware(TextCheckMiddleware),  # NUL/unpaired surrogates in paths and queries: 400
            Middleware(RateLimitMiddleware),
        ],
    )
