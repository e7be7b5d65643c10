"""A user's install, measured: build the wheel, install it with the runtime dependencies only into a
new venv (the versions in constraints.txt), then time the commands a new user types first.

    python benchmarks/install.py [--json] [--out docs/benchmarks/install.json]

Figures: ``install_s`` (pip install of the wheel), ``venv_mb`` (the venv on disk), ``help_s``
(``vcam-run --help``, best of three), ``first_frame_s`` (``vcam-run --source demo --sink null
--frames 1``: start, models, the first protected frame, exit) and ``demo_60_s`` (the same for 60
frames, which must succeed), with the Python version. Uses the network (PyPI) unless pip's cache
has every package.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from table import emit

ROOT = Path(__file__).resolve().parents[1]


def timed(cmd: list[str]) -> float:
    """Seconds ``cmd`` took; it must succeed."""
    start = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({res.returncode}): {res.stderr.strip()[-500:]}")
    return time.perf_counter() - start


def size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink()) / 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print only the JSON")
    ap.add_argument("--out", type=Path, help="also write the JSON here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wheels, venv = Path(tmp) / "wheels", Path(tmp) / "venv"
        timed([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(ROOT)])
        (wheel,) = wheels.glob("*.whl")
        timed([sys.executable, "-m", "venv", str(venv)])
        bin_ = venv / "bin"
        install_s = timed([str(bin_ / "pip"), "install", "-q", "-c", str(ROOT / "constraints.txt"), str(wheel)])
        run = [str(bin_ / "vcam-run"), "--source", "demo", "--sink", "null"]
        result = {
            "python": platform.python_version(),
            "wheel_mb": round(wheel.stat().st_size / 1e6, 1),
            "install_s": round(install_s, 1),
            "venv_mb": round(size_mb(venv)),
            "help_s": round(min(timed([str(bin_ / "vcam-run"), "--help"]) for _ in range(3)), 2),
            "first_frame_s": round(timed([*run, "--frames", "1", "--quiet"]), 1),
            "demo_60_s": round(timed([*run, "--frames", "60", "--quiet"]), 1),
        }
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    columns = [(k, k, ".1f" if isinstance(v, float) else "") for k, v in result.items() if k != "python"]
    emit(result, {f"python {result['python']}": result}, columns, args.json, "install")


if __name__ == "__main__":
    main()
