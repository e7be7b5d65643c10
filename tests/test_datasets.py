"""Dataset loaders on small files written to each dataset's documented layout."""

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from vcam.engine.errors import VcamError
from vcam.models.data.datasets import load_dataset

from conftest import FR_EXAMPLES, read_rgb

FPS, N = 30.0, 45


@pytest.fixture(scope="module")
def face() -> np.ndarray:
    return cv2.resize(read_rgb(FR_EXAMPLES / "obama.jpg"), (160, 200))


def ppg(t: np.ndarray) -> np.ndarray:
    return np.sin(2 * np.pi * 1.25 * t)


def write_video(path: Path, face: np.ndarray) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, (face.shape[1], face.shape[0]))
    for i in range(N):
        writer.write(cv2.cvtColor(np.roll(face, i, axis=1), cv2.COLOR_RGB2BGR))
    writer.release()


def test_pure_layout(tmp_path, face) -> None:
    name, t0 = "01-02", 1_392_643_993_642_815_000
    frames = tmp_path / name / name
    frames.mkdir(parents=True)
    image_ts = [t0 + int(i * 1e9 / FPS) for i in range(N)]
    for ts in image_ts:
        cv2.imwrite(str(frames / f"Image{ts}.png"), cv2.cvtColor(face, cv2.COLOR_RGB2BGR))
    ppg_ts = [t0 + int(i * 1e9 / 60) for i in range(int(N / FPS * 60) + 2)]
    meta = {
        "/FullPackage": [
            {"Timestamp": ts, "Value": {"pulseRate": 75, "o2saturation": 98, "signalStrength": 5, "waveform": float(ppg(np.array((ts - t0) / 1e9)))}}
            for ts in ppg_ts
        ],
        "/Image": [{"Timestamp": ts} for ts in image_ts],
    }
    (tmp_path / f"{name}.json").write_text(json.dumps(meta))
    (rec,) = load_dataset(tmp_path)
    assert rec.name == name and rec.subject == "01" and rec.fps == pytest.approx(FPS, rel=1e-3)
    imgs = list(rec.frames())
    assert len(imgs) == N and imgs[0].shape == face.shape and np.array_equal(imgs[0], face)
    np.testing.assert_allclose(rec.ppg_at(), ppg(rec.frame_times), atol=0.02)


def test_ubfc_layout(tmp_path, face) -> None:
    subject = tmp_path / "subject3"
    subject.mkdir()
    write_video(subject / "vid.avi", face)
    t = np.arange(0, N / FPS + 0.1, 1 / 60)
    (subject / "ground_truth.txt").write_text("\n".join(" ".join(f"{v:.6e}" for v in row) for row in (ppg(t), np.full_like(t, 75), t)))
    (rec,) = load_dataset(tmp_path, "ubfc")
    assert rec.subject == "subject3" and len(list(rec.frames())) == N and rec.fps == pytest.approx(FPS)
    np.testing.assert_allclose(rec.ppg_at(), ppg(rec.frame_times), atol=0.02)


def test_generic_layout_and_auto_detection(tmp_path, face) -> None:
    write_video(tmp_path / "talk.avi", face)
    t = np.arange(0, 2, 0.01)
    (tmp_path / "talk.csv").write_text("time,ppg\n" + "\n".join(f"{a},{b}" for a, b in zip(t, ppg(t), strict=True)))
    (rec,) = load_dataset(tmp_path)
    assert rec.name == "talk" and len(list(rec.frames())) == N
    np.testing.assert_allclose(rec.ppg_at(), ppg(rec.frame_times), atol=0.01)


def test_bad_layouts_are_one_clear_error(tmp_path) -> None:
    with pytest.raises(VcamError, match="not found"):
        load_dataset(tmp_path / "none")
    with pytest.raises(VcamError, match="no recordings found"):
        load_dataset(tmp_path)
    (tmp_path / "x.mp4").write_bytes(b"")
    (tmp_path / "x.csv").write_text("t,value\n0,1\n")
    with pytest.raises(VcamError, match="time,ppg"):
        load_dataset(tmp_path, "generic")
    with pytest.raises(VcamError, match="unknown dataset kind"):
        load_dataset(tmp_path, "mmse")
