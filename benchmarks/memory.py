"""Process memory for the benchmarks: the resident set of this process, in MB (Linux /proc)."""
from __future__ import annotations

import os
from pathlib import Path


def rss_mb(pid: int | str = "self") -> float:
    """Resident set size of this process, or of ``pid`` (Linux /proc)."""
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
