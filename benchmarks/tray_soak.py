"""Soak run of the whole tray app: control window, monitors window with its preview, the engine
protecting the endless demo face (the default filter unless ``--filter``, monitors on, paced at
30 fps), for N minutes, offscreen.
Samples every 15 s: frames out, fps, process RSS, monitor updates and Python's reference count
of ``None``; reports whether the app stayed up and whether anything grows.

    QT_QPA_PLATFORM=offscreen python benchmarks/tray_soak.py [--minutes 10] [--filter deid] [--json]

What short tests cannot see: slow leaks and stalls. (PySide6 6.12.0 dropped a reference to None
on every void Qt call and aborted this app after a few thousand widget updates, ~3 minutes.)
Keys: ``alive``, ``minutes``, ``frames``, ``fps_mean``, ``stalls`` (samples without new frames),
``rss_mb_start`` / ``rss_mb_end`` (after the first minute's warm-up / at the end),
``rss_growth_mb_per_h``, ``none_refs_drift_per_min``, ``monitor_updates`` (per-second records shown).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QTimer

from vcam.app.config import Config
from vcam.app.controller import EngineController
from vcam.app.tray import TrayApp

from memory import rss_mb

SAMPLE_S = 15


def soak(minutes: float, filter_name: str = Config.filter) -> dict:
    cfg = Config(source="demo", sink="null", filter=filter_name, realtime=True, monitors=True)
    with tempfile.TemporaryDirectory() as tmp:
        ctl = EngineController(cfg, Path(tmp) / "config.toml", save=False)
        tray = TrayApp(ctl, use_tray=False)
        tray.show_monitors()
        samples: list[dict] = []
        last: dict = {}
        ctl.second.connect(lambda r: last.update(r))
        t0 = time.monotonic()

        def sample() -> None:
            pipe = ctl.pipe
            samples.append(
                {
                    "t": time.monotonic() - t0,
                    "frames": pipe.metrics.frames if pipe else 0,
                    "fps": float(last.get("fps", 0.0)),
                    "rss_mb": rss_mb(),
                    "none_refs": sys.getrefcount(None),
                    "monitor_updates": tray.monitors.updates,
                }
            )
            if samples[-1]["t"] >= minutes * 60:
                tray.quit()

        timer = QTimer()
        timer.timeout.connect(sample)
        timer.start(SAMPLE_S * 1000)
        ctl.start()
        tray.app.exec()
        alive = ctl.state != "error"
    if not samples:  # the app ended before the first sample
        return {"alive": False, "minutes": 0.0, "frames": 0}
    warm = [s for s in samples if s["t"] >= 60] or samples
    hours = max((warm[-1]["t"] - warm[0]["t"]) / 3600, 1e-9)
    return {
        "alive": alive and samples[-1]["t"] >= minutes * 60,
        "minutes": round(samples[-1]["t"] / 60, 2),
        "frames": samples[-1]["frames"],
        "fps_mean": round(sum(s["fps"] for s in warm) / len(warm), 1),
        "stalls": sum(b["frames"] == a["frames"] for a, b in zip(samples, samples[1:], strict=False)),
        "rss_mb_start": round(warm[0]["rss_mb"], 1),
        "rss_mb_end": round(warm[-1]["rss_mb"], 1),
        "rss_growth_mb_per_h": round((warm[-1]["rss_mb"] - warm[0]["rss_mb"]) / hours, 1),
        "none_refs_drift_per_min": round((warm[-1]["none_refs"] - warm[0]["none_refs"]) / (hours * 60), 1),
        "monitor_updates": samples[-1]["monitor_updates"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--filter", default=Config.filter, help=f"face filter (default: {Config.filter})")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = ap.parse_args()
    result = {"filter": args.filter, **soak(args.minutes, args.filter)}
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:<26}{v}")
    sys.exit(0 if result["alive"] else 1)


if __name__ == "__main__":
    main()
