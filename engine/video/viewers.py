"""Who is watching the virtual camera: the other processes that hold its device node open.

On Linux a meeting app that shows the camera keeps ``/dev/videoN`` open; ``open_holders`` finds
such processes through ``/proc/<pid>/fd`` (as ``fuser`` does; processes of other users are only
visible to root, a meeting app runs as the user). ``ViewerWatch`` polls that on a daemon thread
(a scan of /proc takes tens of ms: never on the frame loop), so the pipeline can idle while
nobody watches, as Linux-Fake-Background-Webcam does. Unlike counting inotify open/close
events, a scan also sees apps that opened the device before the watch started.

Usage::

    watch = ViewerWatch("/dev/video10")
    watch.viewers   # None until the first scan, then the number of other processes
    watch.close()
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

PROC = Path("/proc")


def open_holders(path: str | Path) -> set[int]:
    """PIDs other than this one with an open file descriptor on ``path`` (empty where /proc is
    missing); processes that vanish or deny access during the scan are skipped."""
    target = os.path.realpath(path)
    own = os.getpid()
    holders: set[int] = set()
    try:
        pids = [int(p.name) for p in PROC.iterdir() if p.name.isdigit()]
    except OSError:
        return holders
    for pid in pids:
        if pid == own:
            continue
        try:
            fds = os.listdir(PROC / str(pid) / "fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(PROC / str(pid) / "fd" / fd) == target:
                    holders.add(pid)
                    break
            except OSError:
                continue
    return holders


class ViewerWatch:
    """Polls ``open_holders(path)`` every ``interval`` seconds on a daemon thread."""

    def __init__(self, path: str | Path, interval: float = 1.0) -> None:
        self.path, self.interval = str(path), interval
        self.viewers: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vcam-viewers", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            self.viewers = len(open_holders(self.path))
            if self._stop.wait(self.interval):
                return

    def close(self) -> None:
        self._stop.set()
        self._thread.join(self.interval + 1.0)
