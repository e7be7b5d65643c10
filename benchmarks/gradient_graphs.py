"""Cost of the adaptive filter's descriptor-gradient graphs (dlib, SFace): build time, memory and
time per call, each recogniser in a fresh process so its memory is its own, as JSON + a table.

    python benchmarks/gradient_graphs.py [--calls 30] [--json]

Memory is the process's resident set after importing the engine, after building the graph
(two onnxruntime sessions: the whole graph and its forward half) and after ``--calls`` gradient and
distance calls on one face (activation arenas). Times: median of the calls, one thread each.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np

from memory import rss_mb

RECOGNISERS = ("dlib", "sface")


def measure(name: str, calls: int) -> dict:
    """One recogniser's figures, in this process."""
    from vcam.engine.recognisers import CHIP_SIZE, SFACE_SIZE
    from vcam.engine.recognisers.dlib_gradient import DescriptorGradient
    from vcam.engine.recognisers.sface_gradient import SFaceGradient

    cls, size = {"dlib": (DescriptorGradient, CHIP_SIZE), "sface": (SFaceGradient, SFACE_SIZE)}[name]
    before = rss_mb()
    start = time.perf_counter()
    judge = cls()
    build_s = time.perf_counter() - start
    built = rss_mb()
    face = np.random.default_rng(0).uniform(0, 255, (size, size, 3)).astype(np.float32)
    reference = judge.describe(face + 8)
    times: dict[str, list[float]] = {"gradient": [], "distance": []}
    for _ in range(calls):
        for kind, call in (("gradient", judge.__call__), ("distance", judge.distance)):
            start = time.perf_counter()
            call(face, reference)
            times[kind].append(time.perf_counter() - start)
    return {
        "build_s": round(build_s, 2),
        "built_mb": round(built - before, 1),
        "after_calls_mb": round(rss_mb() - before, 1),
        **{f"{kind}_ms": round(1e3 * float(np.median(t)), 1) for kind, t in times.items()},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=30)
    ap.add_argument("--json", action="store_true", help="print JSON only")
    ap.add_argument("--one", choices=RECOGNISERS, help=argparse.SUPPRESS)  # the child process's job
    args = ap.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.calls)))
        return
    result = {}
    for name in RECOGNISERS:
        out = subprocess.run([sys.executable, __file__, "--one", name, "--calls", str(args.calls)], capture_output=True, text=True, check=True)
        result[name] = json.loads(out.stdout.strip().splitlines()[-1])
    result["both_after_calls_mb"] = round(sum(result[n]["after_calls_mb"] for n in RECOGNISERS), 1)
    print(json.dumps(result, indent=1))
    if not args.json:
        keys = list(result["dlib"])
        print(f"\n{'':8}" + "".join(f"{k:>16}" for k in keys))
        for name in RECOGNISERS:
            print(f"{name:8}" + "".join(f"{result[name][k]:>16}" for k in keys))


if __name__ == "__main__":
    main()
