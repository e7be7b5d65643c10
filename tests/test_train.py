"""A tiny but real training run: real photos, frozen dlib/PhysNet judges, checkpoints, resume."""

import hashlib
import json

import numpy as np
import pytest
import torch

from vcam.models.autoencoder import DeidAutoencoder
from vcam.models.train import TrainClip, TrainConfig, build_clips, protect, train

from conftest import lfw_subset

pytestmark = pytest.mark.slow  # whole runs: make test-fast leaves them out


def test_tiny_training_run_logs_checkpoints_and_resumes(tmp_path) -> None:
    photos = lfw_subset(tmp_path)
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
    for key in (
        "rec",
        "id",
        "open_id",
        "rppg",
        "total",
        "val_psnr_db",
        "val_bvp_r",
        "val_dlib_match_rate",
        "val_sface_match_rate",
        "val_dlib_template_match_rate",
        "val_sface_template_match_rate",
    ):
        assert all(isinstance(r[key], float) for r in log), key
    assert all(0 <= r["val_dlib_match_rate"] <= 1 for r in log)
    ae = DeidAutoencoder(8, 16, residual=True)
    ae.load_state_dict(second["ae"])
    assert json.loads((tmp_path / "run" / "config.json").read_text())["c1"] == 8


def test_validate_every_skips_validation_but_never_after_the_last_epoch(tmp_path) -> None:
    cfg = TrainConfig(
        photos=str(lfw_subset(tmp_path)),
        out=str(tmp_path / "run"),
        clip_len=16,
        epochs=3,
        c1=8,
        c2=16,
        max_steps_per_epoch=1,
        val_fraction=0.25,
        validate_every=2,
    )
    train(cfg, log=lambda r: None)
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert ["val_dlib_match_rate" in r for r in log] == [False, True, True] and all("rec" in r for r in log)


def test_fine_tuning_starts_from_the_given_run_and_adds_the_sface_term(tmp_path) -> None:
    photos = lfw_subset(tmp_path)
    base = TrainConfig(photos=str(photos), out=str(tmp_path / "base"), clip_len=16, epochs=1, c1=8, c2=16, max_steps_per_epoch=1, val_fraction=0.25)
    base_ckpt = train(base, log=lambda r: None)
    # lr 0: the fine-tuned weights are the initial ones, so they must be the base run's
    tuned = TrainConfig(
        **{**base.__dict__, "out": str(tmp_path / "tuned"), "init_from": str(tmp_path / "base"), "delta_sface": 1.0, "open_set_centroid": True, "lr": 0.0}
    )
    ckpt = train(tuned, log=lambda r: None)
    before, after = (torch.load(c, weights_only=True)["ae"] for c in (base_ckpt, ckpt))
    assert all(torch.equal(before[k], after[k]) for k in before)
    record = json.loads((tmp_path / "tuned" / "log.jsonl").read_text())
    assert record["open_id_sface"] > 0 and 0 <= record["val_sface_match_rate"] <= 1
    config = json.loads((tmp_path / "tuned" / "config.json").read_text())
    assert config["init_sha256"] == hashlib.sha256(base_ckpt.read_bytes()).hexdigest()


def test_data_seed_fixes_the_split_and_clips_while_seed_varies(tmp_path) -> None:
    photos = str(lfw_subset(tmp_path))

    def data(**seeds: int) -> tuple:
        train_clips, val_clips, ids = build_clips(TrainConfig(photos=photos, clip_len=8, val_fraction=0.25, **seeds))
        return ids, [c.identity for c in val_clips], [c.frames for c in train_clips + val_clips]

    same, repeat, other = data(seed=3), data(seed=7, data_seed=3), data(seed=3, data_seed=4)
    assert same[:2] == repeat[:2] and all(np.array_equal(a, b) for a, b in zip(same[2], repeat[2], strict=True))
    assert len(same[2]) == len(other[2]) and not any(np.array_equal(a, b) for a, b in zip(same[2], other[2], strict=True))
    # what a run recorded (its extra keys dropped) names the same data
    assert TrainConfig.from_record({"photos": photos, "seed": 7, "data_seed": 3, "commit": "abc"}).data_rng_seed == 3
    assert TrainConfig.from_record({"photos": photos, "seed": 7, "commit": "abc"}).data_rng_seed == 7


def test_vcam_train_bad_input_is_one_line_and_writes_nothing(tmp_path) -> None:
    import subprocess
    import sys

    (tmp_path / "init.toml").write_text('init_from = "no-such-run"\n')
    (tmp_path / "model.onnx").write_bytes(b"not a model")
    (tmp_path / "onnx.toml").write_text('init_from = "model.onnx"\n')
    (tmp_path / "every.toml").write_text("validate_every = 0\n")
    photos = lfw_subset(tmp_path)  # 4 identities, one validated per fold: folds 0..3
    for args, message in (
        (["ae", "--photos", str(tmp_path / "none")], "photo folder not found"),
        (["ae"], "--photos is required"),
        ([], "the following arguments are required: {ae,pattern,check}"),
        (["ae", "--photos", str(tmp_path), "--clip-len", "30"], "divisible by 4"),
        (["ae", "--photos", str(tmp_path), "--config", "init.toml"], "init_from: no checkpoint"),
        (["ae", "--photos", str(tmp_path), "--config", "onnx.toml"], "model.onnx is not an ONNX file"),
        (["ae", "--photos", str(tmp_path), "--config", "every.toml"], "validate_every must be a whole number"),
        (["check", "model.onnx"], "check: model.onnx is not an ONNX file"),
        (["check", "no-such-run"], "check: no checkpoint at no-such-run"),
        (["ae", "--strength", "1", "--photos", str(tmp_path)], "unrecognized arguments: --strength"),
        (["pattern", "--photos", str(tmp_path)], "the following arguments are required: --psnr"),
        (["pattern", "--photos", str(tmp_path), "--psnr", "5"], "--psnr must be 10..60 dB"),
        (["pattern", "--photos", str(tmp_path), "--psnr", "30", "--ssim", "-1"], "--ssim and --sface >= 0"),
        (["pattern", "--photos", str(tmp_path), "--psnr", "30", "--sface", "-1"], "--ssim and --sface >= 0"),
        (["ae", "--photos", str(tmp_path), "--val-fold", "-1"], "val_fold must be a whole number >= 0"),
        (
            ["pattern", "--photos", str(photos), "--val-fold", "4", "--psnr", "30"],
            "validation fold 4 out of range: 4 identities at val_fraction 0.2 make 4 folds (0..3)",
        ),
    ):
        res = subprocess.run([sys.executable, "-m", "vcam.app.train_cli", *args], capture_output=True, text=True, cwd=tmp_path)
        assert res.returncode == 2 and res.stderr.count("\n") == 1 and message in res.stderr, res.stderr
    assert not (tmp_path / "runs").exists()  # the default --out runs/default: an earlier run's config is not overwritten


def test_composite_mask_keeps_the_ae_change_only_where_the_runtime_pastes_it() -> None:
    torch.manual_seed(0)
    ae = DeidAutoencoder(8, 16, residual=True)
    video = torch.rand(3, 8, 32, 32)
    blend = torch.zeros(1, 8, 32, 32, dtype=torch.float16)
    blend[..., 16:] = 1
    clip = TrainClip(video, blend, 0, "a")
    _, free = protect(ae, [clip])
    original, masked = protect(ae, [clip], composite_mask=True)
    assert torch.equal(masked[..., :16], original[..., :16]) and not torch.equal(free[..., :16], original[..., :16])
    assert torch.equal(masked[..., 16:], free[..., 16:])
    masked[..., :16].sum().backward()
    assert all(p.grad is None or not p.grad.any() for p in ae.parameters())


def test_bf16_training_pass_stays_close_to_float32_and_trains_every_weight() -> None:
    torch.manual_seed(0)
    ae = DeidAutoencoder(8, 16, residual=True)
    clip = TrainClip(torch.rand(3, 8, 32, 32), torch.ones(1, 8, 32, 32, dtype=torch.float16), 0, "a")
    video, full = protect(ae, [clip])
    _, half = protect(ae, [clip], bf16=True)
    change = (full - video).abs().mean()
    assert half.dtype == torch.float32 and not torch.equal(half, full)  # it did run in bfloat16
    assert (half - full).abs().mean() < 0.05 * change  # bfloat16 keeps ~3 digits of the AE's change
    (half - video).square().mean().backward()
    assert all(p.grad is not None and p.grad.dtype == torch.float32 and p.grad.any() for p in ae.parameters())


def test_check_reproduces_the_runs_last_validation_from_the_run_and_its_export(tmp_path) -> None:
    import math
    import subprocess
    import sys

    run = tmp_path / "run"
    cfg = TrainConfig(photos=str(lfw_subset(tmp_path)), out=str(run), clip_len=16, epochs=1, c1=8, c2=16, max_steps_per_epoch=2, val_fraction=0.25)
    train(cfg, log=lambda r: None)
    logged = {k: v for k, v in json.loads((run / "log.jsonl").read_text()).items() if k.startswith("val_")}
    model = tmp_path / "m.onnx"
    exported = subprocess.run(
        [sys.executable, "-m", "vcam.app.export_cli", "--checkpoint", str(run), "--out", str(model), "--streaming"], capture_output=True, text=True
    )
    assert exported.returncode == 0, exported.stderr
    for weights in (run, model):  # the config comes from what the weights recorded
        res = subprocess.run(
            [sys.executable, "-m", "vcam.app.train_cli", "check", str(weights), "--strength", "1", "0"], capture_output=True, text=True, cwd=tmp_path
        )
        assert res.returncode == 0, res.stderr
        full, off = (json.loads(line) for line in res.stdout.splitlines())
        assert {k: full[k] for k in logged} == pytest.approx(logged, rel=1e-5) and full["strength"] == 1.0
        # strength 0 passes the original through: every attacker matches every frame
        assert off["val_dlib_match_rate"] == off["val_sface_match_rate"] == 1.0 and math.isinf(off["val_psnr_db"])
        assert off["clips"] == full["clips"] > 0 and not (tmp_path / "runs").exists()
