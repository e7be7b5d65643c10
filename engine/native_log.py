"""Filter native libraries' chatter (MediaPipe/TFLite/absl info and warning lines, OpenCV's
camera-probe warnings, FFmpeg's log lines) out of the process's stderr, so a CLI's output stays one clear line.

``NativeLogFilter.install()`` points file descriptor 2 at a pipe read by a thread that forwards
every other line unchanged; ``uninstall()`` (also run at exit) restores fd 2 and drains the pipe.
``terminal()`` is a stream on the real stderr for output that must see the terminal (progress bars).
"""

from __future__ import annotations

import atexit
import os
import re
import sys
import threading
from typing import TextIO

# MediaPipe/absl info and warnings, TFLite's delegate line, OpenCV's warnings, FFmpeg's own messages
# ("[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55...] moov atom not found"): the CLI's error line says what matters.
NOISE = re.compile(rb"^(?:[IW]\d{4} \d\d:\d\d:|INFO: Created TensorFlow Lite|WARNING: All log messages before absl|\[ WARN:\d|\[[\w,]+ @ 0x[0-9a-f]+\] )")


class NativeLogFilter:
    def __init__(self) -> None:
        self._saved: int | None = None
        self._thread: threading.Thread | None = None
        self.dropped = 0

    def install(self) -> None:
        if self._saved is not None:
            return
        sys.stderr.flush()
        read_fd, write_fd = os.pipe()
        self._saved = os.dup(2)
        os.dup2(write_fd, 2)
        os.close(write_fd)
        self._thread = threading.Thread(target=self._pump, args=(read_fd, self._saved), name="vcam-stderr", daemon=True)
        self._thread.start()
        atexit.register(self.uninstall)

    def terminal(self) -> TextIO:
        """A line-buffered text stream on the original stderr (``sys.stderr`` when not installed):
        it bypasses the filter, so ``isatty()`` and cursor control work as before."""
        if self._saved is None:
            return sys.stderr
        return os.fdopen(os.dup(self._saved), "w", buffering=1, encoding=sys.stderr.encoding, errors="replace")

    def _pump(self, read_fd: int, out_fd: int) -> None:
        with os.fdopen(read_fd, "rb", buffering=0) as pipe:
            pending = b""
            while chunk := pipe.read(65536):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                self._forward(lines, out_fd)
            if pending:
                self._forward([pending], out_fd)

    def _forward(self, lines: list[bytes], out_fd: int) -> None:
        for line in lines:
            if NOISE.match(line):
                self.dropped += 1
            else:
                os.write(out_fd, line + b"\n")

    def uninstall(self) -> None:
        if self._saved is None:
            return
        sys.stderr.flush()
        os.dup2(self._saved, 2)  # closes the pipe's last write end: the pump drains and ends
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        os.close(self._saved)
        self._saved = None
