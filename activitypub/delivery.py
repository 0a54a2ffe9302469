"""Delivery retry policy as pure functions: no I/O, no clock, no database.

The job engine records attempts and asks these functions what to do next, so
the policy can be tested exhaustively and tuned from the ``[federation]``
config (``retry_base_seconds``, ``retry_factor``, ``retry_max_seconds``,
``retry_for_seconds``, ``unreachable_retry_seconds``).

Choices, following Mastodon and microblog.pub (docs/COMPAT.md):

* 2xx is delivered; no answer, timeouts, 5xx, 408 and 429 are retried;
* every other 4xx (400, 401, 403, 404, 410, 422, ...) is permanent: Mastodon
  drops a delivery after a 4xx other than 408/429, and retrying a rejected
  signature or a deleted inbox only adds load;
* redirects are not followed for signed POSTs and count as permanent too;
* a guard refusal (error text starting with ``"unsafe url"``) is permanent;
* ``Retry-After`` is honoured but capped (:data:`RETRY_AFTER_CAP_SECONDS`) so a
  peer cannot park our queue for a month;
* after ``retry_for_seconds`` of failures the host is marked unreachable and
  retried rarely (``unreachable_retry_seconds``) until it answers again.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

__all__ = [
    "RETRY_AFTER_CAP_SECONDS",
    "Decision",
    "Outcome",
    "RetryPolicy",
    "classify",
    "classify_with_reason",
    "collapse_inboxes",
    "next_attempt",
]

RETRY_AFTER_CAP_SECONDS = 86400.0
UNSAFE_URL_PREFIX = "unsafe url"


class _Random(Protocol):
    def uniform(self, a: float, b: float) -> float: ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Backoff parameters; defaults give about two days of retries."""

    base_seconds: float = 30.0
    factor: float = 2.0
    max_seconds: float = 21600.0
    retry_for_seconds: float = 172800.0
    unreachable_retry_seconds: float = 86400.0
    jitter: float = 0.2


class Outcome(enum.Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    GIVE_UP = "give_up"


@dataclass(frozen=True, slots=True)
class Decision:
    """When to try again.

    ``retry_in`` is None only when the policy disables unreachable retries
    (``unreachable_retry_seconds <= 0``) and the retry window is over.
    """

    retry_in: float | None
    mark_unreachable: bool


def classify_with_reason(status: int | None, error: str | None = None) -> tuple[Outcome, str]:
    """Classify a delivery attempt and say why (for the job's error column)."""
    if status is None:
        detail = error or "no response"
        if detail.startswith(UNSAFE_URL_PREFIX):
            return Outcome.GIVE_UP, detail
        return Outcome.RETRY, detail
    if 200 <= status < 300:
        return Outcome.DELIVERED, f"HTTP {status}"
    if 300 <= status < 400:
        return Outcome.GIVE_UP, f"HTTP {status}: redirect, not followed for deliveries"
    if status in (408, 429):
        return Outcome.RETRY, f"HTTP {status}"
    if 400 <= status < 500:
        return Outcome.GIVE_UP, f"HTTP {status}: permanent client error"
    # 5xx, and anything outlandish (1xx, >= 600), is the remote's problem: retry.
    return Outcome.RETRY, f"HTTP {status}"


def classify(status: int | None, error: str | None = None) -> Outcome:
    """The :class:`Outcome` of one attempt: see the module docstring for the table."""
    return classify_with_reason(status, error)[0]


def _backoff(policy: RetryPolicy, attempt: int) -> float:
    try:
        raw = policy.base_seconds * policy.factor ** max(0, attempt - 1)
    except OverflowError:
        return policy.max_seconds
    return min(raw, policy.max_seconds)


def next_attempt(
    policy: RetryPolicy,
    *,
    attempt: int,
    first_failure_at: datetime,
    now: datetime,
    retry_after: float | None = None,
    rng: _Random = random,
) -> Decision:
    """Decide the delay before the next try after ``attempt`` failed attempts (1-based).

    Backoff is ``base * factor**(attempt-1)`` with ±``jitter`` (a fraction),
    capped at ``max_seconds``; a ``Retry-After`` (capped at
    :data:`RETRY_AFTER_CAP_SECONDS`) can only lengthen it.  Once failures have
    lasted ``retry_for_seconds`` the host is marked unreachable and retried
    every ``unreachable_retry_seconds``.
    """
    if (now - first_failure_at).total_seconds() >= policy.retry_for_seconds:
        rare = policy.unreachable_retry_seconds
        return Decision(retry_in=rare if rare > 0 else None, mark_unreachable=True)
    delay = _backoff(policy, attempt)
    if policy.jitter > 0:
        delay *= rng.uniform(1.0 - policy.jitter, 1.0 + policy.jitter)
    delay = max(0.0, min(delay, policy.max_seconds))
    if retry_after is not None and retry_after > 0:
        delay = max(delay, min(retry_after, RETRY_AFTER_CAP_SECONDS))
    return Decision(retry_in=delay, mark_unreachable=False)


def collapse_inboxes(recipients: Iterable[tuple[str, str | None]]) -> list[str]:
    """One target per recipient: its shared inbox if any, else its inbox.

    Order of first appearance is kept and duplicates dropped, so a post to 500
    followers on one Mastodon server becomes one delivery.  Empty entries are
    skipped.
    """
    seen: set[str] = set()
    targets: list[str] = []
    for inbox, shared_inbox in recipients:
        target = shared_inbox or inbox
        if target and target not in seen:
            seen.add(target)
            targets.append(target)
    return targets
