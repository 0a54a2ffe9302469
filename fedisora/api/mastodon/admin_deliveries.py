"""Failed deliveries for admins: what each peer answered, and sending one again.

Admin (``User.is_admin`` and the ``admin:read`` / ``admin:write`` scope; 403 otherwise,
401 without a token)::

    GET  /api/v1/admin/deliveries              state=failed (default: given up) | retrying,
                                               host=peer.example; max_id/since_id/min_id,
                                               limit (default 100, at most 200); Link header
    POST /api/v1/admin/deliveries/:id/retry    queue a given-up delivery again: the new one

Each entry is :meth:`fedisora.federation.failures.FailedDelivery.to_json`: ``id``,
``state``, ``inbox``, ``host``, ``activity`` (``id``, ``type``), ``http_status`` (null
when the peer did not answer), ``reason``, ``response`` (the peer's body, at most 500
characters, control characters removed), ``attempts``, ``failed_at``, ``created_at``,
``next_attempt_at``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from sqlmodel import col

from ...db.models import Job
from ...errors import APIError
from ...federation import failures
from ...jobs import queue
from .accounts import RECORD_NOT_FOUND, _id_value, _json, _me, _route, _state
from .admin_attestations import _admin
from .auth import request_params, text_param
from .pagination import order_page, page_params, paginate, paginated

__all__ = ["routes"]

LIST_LIMIT = (100, 200)  # default, most (as Mastodon's admin lists)


async def deliveries(request: Request) -> Response:
    auth = await _admin(request, "admin:read")
    params = await request_params(request)
    page = page_params(params, default=LIST_LIMIT[0], maximum=LIST_LIMIT[1])
    state = (text_param(params, "state") or "failed").strip().lower()
    if state not in failures.STATES:
        raise APIError(422, f"Validation failed: state must be one of {', '.join(failures.STATES)}")
    host = (text_param(params, "host") or "").strip() or None
    async with _state(request).sessions() as session:
        await _me(session, auth)
        stmt = paginate(failures.listing(state, host=host), col(Job.id), page)
        rows = order_page(list((await session.exec(stmt)).all()), page)  # type: ignore[call-overload]
        views = await failures.describe(session, rows)
    return paginated(request, [v.to_json() for v in views], [v.id for v in views])


async def retry(request: Request) -> Response:
    auth = await _admin(request, "admin:write")
    job_id = _id_value(request.path_params["id"])
    async with _state(request).sessions() as session:
        await _me(session, auth)
        if job_id is None:
            raise APIError(404, RECORD_NOT_FOUND)
        try:
            job = await failures.retry(session, job_id)
        except failures.DeliveryNotFound:
            raise APIError(404, RECORD_NOT_FOUND) from None
        await session.commit()
    queue.nudge()  # a local runner sends it now rather than at its next poll
    return _json(
        {
            "id": str(job.id),
            "state": "queued",
            "inbox": job.payload.get("inbox"),
            "host": job.payload.get("host"),
            "retried": str(job_id),
        }
    )


routes: list[BaseRoute] = [
    _route("/api/v1/admin/deliveries", deliveries, ["GET"]),
    _route("/api/v1/admin/deliveries/{id}/retry", retry, ["POST"]),
]
