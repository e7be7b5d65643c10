"""Check a built desktop bundle (``dist/deid-vcam``) the way a user first meets it, and screenshot it:
``python packaging/bundle/smoke.py [--bundle dist/deid-vcam] [--screenshot docs/screenshots/bundle-tray.png]``.

1. ``vcam-run --source demo --sink null --frames 60`` from the bundle succeeds (models, tracker,
   filter, monitors all load from the bundle's files), and ``vcam-tray --install-desktop-entry
   --autostart`` writes entries that start the bundle's own ``vcam-tray``;
2. ``vcam-tray --source demo --sink null`` starts under Xvfb with a tray host (trayer), shows its
   first-run window, is screenshot after ``--seconds``, and stops on SIGTERM with exit code 143 and
   no process left. Needs Xvfb and trayer (``make system-deps``) and PySide6 here for the screenshot.
Prints what it measured as one JSON line (bundle size, start-up times).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GRAB = (
    "import sys\n"
    "from PySide6.QtGui import QGuiApplication\n"
    "app = QGuiApplication([])\n"
    "sys.exit(0 if app.primaryScreen().grabWindow(0).save(sys.argv[1]) else 1)\n"
)


def size_mb(folder: Path) -> float:
    return round(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink()) / 1e6)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bundle", type=Path, default=ROOT / "dist" / "deid-vcam")
    ap.add_argument("--screenshot", type=Path, default=ROOT / "docs" / "screenshots" / "bundle-tray.png")
    ap.add_argument("--seconds", type=float, default=20.0, help="how long the tray runs before the screenshot")
    args = ap.parse_args()
    if not (args.bundle / "vcam-tray").is_file():
        ap.error(f"no bundle at {args.bundle}: run `make bundle` first")
    result: dict[str, float] = {"bundle_mb": size_mb(args.bundle)}
    start = time.perf_counter()
    run = subprocess.run([str(args.bundle / "vcam-run"), "--source", "demo", "--sink", "null", "--frames", "60", "--quiet"], capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"bundle vcam-run failed ({run.returncode}): {run.stderr.strip()[-800:]}")
    result["run_60_frames_s"] = round(time.perf_counter() - start, 1)
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "XDG_DATA_HOME": f"{home}/data", "XDG_CONFIG_HOME": f"{home}/config"}
        subprocess.run([str(args.bundle / "vcam-tray"), "--install-desktop-entry", "--autostart"], env=env, check=True, capture_output=True)
        for entry in (Path(home) / "data" / "applications" / "deid-vcam.desktop", Path(home) / "config" / "autostart" / "deid-vcam.desktop"):
            if f"Exec={args.bundle.resolve() / 'vcam-tray'}" not in entry.read_text():
                raise SystemExit(f"{entry} does not start the bundle's vcam-tray")

    display = ":87"
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb", "XDG_CONFIG_HOME": home}  # a first start: no saved settings
        xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"], stderr=subprocess.DEVNULL)
        try:
            time.sleep(1.0)
            host = ["trayer", "--edge", "top", "--widthtype", "pixel", "--width", "200"]
            trayer = subprocess.Popen(host, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                time.sleep(1.0)
                cmd = [str(args.bundle / "vcam-tray"), "--source", "demo", "--sink", "null"]
                tray = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                time.sleep(args.seconds)
                if tray.poll() is not None:
                    raise SystemExit(f"bundle vcam-tray exited early ({tray.returncode}): {tray.stderr.read()[-800:] if tray.stderr else ''}")
                args.screenshot.parent.mkdir(parents=True, exist_ok=True)
                subprocess.run([sys.executable, "-c", GRAB, str(args.screenshot)], env=env, check=True, timeout=60)
                tray.send_signal(signal.SIGTERM)
                code = tray.wait(timeout=30)
                if code != 128 + signal.SIGTERM:
                    raise SystemExit(f"bundle vcam-tray stopped with {code} on SIGTERM, not 143")
                left = subprocess.run(["pgrep", "-f", str(args.bundle)], capture_output=True, text=True).stdout.split()
                if left:
                    raise SystemExit(f"processes of the bundle left after the tray stopped: {left}")
            finally:
                trayer.terminate()
        finally:
            xvfb.terminate()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
