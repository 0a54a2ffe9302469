"""The image memory budget: reservations wait for room, first come first served.

A decode that needs much of the budget must not wait forever behind a stream of
small ones that each still fit beside whatever is held (every upload of a big
image would then hang while thumbnails keep coming)."""

from __future__ import annotations

import struct
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from fedisora.media import processing
from fedisora.media.budget import IMAGE_BUDGET, MemoryBudget
from fedisora.media.errors import MediaRejected


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


def _png_header(width: int, height: int) -> bytes:
    """A PNG's signature and header chunk claiming ``width`` x ``height``, and nothing to decode."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    end = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
    return b"\x89PNG\r\n\x1a\n" + chunk + end


def _while_the_budget_is_full(work: Callable[[], object]) -> BaseException | None:
    """Run ``work`` in a thread while another holds the whole image budget; what it raised."""
    held, done = threading.Event(), threading.Event()
    raised: list[BaseException] = []

    def hold() -> None:
        with IMAGE_BUDGET.reserve(IMAGE_BUDGET.limit):
            held.set()
            done.wait(10)

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # noqa: BLE001
            raised.append(exc)

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    assert held.wait(5)
    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(3)
    finished = not worker.is_alive()
    done.set()
    holder.join(5)
    worker.join(5)
    assert finished, "an image its header already rules out waited for the memory budget"
    return raised[0] if raised else None


def test_an_image_refused_by_its_header_does_not_wait_for_the_budget(tmp_path: Path) -> None:
    """A header claiming 16384 x 16384 pixels (over the 100-megapixel limit) is refused at
    once, not after waiting for the whole budget (a few tiny files would make every other
    image upload wait)."""
    src = tmp_path / "huge.png"
    src.write_bytes(_png_header(16_384, 16_384))
    work = tmp_path / "work"
    work.mkdir()
    raised = _while_the_budget_is_full(lambda: processing.process_file(src, work, processing.MediaLimits()))
    assert isinstance(raised, MediaRejected) and "16384x16384" in str(raised)
    raised = _while_the_budget_is_full(lambda: processing.make_thumbnail(_png_header(16_000, 16_000)))
    assert isinstance(raised, MediaRejected) and "16000x16000" in str(raised)
