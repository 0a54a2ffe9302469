"""Limits on sign-in attempts (password guessing), after Mastodon's Rack::Attack rules.

Every attempt that would check a password counts, whether it succeeds or not
(as Rack::Attack counts every ``POST /auth/sign_in``): a ``POST /oauth/authorize``
that approves with a username and a password, and a ``POST /oauth/token`` with
``grant_type=password`` from an authenticated client.

* per client address: :data:`ADDRESS_LIMIT` attempts per :data:`ADDRESS_PERIOD`
  (25 per 5 minutes, Mastodon's ``throttle_login_attempts/ip``); an IPv6
  address counts by its /64;
* per account name: :data:`ACCOUNT_LIMIT` per :data:`ACCOUNT_PERIOD` (25 per
  hour, Mastodon's ``throttle_login_attempts/email``), whichever addresses the
  attempts come from.

The address is counted first; an attempt it refuses is not counted against
the account (as Rack::Attack stops at the first throttle that refuses).  A
refused attempt never reaches the password check, so a correct password is
refused too until the window ends.  Windows are fixed (see
:mod:`fedisora.counters`), so every refusal ends by itself: an account is
never locked for longer than the hour after the last attempts against it.

The account limit must neither tell an attacker whether an account exists nor
let one keep a person out:

* it counts the *name typed*, normalised (trimmed, without a leading ``@``,
  lower-cased, ``username@<instance domain>`` as ``username``; see
  :func:`fedisora.oauth.login.check_login`) and hashed, before anything is
  looked up; a name without an account is limited exactly like one with an
  account.  A person signs in by username or by e-mail address, so an account
  has at most two such budgets;
* a browser that has signed in to that name before carries a *known-device*
  cookie (``HttpOnly``, signed with the form key of
  :mod:`fedisora.oauth.authorization`, good for :data:`DEVICE_LIFETIME`); its
  attempts on the authorize form count against a budget of that cookie's own
  (:data:`ACCOUNT_LIMIT` per :data:`ACCOUNT_PERIOD`) instead of the name's (the
  address limit still applies), so guessing from elsewhere does not lock its
  owner out, and the cookie is no way around the limit for whoever holds it
  (OWASP's "device cookies").  The password grant has no such cookie.

The counts are kept by a :class:`~fedisora.counters.CounterStore`: in this
process's memory by default, so with several ``fedisora serve`` processes an
attacker gets the budgets once per process until a shared store (Redis) is
passed in.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable

from ..counters import CounterStore, FixedWindow, Hit, address_key

ADDRESS_LIMIT = 25
ADDRESS_PERIOD = 300  # seconds
ACCOUNT_LIMIT = 25
ACCOUNT_PERIOD = 3600  # seconds

DEVICE_COOKIE = "fedisora_signed_in"
DEVICE_LIFETIME = 180 * 24 * 3600  # seconds

TOO_MANY_ATTEMPTS = "Too many sign-in attempts. Try again in {wait}."


class TooManyAttempts(Exception):
    """A sign-in attempt refused by a limit; ``hit`` says which limit and until when."""

    def __init__(self, hit: Hit) -> None:
        super().__init__(f"too many sign-in attempts (limit {hit.limit} per {hit.period} s)")
        self.hit = hit

    @property
    def message(self) -> str:
        """What a person is told (the same whichever limit refused, and whether or not
        the account exists)."""
        minutes = (self.hit.retry_after + 59) // 60
        wait = "a minute" if minutes <= 1 else f"{minutes} minutes"
        return TOO_MANY_ATTEMPTS.format(wait=wait)


def account_key(identifier: str) -> str:
    """The key an attempt for the name ``identifier`` counts under (a digest, so that the
    names people type are not kept)."""
    name = identifier.strip().removeprefix("@").lower()
    return hashlib.sha256(name.encode("utf-8", "replace")).hexdigest()


class LoginLimits:
    """The sign-in counters of an instance.  ``clock`` may be replaced (tests)."""

    def __init__(
        self,
        *,
        store: CounterStore | None = None,
        clock: Callable[[], float] = time.time,
        address_limit: int = ADDRESS_LIMIT,
        address_period: int = ADDRESS_PERIOD,
        account_limit: int = ACCOUNT_LIMIT,
        account_period: int = ACCOUNT_PERIOD,
    ) -> None:
        self.clock = clock
        self.by_address = FixedWindow(
            "login/address", limit=address_limit, period=address_period, store=store, clock=self._now
        )
        self.by_account = FixedWindow(
            "login/account", limit=account_limit, period=account_period, store=store, clock=self._now
        )

    def _now(self) -> float:
        return self.clock()  # read each time, so that a replaced clock is followed

    async def attempt(self, address: str | None, identifier: str, *, device: str | None = None) -> None:
        """Count an attempt to sign in as ``identifier`` from the client ``address``;
        :class:`TooManyAttempts` if a limit refuses it.  ``device`` is the known-device
        cookie the browser holds for ``identifier`` (checked by :func:`is_known_device`):
        the attempt counts against that cookie's budget instead of the name's."""
        now = self.clock()
        by_address = await self.by_address.hit(address_key(address), now=now)
        if by_address.limited:
            raise TooManyAttempts(by_address)
        key = account_key(identifier) if device is None else "device:" + account_key(device)
        by_account = await self.by_account.hit(key, now=now)
        if by_account.limited:
            raise TooManyAttempts(by_account)


# ---- the known-device cookie ------------------------------------------------------------------


# What make_device_cookie writes: ASCII digits (int() would take others, or choke on a
# 5,000-digit one) and a SHA-256 hex digest.
_DEVICE_COOKIE_RE = re.compile(r"(?P<issued>[0-9]{1,12})\.(?P<mac>[0-9a-f]{64})")


def _device_mac(key: bytes, identifier: str, issued: int) -> str:
    message = json.dumps(["fedisora known device v1", account_key(identifier), issued])
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).hexdigest()


def make_device_cookie(key: bytes, identifier: str, now: float) -> str:
    """The cookie value for a browser that just signed in as ``identifier``."""
    issued = int(now)
    return f"{issued}.{_device_mac(key, identifier, issued)}"


def is_known_device(key: bytes, cookie: str | None, identifier: str, now: float) -> bool:
    """Whether ``cookie`` was given to a browser that signed in as ``identifier`` within
    :data:`DEVICE_LIFETIME`."""
    match = _DEVICE_COOKIE_RE.fullmatch(cookie or "")
    if match is None:  # anything else a browser may send is no cookie of ours
        return False
    issued = int(match["issued"])
    if not 0 <= now - issued <= DEVICE_LIFETIME:
        return False
    return hmac.compare_digest(match["mac"], _device_mac(key, identifier, issued))
