"""A normal (non-editable) install gets every module and shipped asset: a wheel built from a clean
copy of the source tree (no egg-info left by an editable install) holds each module and each file
of the asset and config folders at its ``vcam`` package path."""

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_ships_every_model_asset_and_config(tmp_path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src)
    for folder in ("app", "engine", "models", "export"):
        shutil.copytree(ROOT / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__"))
    res = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path)], capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    wanted = {f"vcam/engine/assets/{p.relative_to(ROOT / 'engine' / 'assets')}" for p in (ROOT / "engine" / "assets").rglob("*") if p.is_file()}
    wanted |= {f"vcam/models/configs/{p.name}" for p in (ROOT / "models" / "configs").iterdir()}
    assert len(wanted) >= 11 and "vcam/engine/assets/recognisers/faceplugin.onnx" in wanted and wanted <= names, sorted(wanted - names)
    modules = {f"vcam/{p.relative_to(ROOT).as_posix()}" for folder in ("app", "engine", "models", "export") for p in (ROOT / folder).rglob("*.py")}
    assert "vcam/engine/virtual_face/warp.py" in modules and modules <= names, sorted(modules - names)  # every package listed


@pytest.mark.slow
def test_a_users_install_of_the_wheel_runs_the_demo_and_pulls_in_nothing_heavy() -> None:
    """benchmarks/install.py as a user would install: the wheel into a new venv (runtime only), then
    ``vcam-run --help``, one frame and 60 frames of the demo must succeed; no torch, mediapipe,
    TensorFlow, second OpenCV or scikit-image gets installed."""
    res = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "install.py"), "--json"], capture_output=True, text=True, timeout=1200)
    assert res.returncode == 0, res.stderr[-2000:] or res.stdout[-2000:]
    (run,) = json.loads(res.stdout)["runs"]
    assert run["unwanted"] == [] and run["demo_60_s"] > 0
