"""Time-sortable 64-bit identifiers ("snowflakes"), the same layout Mastodon uses.

An id is ``(unix_milliseconds << 16) | low16``.  Sorting by id therefore sorts
by creation time, which lets timelines paginate with ``max_id``/``since_id``
on the primary key alone.  The low 16 bits start at a random value for each
millisecond (so several worker processes are unlikely to collide) and are
bumped by one when the same process asks again in the same millisecond, so ids
from one process are strictly increasing.  Ids fit a signed BIGINT until the
year 6429.
"""

from __future__ import annotations

import secrets
import threading
import time
from datetime import datetime, timedelta, timezone

__all__ = ["new_id", "id_for_time", "time_of_id", "SnowflakeGenerator", "MAX_ID"]

SEQUENCE_BITS = 16
SEQUENCE_MASK = (1 << SEQUENCE_BITS) - 1
MAX_ID = (1 << 63) - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MS = timedelta(milliseconds=1)


class SnowflakeGenerator:
    """Thread-safe, per-process monotonic id source."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0

    def next_id(self, now_ms: int | None = None) -> int:
        """Return a new id, strictly greater than every id returned before."""
        ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
        candidate = (ms << SEQUENCE_BITS) | secrets.randbits(SEQUENCE_BITS)
        with self._lock:
            if candidate <= self._last:
                candidate = self._last + 1
            self._last = candidate
        if candidate > MAX_ID:  # pragma: no cover - year 6429
            raise OverflowError("snowflake id does not fit a signed 64-bit integer")
        return candidate


_default = SnowflakeGenerator()


def new_id() -> int:
    """Return a new time-sortable id from the process-wide generator."""
    return _default.next_id()


def _to_ms(dt: datetime) -> int:
    if dt.tzinfo is None:  # naive datetimes are taken to be UTC, as stored
        dt = dt.replace(tzinfo=timezone.utc)
    return (dt - _EPOCH) // _MS


def id_for_time(dt: datetime) -> int:
    """Smallest id that could have been generated at ``dt`` (for date cursors)."""
    return _to_ms(dt) << SEQUENCE_BITS


def time_of_id(snowflake: int) -> datetime:
    """The (millisecond-precision, UTC) creation time encoded in an id."""
    return _EPOCH + (snowflake >> SEQUENCE_BITS) * _MS
