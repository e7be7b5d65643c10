"""vcam-export: a vcam-train checkpoint -> streaming/windowed ONNX (+ INT8) the runtime accepts."""

import json
import subprocess
import sys

import onnx
import pytest
import tomllib
import torch

from vcam.app.config import DEFAULT_MODEL
from vcam.engine.inference.backends import OrtBackend, choose_backend
from vcam.engine.inference.streaming_model import FORMAT_WINDOWED, StreamingModel
from vcam.engine.native_log import NOISE
from vcam.models.autoencoder import DeidAutoencoder

from conftest import EVM_VIDEO, ROOT, need


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory):
    run = tmp_path_factory.mktemp("run")
    torch.manual_seed(1)
    torch.save({"ae": DeidAutoencoder(8, 16, residual=True).state_dict(), "epoch": 0}, run / "checkpoint.pt")
    (run / "config.json").write_text(json.dumps({"c1": 8, "c2": 16, "residual": True, "commit": "abc123"}))
    return run


def export(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vcam.app.export_cli", *args], capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_streaming_int8_export_is_parity_checked_and_runs_on_request(run_dir, tmp_path) -> None:
    out = tmp_path / "m.onnx"
    res = export(
        "--checkpoint", str(run_dir / "checkpoint.pt"), "--out", str(out), "--streaming", "--int8", "--calib", str(need(EVM_VIDEO)), "--calib-frames", "48"
    )
    assert res.returncode == 0, res.stderr
    assert not [line for line in res.stderr.splitlines() if NOISE.match(line.encode())], res.stderr  # no MediaPipe chatter
    diff = float(res.stdout.split("max |diff| = ")[1].split()[0])
    assert diff <= 1e-4
    psnr = float(res.stdout.split("PSNR on 24 held-out crops: ")[1].split()[0])
    assert psnr > 35.0
    backend = choose_backend("cpu", out, precision="int8")
    assert backend.path.name == "m.int8.onnx"
    model = StreamingModel(backend)
    assert model.info.trained and model.info.metadata["vcam.training_commit"] == "abc123"
    assert json.loads(model.info.metadata["vcam.training_config"])["c1"] == 8


def test_windowed_export_from_run_folder(run_dir, tmp_path) -> None:
    out = tmp_path / "w.onnx"
    res = export("--checkpoint", str(run_dir), "--out", str(out))
    assert res.returncode == 0, res.stderr
    meta = {p.key: p.value for p in onnx.load(str(out)).metadata_props}
    assert meta["vcam.format"] == FORMAT_WINDOWED


@pytest.mark.slow  # four whole vcam-export runs
@pytest.mark.parametrize(
    "args, message",
    [
        (["--checkpoint", "nowhere.pt", "--out", "x.onnx"], "checkpoint not found"),
        (["--checkpoint", "RUN", "--out", "x.onnx", "--int8"], "--int8 needs --streaming and --calib"),
        (["--checkpoint", "RUN", "--out", "x.pt"], "must end in .onnx"),
        (["--checkpoint", "RUN", "--out", "x.onnx", "--streaming", "--calib", "missing.mp4"], "video file not found"),
    ],
)
def test_bad_input_is_one_line(run_dir, tmp_path, args, message) -> None:
    res = export(*[str(run_dir) if a == "RUN" else str(tmp_path / a) if a.endswith((".onnx", ".mp4")) else a for a in args])
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and message in res.stderr, res.stderr


def test_shipped_model_was_trained_with_the_committed_config() -> None:
    """The model card's reproduce command uses models/configs/default.toml: it must be what made the shipped model."""
    trained = json.loads(StreamingModel(OrtBackend(DEFAULT_MODEL)).info.metadata["vcam.training_config"])
    committed = tomllib.loads((ROOT / "models" / "configs" / "default.toml").read_text())
    assert {k: trained[k] for k in committed} == committed
