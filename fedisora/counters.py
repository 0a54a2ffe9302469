"""Fixed-window counters, the way Rack::Attack counts (used by the API rate limit and the
sign-in limits).

A :class:`FixedWindow` counts hits per key in windows of ``period`` seconds
aligned to the epoch (window ``n`` runs from ``n * period`` to
``(n + 1) * period``), so every counter of a window starts again at the same
moment and a client can tell when from ``X-RateLimit-Reset``.

The counts live in a :class:`CounterStore`.  :class:`MemoryCounterStore` keeps
them in this process (each process counts on its own); a shared store (Redis:
``INCRBY name:window:key`` with an expiry of ``ttl``) can take its place
without changing the callers, because every call names its counter, window
and key, and gives the time after which the count may be forgotten.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

__all__ = ["CounterStore", "MemoryCounterStore", "FixedWindow", "Hit", "address_key"]


class CounterStore(Protocol):
    """Where window counts are kept."""

    async def add(self, name: str, window: int, key: str, amount: int, ttl: int) -> int:
        """Add ``amount`` to ``key``'s count in counter ``name``'s window ``window``, and
        return the new count.  The count may be forgotten ``ttl`` seconds from now."""
        ...

    async def get(self, name: str, window: int, key: str) -> int:
        """``key``'s count in that window (0 if none)."""
        ...


class MemoryCounterStore:
    """Counts in this process's memory.  Each counter name keeps only its newest window:
    when a later window is counted, the earlier one's counts are dropped."""

    def __init__(self) -> None:
        self._windows: dict[str, tuple[int, dict[str, int]]] = {}

    async def add(self, name: str, window: int, key: str, amount: int, ttl: int) -> int:
        current, counts = self._windows.get(name, (-1, {}))
        if window < current:  # a late hit from a window already dropped
            return amount
        if window > current:
            counts = {}
            self._windows[name] = (window, counts)
        count = counts.get(key, 0) + amount
        counts[key] = count
        return count

    async def get(self, name: str, window: int, key: str) -> int:
        current, counts = self._windows.get(name, (-1, {}))
        return counts.get(key, 0) if window == current else 0


@dataclass(frozen=True)
class Hit:
    """One counted hit: the count so far in its window, and when that window ends."""

    count: int
    limit: int
    period: int
    reset: float  # the end of the window (Unix time)
    now: float

    @property
    def limited(self) -> bool:
        return self.count > self.limit

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.count)

    @property
    def retry_after(self) -> int:
        """Whole seconds until the window ends (at least 1), for ``Retry-After``."""
        return max(1, int(self.reset - self.now + 0.999))


class FixedWindow:
    """``limit`` hits per key per ``period`` seconds, counted under ``name`` in ``store``.
    ``clock`` is for tests."""

    def __init__(
        self,
        name: str,
        *,
        limit: int,
        period: int,
        store: CounterStore | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if limit < 1 or period < 1:
            raise ValueError("limit and period must be positive")
        self.name = name
        self.limit = limit
        self.period = period
        self.store: CounterStore = store if store is not None else MemoryCounterStore()
        self.clock = clock

    def window(self, now: float) -> int:
        return int(now // self.period)

    def _hit(self, count: int, window: int, now: float) -> Hit:
        return Hit(count, self.limit, self.period, float((window + 1) * self.period), now)

    async def hit(self, key: str, *, now: float | None = None) -> Hit:
        """Count one hit for ``key`` now (``now`` from the caller's clock reading, so that
        several counters agree on the moment)."""
        now = self.clock() if now is None else now
        window = self.window(now)
        count = await self.store.add(self.name, window, key, 1, self.period)
        return self._hit(count, window, now)

    async def add(self, key: str, window: int) -> int:
        """Count one hit for ``key`` in ``window`` (one read earlier from :meth:`window`)."""
        return await self.store.add(self.name, window, key, 1, self.period)

    async def peek(self, key: str, *, now: float | None = None) -> Hit:
        """``key``'s count now, without counting."""
        now = self.clock() if now is None else now
        window = self.window(now)
        return self._hit(await self.store.get(self.name, window, key), window, now)


def address_key(host: str | None) -> str:
    """The client address to count by: an IPv4 address as it is, an IPv6 address by its /64
    (one home or server network gets one, as Mastodon's ``throttleable_remote_ip``), and
    anything else (a Unix socket, no client) as it is or ``"unknown"``."""
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)
