"""Errors as users see them: Mastodon-style JSON on API paths, a small HTML page elsewhere.

No handler ever returns a traceback; unexpected exceptions are logged and
answered with a generic 500.
"""

from __future__ import annotations

import logging
from html import escape

from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from .db.busy import RETRY_AFTER_SECONDS, is_busy
from .web.layout import page

log = logging.getLogger(__name__)

# Machine-facing paths: their errors are JSON whatever the Accept header says.
JSON_PREFIXES = (
    "/api/", "/oauth/", "/.well-known/", "/nodeinfo/", "/healthz", "/inbox", "/activities/",
    "/attestations/", "/status-lists/",
)


class APIError(Exception):
    """An error whose message is safe to show, with its HTTP status."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


def wants_json(request: Request) -> bool:
    path = request.url.path
    if path.startswith(JSON_PREFIXES) or path == "/api" or request.method == "POST":
        return True
    accept = request.headers.get("accept", "")
    return "json" in accept and "html" not in accept


def error_response(request: Request, status_code: int, message: str) -> Response:
    if wants_json(request):
        return JSONResponse({"error": message}, status_code=status_code)
    body = page(str(status_code), f"<h1>{status_code}</h1>\n<p>{escape(message)}</p>")
    return HTMLResponse(body, status_code=status_code)


async def http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = exc.detail or "Error"
    if exc.status_code == 404 and message == "Not Found":
        message = "Record not found"  # Mastodon's wording, which clients match on
    response = error_response(request, exc.status_code, message)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, APIError)
    return error_response(request, exc.status_code, exc.message)


async def server_error(request: Request, exc: Exception) -> Response:
    if is_busy(exc):  # a temporary condition, not a bug: the client should retry (its transaction was rolled back)
        log.warning("database busy on %s %s: %s", request.method, request.url.path, exc)
        response = error_response(request, 503, "The database is busy; please try again shortly")
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(request, 500, "Internal server error")


EXCEPTION_HANDLERS = {
    HTTPException: http_exception,
    APIError: api_error,
    SQLAlchemyError: server_error,  # answered here, not re-raised by the server error middleware
    Exception: server_error,
}
