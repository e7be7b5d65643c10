"""Process memory for the benchmarks: the resident set of this process, in MB (Linux /proc)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path


def rss_mb(pid: int | str = "self") -> float:
    """Resident set size of this process, or of ``pid`` (Linux /proc)."""
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class PeakRss:
    """Within a ``with`` block, samples every ``every`` s the RSS of this process and of the child
    ``child()`` names (its pid, or None): ``main_mb`` and ``child_mb`` are the highest seen."""

    def __init__(self, child: Callable[[], int | None] = lambda: None, every: float = 0.25) -> None:
        self.child, self.every = child, every
        self.main_mb, self.child_mb = 0.0, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while True:
            self.main_mb = max(self.main_mb, rss_mb())
            pid = self.child()
            try:
                self.child_mb = max(self.child_mb, rss_mb(pid)) if pid else self.child_mb
            except OSError:  # the child ended between the two reads
                pass
            if self._stop.wait(self.every):
                return

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
