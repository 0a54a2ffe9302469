"""The image memory budget: reservations wait for room, first come first served.

A decode that needs much of the budget must not wait forever behind a stream of
small ones that each still fit beside whatever is held (every upload of a big
image would then hang while thumbnails keep coming)."""

from __future__ import annotations

import threading
import time

import pytest

from fedisora.media.budget import MemoryBudget


def _start(budget: MemoryBudget, amount: int, order: list[str], name: str, hold: threading.Event) -> threading.Thread:
    def run() -> None:
        with budget.reserve(amount):
            order.append(name)
            hold.wait(10)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _wait_until(condition, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_large_reservation_is_not_overtaken_by_later_small_ones() -> None:
    budget = MemoryBudget(100)
    order: list[str] = []
    release_first, release_big, release_small = threading.Event(), threading.Event(), threading.Event()
    first = _start(budget, 50, order, "first", release_first)
    _wait_until(lambda: order == ["first"])
    big = _start(budget, 100, order, "big", release_big)  # must wait for "first"
    time.sleep(0.1)
    small = _start(budget, 10, order, "small", release_small)  # fits beside "first", but came later
    time.sleep(0.2)
    assert order == ["first"], "a later reservation went ahead of one already waiting"
    release_first.set()
    _wait_until(lambda: order == ["first", "big"])
    time.sleep(0.1)
    assert order == ["first", "big"] and budget.used == 100
    release_big.set()
    _wait_until(lambda: order == ["first", "big", "small"])
    release_small.set()
    for thread in (first, big, small):
        thread.join(5)
    assert budget.used == 0


def test_small_reservations_share_the_budget_and_too_large_ones_take_all_of_it() -> None:
    budget = MemoryBudget(100)
    order: list[str] = []
    hold = threading.Event()
    threads = [_start(budget, 30, order, f"s{i}", hold) for i in range(3)]
    _wait_until(lambda: len(order) == 3)
    assert budget.used == 90
    hold.set()
    for thread in threads:
        thread.join(5)
    with budget.reserve(10**12):  # more than the budget: capped, runs alone
        assert budget.used == 100
    assert budget.used == 0


def test_a_budget_must_be_positive() -> None:
    with pytest.raises(ValueError):
        MemoryBudget(0)
