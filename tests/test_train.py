"""A tiny but real training run: real photos, frozen dlib/PhysNet judges, checkpoints, resume."""
import json
import shutil

import torch

from conftest import LFW, need
from vcam.models.autoencoder import DeidAutoencoder
from vcam.models.train import TrainConfig, train


def test_tiny_training_run_logs_checkpoints_and_resumes(tmp_path) -> None:
    photos = tmp_path / "photos"
    for person in sorted(p for p in need(LFW).iterdir() if p.is_dir())[:4]:
        (photos / person.name).mkdir(parents=True)
        for photo in sorted(person.glob("*.jpg"))[:2]:
            shutil.copy(photo, photos / person.name)
    cfg = TrainConfig(photos=str(photos), out=str(tmp_path / "run"), clip_len=16, epochs=1, c1=8, c2=16, max_steps_per_epoch=2, val_fraction=0.25)
    ckpt = train(cfg, log=lambda r: None)
    first = torch.load(ckpt, weights_only=True)
    assert first["epoch"] == 0
    train(TrainConfig(**{**cfg.__dict__, "epochs": 3}), resume=True, log=lambda r: None, stop_after=1)
    second = torch.load(ckpt, weights_only=True)
    assert second["epoch"] == 1
    assert any(not torch.equal(first["ae"][k], second["ae"][k]) for k in first["ae"])
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == [0, 1]
    for key in ("rec", "id", "open_id", "rppg", "total", "val_psnr_db", "val_bvp_r", "val_dlib_match_rate"):
        assert all(isinstance(r[key], float) for r in log), key
    ae = DeidAutoencoder(8, 16, residual=True)
    ae.load_state_dict(second["ae"])
    assert json.loads((tmp_path / "run" / "config.json").read_text())["c1"] == 8


def test_vcam_train_bad_input_is_one_line(tmp_path) -> None:
    import subprocess
    import sys

    for args, message in ((["--photos", str(tmp_path / "none")], "photo folder not found"), ([], "--photos is required"),
                          (["--photos", str(tmp_path), "--clip-len", "30"], "divisible by 4")):
        res = subprocess.run([sys.executable, "-m", "vcam.app.train_cli", *args], capture_output=True, text=True)
        assert res.returncode == 2 and res.stderr.count("\n") == 1 and message in res.stderr, res.stderr
