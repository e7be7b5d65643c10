"""Fixed-capacity, thread-safe frame ring buffer between the capture thread and the consumer.

Two policies:

* ``drop_oldest`` (live sources): ``put`` never blocks; when full the oldest frame is
  overwritten and counted in ``dropped``.
* ``block`` (offline files): ``put`` waits for room, so no frame is lost.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class RingBuffer(Generic[T]):
    """A bounded FIFO of the most recent items (default 64 frames)."""

    def __init__(self, capacity: int = 64, policy: str = "drop_oldest") -> None:
        if capacity < 1:
            raise ValueError("ring buffer capacity must be >= 1")
        if policy not in ("drop_oldest", "block"):
            raise ValueError(f"unknown ring buffer policy {policy!r}")
        self.capacity = capacity
        self.policy = policy
        self.dropped = 0
        self._items: deque[T] = deque()
        self._cond = threading.Condition()
        self._closed = False

    def put(self, item: T) -> None:
        """Append ``item``; drops the oldest (``drop_oldest``) or waits for room (``block``)."""
        with self._cond:
            if self.policy == "block":
                self._cond.wait_for(lambda: len(self._items) < self.capacity or self._closed)
            elif len(self._items) >= self.capacity:
                self._items.popleft()
                self.dropped += 1
            if self._closed:
                return
            self._items.append(item)
            self._cond.notify_all()

    def get(self, timeout: float | None = None) -> T | None:
        """Pop the oldest item; ``None`` when closed and empty, or on timeout."""
        with self._cond:
            self._cond.wait_for(lambda: self._items or self._closed, timeout)
            if not self._items:
                return None
            item = self._items.popleft()
            self._cond.notify_all()
            return item

    def snapshot(self) -> list[T]:
        """The buffered items, oldest first, without removing them."""
        with self._cond:
            return list(self._items)

    def close(self) -> None:
        """Wake every waiter; later ``get`` calls drain what is left, then return ``None``."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)
