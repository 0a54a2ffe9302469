"""How much memory the image decodes of this process may hold at once.

A still image is decoded whole before it is scaled down: a 100-megapixel PNG
takes 400 MB as pixels, however small its file.  Several such uploads at once
would add up, so every decode first reserves its estimated size from one
:class:`MemoryBudget` per process (:data:`IMAGE_BUDGET`) and waits while others
hold it.  Small images fit side by side; the largest run one at a time.  A
reservation larger than the whole budget waits until nothing else is reserved.
Reservations are granted in the order they were asked for, so a large one is not
overtaken, and starved, by a stream of small ones that would each fit beside it.

Reservations are made in the worker threads that decode (never on the event
loop) and must not be nested (a nested one would wait behind those queued after the
outer one, which waits for it: a deadlock).
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["MemoryBudget", "IMAGE_BUDGET", "IMAGE_BUDGET_BYTES"]

IMAGE_BUDGET_BYTES = 768 * 1024 * 1024


class MemoryBudget:
    def __init__(self, limit: int) -> None:
        if limit <= 0:
            raise ValueError("the budget must be positive")
        self.limit = limit
        self._used = 0
        self._cond = threading.Condition()
        self._tickets = itertools.count()
        self._queue: deque[int] = deque()  # tickets of the reservations waiting, oldest first

    @property
    def used(self) -> int:
        with self._cond:
            return self._used

    @contextmanager
    def reserve(self, amount: int) -> Iterator[None]:
        """Hold ``amount`` bytes of the budget (at most all of it) for the ``with`` block."""
        amount = max(0, min(int(amount), self.limit))
        with self._cond:
            ticket = next(self._tickets)
            self._queue.append(ticket)
            try:
                while self._queue[0] != ticket or self._used + amount > self.limit:
                    self._cond.wait()
            finally:
                self._queue.remove(ticket)
                self._cond.notify_all()  # the next in line may fit too
            self._used += amount
        try:
            yield
        finally:
            with self._cond:
                self._used -= amount
                self._cond.notify_all()


IMAGE_BUDGET = MemoryBudget(IMAGE_BUDGET_BYTES)
