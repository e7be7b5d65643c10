"""Process memory for the benchmarks: the resident set of this process, in MB (Linux /proc)."""
from __future__ import annotations

import os
from pathlib import Path


def rss_mb() -> float:
    """Resident set size of this process (Linux /proc)."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
