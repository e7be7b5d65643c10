"""Soak run of the live pipeline, as JSON + a table: does anything grow or stall over half an hour?

    python benchmarks/soak.py [--minutes 30] [--filter adaptive] [--width 1280 --height 720] [--json]

The endless demo face (paced at 30 fps, as a camera) through the filter with both monitors on into
a null sink. Every 10 s: RSS of the main process and of the identity monitor's child, thread and
open-file counts, fps and dropped frames of the last 10 s. Keys: ``samples`` and, over the last
two thirds of the run (after warm-up), ``rss_growth_pct`` (main + child, last sample vs first),
``threads_growth``, ``fds_growth``, ``fps_min``, ``stalls`` (10-s periods without a frame), and
the run's ``summary``.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from pathlib import Path

from vcam.engine.filters import make_filter
from vcam.engine.pipeline import Pipeline, PipelineConfig
from vcam.engine.video.sinks import NullSink
from vcam.engine.video.sources import DemoSource

from memory import rss_mb


def counts() -> tuple[int, int]:
    threads = int(next(line.split()[1] for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("Threads:")))
    return threads, len(os.listdir("/proc/self/fd"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--filter", default="adaptive")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--json", action="store_true", help="print JSON only")
    args = ap.parse_args()
    pipe = Pipeline(DemoSource(args.width, args.height), NullSink(), make_filter(args.filter), PipelineConfig(realtime=True))
    samples: list[dict] = []
    frames = {"n": 0, "dropped": 0}

    def on_second(record: dict) -> None:
        frames["n"] += round(record["fps"])
        frames["dropped"] = record["dropped_frames"]

    def sample() -> None:
        start, last = time.monotonic(), 0
        while not stopped.wait(10.0):
            worker = getattr(pipe, "_worker", None)
            child = worker._proc.pid if worker is not None and worker._proc.is_alive() else None
            threads, fds = counts()
            samples.append(
                {
                    "t_s": round(time.monotonic() - start),
                    "rss_mb": round(rss_mb(), 1),
                    "child_rss_mb": round(rss_mb(child), 1) if child else None,
                    "threads": threads,
                    "fds": fds,
                    "fps": round((frames["n"] - last) / 10.0, 1),
                    "dropped": frames["dropped"],
                }
            )
            last = frames["n"]
            if time.monotonic() - start >= args.minutes * 60:
                pipe.stop()

    stopped = threading.Event()
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    with pipe:
        summary = pipe.run(on_second=on_second)
    stopped.set()
    settled = samples[len(samples) // 3 :] or samples
    total = [s["rss_mb"] + (s["child_rss_mb"] or 0) for s in settled]
    result = {
        "minutes": args.minutes,
        "filter": args.filter,
        "size": f"{args.width}x{args.height}",
        "cpu": os.cpu_count(),
        "rss_growth_pct": round(100 * (total[-1] - total[0]) / total[0], 2) if total else None,
        "rss_mb_end": round(total[-1], 1) if total else None,
        "threads_growth": settled[-1]["threads"] - settled[0]["threads"] if settled else None,
        "fds_growth": settled[-1]["fds"] - settled[0]["fds"] if settled else None,
        "fps_min": min((s["fps"] for s in settled), default=None),
        "stalls": sum(s["fps"] == 0 for s in samples),
        "samples": samples,
        "summary": summary,
    }
    print(json.dumps(result, indent=1, default=float))
    if not args.json:
        print(
            f"\n{args.minutes:g} min, {args.filter}, {result['size']}: RSS (main + monitor child) {total[0]:.0f} -> {total[-1]:.0f} MB "
            f"({result['rss_growth_pct']:+.2f} %) after warm-up, threads {result['threads_growth']:+d}, fds {result['fds_growth']:+d}, "
            f"fps min {result['fps_min']}, stalls {result['stalls']}, dropped {summary['dropped_frames']}"
        )


if __name__ == "__main__":
    main()
