import threading
import time

import pytest

from vcam.engine.ring_buffer import RingBuffer


def test_drop_oldest_keeps_newest_and_counts_drops() -> None:
    ring: RingBuffer[int] = RingBuffer(4, "drop_oldest")
    for i in range(10):
        ring.put(i)
    assert ring.snapshot() == [6, 7, 8, 9]
    assert ring.dropped == 6
    assert ring.get() == 6


def test_block_policy_loses_nothing_with_a_slow_consumer() -> None:
    ring: RingBuffer[int] = RingBuffer(3, "block")
    got: list[int] = []

    def consume() -> None:
        while (item := ring.get(timeout=2)) is not None:
            got.append(item)
            time.sleep(0.002)

    t = threading.Thread(target=consume)
    t.start()
    for i in range(50):
        ring.put(i)
    ring.close()
    t.join(5)
    assert got == list(range(50))
    assert ring.dropped == 0


def test_producer_never_blocks_in_drop_mode() -> None:
    ring: RingBuffer[int] = RingBuffer(64, "drop_oldest")
    start = time.monotonic()
    for i in range(10_000):
        ring.put(i)
    assert time.monotonic() - start < 2.0
    assert len(ring) == 64


def test_close_drains_then_returns_none() -> None:
    ring: RingBuffer[int] = RingBuffer(4)
    ring.put(1)
    ring.close()
    assert ring.get() == 1
    assert ring.get() is None


def test_get_times_out_on_empty() -> None:
    assert RingBuffer(2).get(timeout=0.05) is None


@pytest.mark.parametrize("capacity,policy", [(0, "block"), (4, "lifo")])
def test_rejects_bad_settings(capacity: int, policy: str) -> None:
    with pytest.raises(ValueError):
        RingBuffer(capacity, policy)
