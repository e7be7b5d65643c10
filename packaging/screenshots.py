"""Render the tray app's windows to PNG (docs/screenshots/) from a real run on the demo face, so
the README shows what users see. Works offscreen or under Xvfb:

    QT_QPA_PLATFORM=offscreen python packaging/screenshots.py [--seconds 14] [--filter adaptive]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from vcam.app.config import Config
from vcam.app.controller import EngineController
from vcam.app.tray import TrayApp

OUT = Path(__file__).resolve().parents[1] / "docs" / "screenshots"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=14.0, help="run time before the capture (rPPG warm-up is 6 s)")
    ap.add_argument("--filter", default=Config.filter, help="face filter (default: the default filter)")
    args = ap.parse_args()
    cfg = Config(source="demo", sink="null", filter=args.filter, width=640, height=480, realtime=True)
    controller = EngineController(cfg, save=False)
    tray = TrayApp(controller, use_tray=False)
    tray.show_monitors()
    tray.monitors.resize(760, 900)
    controller.start()
    end = time.monotonic() + args.seconds
    while time.monotonic() < end:
        tray.app.processEvents()
        time.sleep(0.02)
    OUT.mkdir(parents=True, exist_ok=True)
    tray.monitors.grab().save(str(OUT / "monitors.png"))
    tray.window.grab().save(str(OUT / "controls.png"))
    tray.quit()
    print(f"wrote {OUT / 'monitors.png'} and {OUT / 'controls.png'}", flush=True)
    os._exit(0)  # see vcam.app.tray.main: skip the interpreter's teardown of Qt objects


if __name__ == "__main__":
    main()
