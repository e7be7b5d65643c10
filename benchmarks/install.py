"""A user's install, measured: build the wheel (from a copy of the tree, which stays clean), install
it with the runtime dependencies only (the versions in constraints.txt) into a new environment for
each Python asked for, then time the commands a new user types first.

    python benchmarks/install.py [--python PY ...] [--pipx] [--json] [--out docs/benchmarks/install.json]

Per interpreter: ``install_s`` (the install of the wheel), ``venv_mb`` (its environment on disk),
``help_s`` (``vcam-run --help``, best of three), ``first_frame_s`` (``vcam-run --source demo --sink
null --frames 1``: start, models, the first protected frame, exit), ``demo_60_s`` (the same for 60
frames, which must succeed) and ``unwanted`` (any of ``UNWANTED`` that got installed). ``--pipx``
installs as a user's ``pipx install`` does: pipx (itself in a throw-away venv) resolves the
dependencies afresh for that Python, without constraints.txt. Uses the network (PyPI) unless pip's
cache has every package.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from table import emit

ROOT = Path(__file__).resolve().parents[1]
WHEEL_INPUTS = ("pyproject.toml", "README.md", "LICENSE", "app", "engine", "models", "export")
# What a runtime install must not pull in: the training stack, the old tracker and what came with it,
# a second OpenCV, the demo photo's old source.
UNWANTED = ("torch", "mediapipe", "jaxlib", "tensorflow", "opencv-python", "opencv-contrib-python", "scikit-image")


def timed(cmd: list[str], env: dict[str, str] | None = None) -> float:
    """Seconds ``cmd`` took; it must succeed."""
    start = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({res.returncode}): {res.stderr.strip()[-500:]}")
    return time.perf_counter() - start


def size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink()) / 1e6


def build_wheel(tmp: Path) -> Path:
    """The wheel of the tree as it is now, built from a copy (setuptools writes build/ beside its input)."""
    src = tmp / "src"
    src.mkdir()
    for name in WHEEL_INPUTS:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, src / name)
    timed([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp / "wheels"), str(src)])
    (wheel,) = (tmp / "wheels").glob("*.whl")
    return wheel


def install(python: str, wheel: Path, tmp: Path, pipx: bool) -> tuple[float, Path]:
    """Install ``wheel`` for ``python``; the seconds it took and the environment's folder."""
    constraints = str(ROOT / "constraints.txt")
    if not pipx:
        venv = tmp / "venv"
        timed([python, "-m", "venv", str(venv)])
        return timed([str(venv / "bin" / "pip"), "install", "-q", "-c", constraints, str(wheel)]), venv
    tool = tmp / "pipx-tool"
    timed([sys.executable, "-m", "venv", str(tool)])
    timed([str(tool / "bin" / "pip"), "install", "-q", "pipx"])
    env = {**os.environ, "PIPX_HOME": str(tmp / "pipx"), "PIPX_BIN_DIR": str(tmp / "pipx-bin")}
    seconds = timed([str(tool / "bin" / "pipx"), "install", "--python", python, str(wheel)], env)
    return seconds, tmp / "pipx" / "venvs" / "deid-vcam"


def measure(python: str, wheel: Path, pipx: bool) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        install_s, venv = install(python, wheel, tmp, pipx)
        bin_ = venv / "bin"
        version = subprocess.run([str(bin_ / "python"), "-c", "import platform; print(platform.python_version())"], capture_output=True, text=True, check=True)
        listed = subprocess.run([str(bin_ / "python"), "-m", "pip", "list", "--format", "json"], capture_output=True, text=True, check=True)
        installed = {d["name"].lower() for d in json.loads(listed.stdout)}
        run = [str(bin_ / "vcam-run"), "--source", "demo", "--sink", "null"]
        return {
            "python": version.stdout.strip(),
            "installer": "pipx" if pipx else "pip",
            "wheel_mb": round(wheel.stat().st_size / 1e6, 1),
            "install_s": round(install_s, 1),
            "venv_mb": round(size_mb(venv)),
            "help_s": round(min(timed([str(bin_ / "vcam-run"), "--help"]) for _ in range(3)), 2),
            "first_frame_s": round(timed([*run, "--frames", "1", "--quiet"]), 1),
            "demo_60_s": round(timed([*run, "--frames", "60", "--quiet"]), 1),
            "unwanted": sorted(installed & set(UNWANTED)),
        }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--python", nargs="+", default=[sys.executable], help="interpreters to install for (default: this one)")
    ap.add_argument("--pipx", action="store_true", help="install with pipx instead of pip into a venv")
    ap.add_argument("--json", action="store_true", help="print only the JSON")
    ap.add_argument("--out", type=Path, help="also write the JSON here")
    args = ap.parse_args()
    missing = [p for p in args.python if not shutil.which(p)]
    if missing:
        ap.error(f"no interpreter {missing[0]}")
    with tempfile.TemporaryDirectory() as tmp:
        wheel = build_wheel(Path(tmp))
        runs = [measure(python, wheel, args.pipx) for python in args.python]
    result = {"runs": runs}
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    columns = [(k, k, ".1f" if isinstance(v, float) else "") for k, v in runs[0].items() if k not in ("python", "unwanted")]
    emit(result, {f"python {r['python']}": r for r in runs}, columns, args.json, "install")


if __name__ == "__main__":
    main()
