"""Work beside the frame loop (the rPPG readings, the adaptive filter's background recogniser)
runs at a lower priority, so on a small CPU the frame's own threads get the cores first."""

from __future__ import annotations

import os
import threading


def lower_priority() -> None:
    """Lower the calling thread's scheduling priority (Linux: its nice value, +10), where allowed;
    a ``ThreadPoolExecutor`` initializer."""
    if hasattr(os, "setpriority"):
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        except OSError:
            pass
