"""Mastodon's ``max_id``/``since_id``/``min_id``/``limit`` pagination and its ``Link`` header.

Every list endpoint pages the same way (docs.joinmastodon.org/api/guidelines#pagination):

- ``max_id``: items older than (id below) this; ``since_id``: newer than this, the
  newest first; ``min_id``: the page *just after* this id (the oldest of the newer
  items first, then answered newest first like every page);
- ``limit``: how many (default 20, at most 40 on most endpoints);
- the ``Link`` header points at the next (older, ``max_id``) and previous (newer,
  ``min_id``) pages, using the ids the endpoint paginates by (for favourites,
  bookmarks and notifications that is the favourite/bookmark/notification id, not
  the status id).

Typical use::

    page = page_params(params)                          # 422 on junk
    stmt = paginate(select(Like, Status)..., Like.id, page)
    rows = order_page(list((await session.execute(stmt)).all()), page)
    return paginated(request, [...entities...], [like.id for like, _ in rows])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple, TypeVar
from urllib.parse import urlencode

from sqlalchemy import Select
from starlette.requests import Request
from starlette.responses import JSONResponse

from ...errors import APIError
from .auth import text_param

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "Page",
    "page_params",
    "id_param",
    "paginate",
    "order_page",
    "link_header",
    "paginated",
]

DEFAULT_LIMIT = 20
MAX_LIMIT = 40
_MAX_ID = 2**63 - 1  # BIGINT
_PAGE_KEYS = ("max_id", "since_id", "min_id", "access_token")

T = TypeVar("T")


class Page(NamedTuple):
    max_id: int | None
    since_id: int | None
    min_id: int | None
    limit: int


def id_param(params: dict[str, Any], name: str) -> int | None:
    """An optional id parameter as an int; ``APIError(422)`` unless it is a
    non-negative integer that fits a BIGINT.  Empty means absent."""
    value = text_param(params, name)
    if value is None or value.strip() == "":
        return None
    value = value.strip()
    if not value.isascii() or not value.isdigit() or int(value) > _MAX_ID:
        raise APIError(422, f"Invalid {name}")
    return int(value)


def page_params(
    params: dict[str, Any], *, default: int = DEFAULT_LIMIT, maximum: int = MAX_LIMIT
) -> Page:
    """``(max_id, since_id, min_id, limit)`` from request parameters.

    ``limit`` defaults to ``default`` and is capped at ``maximum`` (below 1 counts as 1);
    a non-integer ``limit`` or id is ``APIError(422)``.
    """
    raw = text_param(params, "limit")
    limit = default
    if raw is not None and raw.strip() != "":
        try:
            limit = int(raw.strip())
        except ValueError:
            raise APIError(422, "Invalid limit") from None
        limit = max(1, min(limit, maximum))
    return Page(
        max_id=id_param(params, "max_id"),
        since_id=id_param(params, "since_id"),
        min_id=id_param(params, "min_id"),
        limit=limit,
    )


def paginate(stmt: Select[Any], column: Any, page: Page) -> Select[Any]:
    """``stmt`` restricted to ``page`` by ``column`` (the id the endpoint pages by),
    ordered and limited.  With ``min_id`` the rows come oldest first: pass them
    through :func:`order_page`."""
    if page.max_id is not None:
        stmt = stmt.where(column < page.max_id)
    if page.since_id is not None:
        stmt = stmt.where(column > page.since_id)
    if page.min_id is not None:
        stmt = stmt.where(column > page.min_id).order_by(column.asc())
    else:
        stmt = stmt.order_by(column.desc())
    return stmt.limit(page.limit)


def order_page(rows: Sequence[T], page: Page) -> list[T]:
    """Rows from :func:`paginate` in answer order (newest first)."""
    return list(reversed(rows)) if page.min_id is not None else list(rows)


def _public_base(request: Request) -> str:
    """The instance's public URL (behind a proxy the request's own may say ``http``)."""
    state = getattr(request.app.state, "fedisora", None)
    if state is not None:
        return str(state.config.base_url).rstrip("/")
    return str(request.base_url).rstrip("/")


def link_header(request: Request, ids: Sequence[int | str]) -> str | None:
    """``Link`` header for a page whose items have pagination ids ``ids`` (newest first);
    ``None`` for an empty page.  Other query parameters (``limit``, filters) are kept."""
    if not ids:
        return None
    keep = [(k, v) for k, v in request.query_params.multi_items() if k not in _PAGE_KEYS]
    base = _public_base(request) + request.url.path
    next_query = urlencode([*keep, ("max_id", str(ids[-1]))])
    prev_query = urlencode([*keep, ("min_id", str(ids[0]))])
    return f'<{base}?{next_query}>; rel="next", <{base}?{prev_query}>; rel="prev"'


def paginated(
    request: Request,
    data: list[Any],
    ids: Sequence[int | str],
    *,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A JSON list answer with its ``Link`` header (when the page is not empty)."""
    all_headers = dict(headers or {})
    link = link_header(request, ids)
    if link:
        all_headers["Link"] = link
    return JSONResponse(data, headers=all_headers)
