"""activitypub.delivery: the retry policy as pure functions."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from activitypub.delivery import (
    RETRY_AFTER_CAP_SECONDS,
    Decision,
    Outcome,
    RetryPolicy,
    classify,
    classify_with_reason,
    collapse_inboxes,
    next_attempt,
)

T0 = datetime(2025, 1, 1, tzinfo=UTC)
NO_JITTER = RetryPolicy(jitter=0.0)


@pytest.mark.parametrize(
    ("status", "error", "outcome"),
    [
        (200, None, Outcome.DELIVERED), (201, None, Outcome.DELIVERED), (202, None, Outcome.DELIVERED),
        (204, None, Outcome.DELIVERED),
        (None, None, Outcome.RETRY), (None, "timed out after 30s", Outcome.RETRY),
        (None, "ConnectError: refused", Outcome.RETRY), (None, "dns resolution failed", Outcome.RETRY),
        (None, "unsafe url: address 10.0.0.1 is not public", Outcome.GIVE_UP),
        (408, None, Outcome.RETRY), (429, None, Outcome.RETRY),
        (500, None, Outcome.RETRY), (502, None, Outcome.RETRY), (503, None, Outcome.RETRY), (504, None, Outcome.RETRY),
        (400, None, Outcome.GIVE_UP), (401, None, Outcome.GIVE_UP), (403, None, Outcome.GIVE_UP),
        (404, None, Outcome.GIVE_UP), (410, None, Outcome.GIVE_UP), (422, None, Outcome.GIVE_UP),
        (301, None, Outcome.GIVE_UP), (302, None, Outcome.GIVE_UP), (308, None, Outcome.GIVE_UP),
    ],
)
def test_classify(status: int | None, error: str | None, outcome: Outcome) -> None:
    assert classify(status, error) is outcome


def test_classify_reasons() -> None:
    assert "redirect" in classify_with_reason(302)[1]
    assert classify_with_reason(None, "timed out")[1] == "timed out"
    assert classify_with_reason(None)[1] == "no response"


def test_backoff_grows_and_is_capped_without_jitter() -> None:
    delays = [
        next_attempt(NO_JITTER, attempt=n, first_failure_at=T0, now=T0).retry_in for n in range(1, 20)
    ]
    assert delays[:4] == [30.0, 60.0, 120.0, 240.0]
    assert all(a is not None and b is not None and a <= b for a, b in zip(delays, delays[1:]))
    assert max(d for d in delays if d is not None) == 21600.0
    assert delays[-1] == 21600.0
    # absurd attempt counts neither overflow nor exceed the cap
    assert next_attempt(RetryPolicy(factor=10.0, jitter=0.0), attempt=10_000, first_failure_at=T0, now=T0).retry_in == 21600.0


def test_jitter_is_bounded_and_deterministic_with_seed() -> None:
    policy = RetryPolicy()
    rng = random.Random(1234)
    for attempt in range(1, 15):
        base = min(30.0 * 2 ** (attempt - 1), 21600.0)
        for _ in range(50):
            d = next_attempt(policy, attempt=attempt, first_failure_at=T0, now=T0, rng=rng)
            assert d.retry_in is not None and not d.mark_unreachable
            assert base * 0.8 <= d.retry_in <= min(base * 1.2, 21600.0)
    a = [next_attempt(policy, attempt=3, first_failure_at=T0, now=T0, rng=random.Random(7)).retry_in
         for _ in range(3)]
    assert len(set(a)) == 1
    spread = {next_attempt(policy, attempt=3, first_failure_at=T0, now=T0, rng=rng).retry_in for _ in range(20)}
    assert len(spread) > 1


def test_retry_after_honoured_and_capped() -> None:
    d = next_attempt(NO_JITTER, attempt=1, first_failure_at=T0, now=T0, retry_after=600.0)
    assert d == Decision(retry_in=600.0, mark_unreachable=False)
    # a shorter Retry-After never shortens the backoff
    d = next_attempt(NO_JITTER, attempt=5, first_failure_at=T0, now=T0, retry_after=10.0)
    assert d.retry_in == 480.0
    d = next_attempt(NO_JITTER, attempt=1, first_failure_at=T0, now=T0, retry_after=30 * 86400.0)
    assert d.retry_in == RETRY_AFTER_CAP_SECONDS


def test_unreachable_after_retry_window() -> None:
    policy = RetryPolicy()
    before = next_attempt(policy, attempt=12, first_failure_at=T0, now=T0 + timedelta(seconds=172799))
    assert not before.mark_unreachable
    after = next_attempt(policy, attempt=13, first_failure_at=T0, now=T0 + timedelta(seconds=172800))
    assert after == Decision(retry_in=86400.0, mark_unreachable=True)
    later = next_attempt(policy, attempt=40, first_failure_at=T0, now=T0 + timedelta(days=9), retry_after=5.0)
    assert later == Decision(retry_in=86400.0, mark_unreachable=True)
    off = RetryPolicy(unreachable_retry_seconds=0)
    assert next_attempt(off, attempt=13, first_failure_at=T0, now=T0 + timedelta(days=3)) == Decision(None, True)


@pytest.mark.parametrize("jitter", [0.0, 0.2])
def test_default_schedule_spans_about_two_days(jitter: float) -> None:
    policy = RetryPolicy(jitter=jitter)
    rng = random.Random(42)
    now, attempt, total = T0, 1, 0.0
    while True:
        d = next_attempt(policy, attempt=attempt, first_failure_at=T0, now=now, rng=rng)
        if d.mark_unreachable:
            break
        assert d.retry_in is not None
        total += d.retry_in
        now += timedelta(seconds=d.retry_in)
        attempt += 1
    assert policy.retry_for_seconds <= total < policy.retry_for_seconds + policy.max_seconds
    assert 12 <= attempt <= 25


def test_collapse_inboxes() -> None:
    recipients = [
        ("https://m.example/users/a/inbox", "https://m.example/inbox"),
        ("https://solo.example/u/b/inbox", None),
        ("https://m.example/users/c/inbox", "https://m.example/inbox"),
        ("https://p.example/users/d/inbox", "https://p.example/inbox"),
        ("https://solo.example/u/b/inbox", None),
        ("https://solo.example/u/e/inbox", ""),
        ("", None),
    ]
    assert collapse_inboxes(recipients) == [
        "https://m.example/inbox",
        "https://solo.example/u/b/inbox",
        "https://p.example/inbox",
        "https://solo.example/u/e/inbox",
    ]
    assert collapse_inboxes(iter([])) == []
