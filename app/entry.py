"""Console-script entry points that answer stop signals from the first instant: while the heavy
modules import (over a second), SIGINT, SIGTERM or SIGHUP ends the process with one line and
128 + the signal, since nothing has started yet; the command then installs its own handling."""

from __future__ import annotations

import os
import signal
from types import FrameType


def _stop_while_importing(prog: str) -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        os.write(2, f"{prog}: interrupted ({signal.Signals(signum).name})\n".encode())
        os._exit(128 + signum)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, handler)


def vcam_run() -> int:
    _stop_while_importing("vcam-run")
    from .run_cli import main

    return main()


def vcam_restore() -> int:
    _stop_while_importing("vcam-restore")
    from .restore_cli import main

    return main()
