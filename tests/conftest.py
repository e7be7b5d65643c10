"""Shared fixtures. Real data comes from ../shared/data (tests skip where it is absent)."""

from __future__ import annotations

import inspect
import json
import os
import shutil
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

# Qt must know before pytest-qt's session-wide QApplication exists (no display in CI).
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
EVM_VIDEO = DATA / "video" / "evm" / "face.mp4"
EVM_HR_BPM = 52.7
LFW = DATA / "faces" / "lfw10"
LFW549 = DATA / "faces" / "lfw549"
FR_EXAMPLES = DATA / "faces" / "face_recognition" / "examples"
DATA_NAMES = ("need(", "EVM_VIDEO", "LFW", "FR_EXAMPLES", "DATA /", "lfw_subset(", "lfw549_people(")  # how a test or fixture reaches ../shared/data


def _uses_data(item: pytest.Item) -> bool:
    """Whether the test or one of its fixtures reads ../shared/data (by the names that reach it)."""
    functions = [getattr(item, "function", None)] + [d.func for defs in item._fixtureinfo.name2fixturedefs.values() for d in defs]  # type: ignore[attr-defined]
    sources = []
    for f in functions:
        try:
            sources.append(inspect.getsource(f))
        except (OSError, TypeError):
            pass
    return any(name in src for src in sources for name in DATA_NAMES)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``gui`` (a Qt window) and ``needs_data`` (../shared/data) tests, so ``-m`` can pick them."""
    for item in items:
        if "qtbot" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.gui)
        if _uses_data(item):
            item.add_marker(pytest.mark.needs_data)


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"test data not found: {path} (expected ../shared/data beside the repo)")
    return path


def lfw_subset(root: Path, identities: int = 4, photos: int = 2) -> Path:
    """``root/photos``: copies of the first ``photos`` photos of the first ``identities`` LFW-10 people."""
    out = root / "photos"
    for person in sorted(p for p in need(LFW).iterdir() if p.is_dir())[:identities]:
        (out / person.name).mkdir(parents=True)
        for photo in sorted(person.glob("*.jpg"))[:photos]:
            shutil.copy(photo, out / person.name)
    return out


def lfw549_people(root: Path, count: int, photos: int = 4) -> Path:
    """``root/people``: links to the first ``count`` lfw549 validation identities (in no training
    set of a shipped model) with at least ``photos`` photos."""
    meta = json.loads((need(LFW549) / "identities.json").read_text())
    out = root / "people"
    out.mkdir()
    for name in [n for n in meta["_split_suggestion"]["val"] if len(meta[n]) >= photos][:count]:
        (out / name).symlink_to(LFW549 / name)
    return out


def read_rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(need(path))), cv2.COLOR_BGR2RGB)


def ascent_and_noise(gradient, face: np.ndarray, reference: np.ndarray, distance, rng: np.random.Generator) -> tuple[float, float]:
    """A recogniser's ``distance(uint8 face, reference)`` after five normalised steps of its
    ``gradient`` (2 levels RMS each) on ``face`` (uint8 aligned face), and after random noise as
    large as those steps' total change."""
    x = face.astype(np.float32)
    for _ in range(5):
        _, grad, _ = gradient(x, reference)
        x = np.clip(x + 2.0 * grad * np.sqrt(grad.size) / np.linalg.norm(grad), 0, 255)
    moved = np.round(x).astype(np.uint8)
    rms = np.sqrt(np.mean((moved.astype(np.float32) - face) ** 2))
    noisy = np.clip(face + rng.normal(0, rms, face.shape), 0, 255).round().astype(np.uint8)
    return distance(moved, reference), distance(noisy, reference)


def read_video(path: Path, limit: int | None = None) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(need(path)))
    frames = []
    while limit is None or len(frames) < limit:
        ok, bgr = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    cap.release()
    return frames


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep the user's real config/cache out of every test (platformdirs honours XDG_*)."""
    home = tmp_path_factory.mktemp("xdg")
    for var in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME"):
        monkeypatch.setenv(var, str(home / var.lower()))
    return home


def video_with_sound(path, frames: int = 45, fps: int = 15, rate: int = 44100) -> None:
    """A small H.264 + AAC file: grey frames and a 440 Hz tone as long as the video."""
    out = av.open(str(path), "w")
    video = out.add_stream("libx264", rate=fps)
    video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
    sound = out.add_stream("aac", rate=rate)
    sound.layout = "mono"
    done = 0
    for i in range(frames):
        for packet in video.encode(av.VideoFrame.from_ndarray(np.full((48, 64, 3), 40 + i, np.uint8), format="rgb24")):
            out.mux(packet)
        while done < (i + 1) / fps * rate:
            tone = (0.3 * np.sin(2 * np.pi * 440 * (np.arange(1024) + done) / rate)).astype(np.float32)[None]
            frame = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
            frame.sample_rate, frame.pts = rate, done
            for packet in sound.encode(frame):
                out.mux(packet)
            done += 1024
    for stream in (video, sound):
        for packet in stream.encode(None):
            out.mux(packet)
    out.close()


def decoded_sound(path) -> np.ndarray:
    with av.open(str(path)) as c:
        return np.concatenate([f.to_ndarray().ravel() for f in c.decode(c.streams.audio[0])])
