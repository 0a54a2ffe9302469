"""The ``deliver`` job: POST one stored activity, signed, to one remote inbox.

:func:`fedisora.federation.outbox.publish` queues one job per (activity,
inbox); this handler sends it and turns the answer into a job outcome using
the pure policy of :mod:`activitypub.delivery`:

* delivered -> the job is done and the host is marked healthy; if it had been
  marked unreachable, its other pending deliveries are made due at once
  instead of waiting out their long "unreachable" delays;
* retry (no answer, 5xx, 408, 429) -> :class:`RetryLater` on the policy's
  backoff (honouring ``Retry-After``); after ``retry_for_seconds`` of failures
  the host is marked unreachable and retried rarely;
* give up (other 4xx, redirects, guard refusals) -> :class:`PermanentError`.

Every failed attempt stores the peer's status and a sanitized excerpt of its answer
(:func:`.failures.record`), which the admin sees with ``fedisora deliveries failed``.

No database session is held while the request is in flight: a slow peer must
not pin a connection (or, on SQLite, a write lock).  Host bookkeeping uses
single UPDATE statements so concurrent deliveries to one host do not lose
counts.  Delivery is at-least-once: a worker that crashes after the POST but
before completing the job leaves it to be re-sent after its lock expires;
receivers de-duplicate by activity id.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import select

from activitypub.client import FetchError, PostResult
from activitypub.delivery import Outcome, classify_with_reason, next_attempt
from activitypub.signatures import HTTPSignatureAuth

from instance_config import parent_domains

from ..db import upsert
from ..db.models import Activity, Actor, Domain, Job, JobState, Key, KeyAlgorithm, KeyPurpose, utcnow
from ..jobs.runner import JobContext, PermanentError, RetryLater
from ..state import AppState
from . import failures
from .outbox import DELIVER

__all__ = ["deliver"]

log = logging.getLogger(__name__)

_domains: sa.Table = Domain.__table__  # type: ignore[attr-defined]
_jobs: sa.Table = Job.__table__  # type: ignore[attr-defined]


async def deliver(ctx: JobContext, state: AppState) -> None:
    """Handler for ``deliver`` jobs (payload ``activity_id``, ``inbox``, ``host``).

    Register it bound to the app state:
    ``"deliver": functools.partial(deliver, state=state)``.
    """
    payload = ctx.payload
    inbox = str(payload["inbox"])
    host = str(payload.get("host") or _host_of(inbox)).lower()

    if state.config.moderation.is_blocked(host):
        log.info("job %s: not delivering to %s: domain blocked by config", ctx.job.id, inbox)
        return

    async with ctx.sessionmaker() as session:
        activity = await session.get(Activity, payload["activity_id"])
        if activity is None:
            raise PermanentError(f"activity {payload['activity_id']} no longer exists")
        blocked = (
            await session.exec(
                select(Domain.domain).where(
                    Domain.domain.in_(parent_domains(host)),  # type: ignore[attr-defined]
                    Domain.blocked == True,  # noqa: E712
                )
            )
        ).first()
        if blocked is not None:
            log.info("job %s: not delivering to %s: domain %s is blocked", ctx.job.id, inbox, blocked)
            return
        actor = (
            await session.exec(select(Actor).where(Actor.uri == activity.actor_uri, Actor.local == True))  # noqa: E712
        ).first()
        if actor is None:
            raise PermanentError(f"activity {activity.id}: no local actor {activity.actor_uri}")
        key = (
            await session.exec(
                select(Key)
                .where(
                    Key.actor_id == actor.id,
                    Key.algorithm == KeyAlgorithm.RSA.value,
                    Key.purpose == KeyPurpose.HTTP_SIGNATURE.value,
                    Key.revoked_at == None,  # noqa: E711
                    Key.private_key_pem != None,  # noqa: E711
                )
                .order_by(Key.created_at.desc())  # type: ignore[attr-defined]
            )
        ).first()
        if key is None or key.private_key_pem is None:
            raise PermanentError(f"actor {actor.uri} has no usable RSA signing key")
        body = json.dumps(activity.raw, separators=(",", ":"), ensure_ascii=False).encode()
        key_id, private_key_pem = key.key_id, key.private_key_pem

    result: PostResult | None = None
    exc_status: int | None = None
    try:
        result = await state.client.post_activity(
            inbox, body, auth=HTTPSignatureAuth(key_id, private_key_pem)
        )
        outcome, reason = classify_with_reason(result.status)
        retry_after = result.retry_after
    except FetchError as exc:
        outcome, reason = classify_with_reason(exc.status, exc.reason)
        retry_after = exc.retry_after
        exc_status = exc.status

    now = utcnow()
    if outcome is Outcome.DELIVERED:
        await _record_success(ctx, host, now)
        log.debug("job %s: delivered activity %s to %s (%s)", ctx.job.id, payload["activity_id"], inbox, reason)
        return

    answer = failures.excerpt(result.body_excerpt) if result is not None else ""
    detail = f"{reason} from {inbox}"
    if answer:
        detail += f": {answer[:300]}"
    if result is not None and result.location:
        detail += f" (Location: {failures.excerpt(result.location, 300)})"
    # What the peer said, for `fedisora deliveries failed` and the admin API: bookkeeping
    # only, so a database that cannot take it now does not change the outcome (a 4xx sent again).
    try:
        await failures.record(
            ctx.engine,
            ctx.job.id,
            http_status=result.status if result is not None else exc_status,
            reason=reason,
            response=answer,
            now=now,
        )
    except SQLAlchemyError:
        log.warning("job %s: could not record the failed delivery to %s", ctx.job.id, inbox, exc_info=True)

    if outcome is Outcome.GIVE_UP:
        # The host answered (or we refused to ask it): not a sign of ill health.
        raise PermanentError(detail)

    decision = next_attempt(
        state.retry_policy,
        attempt=ctx.job.attempts,
        first_failure_at=ctx.job.created_at,
        now=now,
        retry_after=retry_after,
    )
    await _record_failure(ctx, host, now, mark_unreachable=decision.mark_unreachable)
    if decision.retry_in is None:
        raise PermanentError(f"{detail}; {host} is unreachable, giving up")
    if ctx.job.attempts >= ctx.job.max_attempts:
        raise PermanentError(f"{detail}; giving up after {ctx.job.attempts} attempts")
    raise RetryLater(decision.retry_in, detail)


def _host_of(url: str) -> str:
    return url.split("://", 1)[-1].split("/", 1)[0].lower()


async def _ensure_domain(conn: AsyncConnection, host: str) -> None:
    """Insert the ``domains`` row for ``host`` unless it exists (safe against concurrent inserts)."""
    await conn.execute(
        upsert.insert(conn, _domains)
        .values(**Domain(domain=host).model_dump())
        .on_conflict_do_nothing(index_elements=["domain"])
    )


async def _record_success(ctx: JobContext, host: str, now: datetime) -> None:
    """Mark ``host`` healthy; if it was unreachable, make its waiting deliveries due now."""
    c = _domains.c
    async with ctx.engine.begin() as conn:
        await _ensure_domain(conn, host)
        # Clearing unreachable_since with RETURNING tells exactly one worker that
        # the host came back, even when several deliveries succeed at once.
        recovered = (
            await conn.execute(
                sa.update(_domains)
                .where(c.domain == host, c.unreachable_since.is_not(None))
                .values(unreachable_since=None)
                .returning(c.domain)
            )
        ).first()
        await conn.execute(
            sa.update(_domains)
            .where(c.domain == host)
            .values(last_success_at=now, failure_count=0, unreachable_since=None)
        )
        if recovered is not None:
            j = _jobs.c
            woken = await conn.execute(
                sa.update(_jobs)
                .where(
                    j.kind == DELIVER,
                    j.state == JobState.PENDING.value,
                    j.payload["host"].as_string() == host,
                    j.run_at > now,
                    j.id != ctx.job.id,
                )
                .values(run_at=now, updated_at=now)
            )
            log.info("%s is reachable again; %d waiting deliveries made due", host, woken.rowcount)


async def _record_failure(ctx: JobContext, host: str, now: datetime, *, mark_unreachable: bool) -> None:
    """Count a failed attempt against ``host``; mark it unreachable when the policy says so."""
    c = _domains.c
    async with ctx.engine.begin() as conn:
        await _ensure_domain(conn, host)
        await conn.execute(
            sa.update(_domains)
            .where(c.domain == host)
            .values(last_failure_at=now, failure_count=c.failure_count + 1)
        )
        if mark_unreachable:
            marked = (
                await conn.execute(
                    sa.update(_domains)
                    .where(c.domain == host, c.unreachable_since.is_(None))
                    .values(unreachable_since=now)
                    .returning(c.domain)
                )
            ).first()
            if marked is not None:
                log.warning("%s has failed deliveries for too long; marked unreachable", host)
