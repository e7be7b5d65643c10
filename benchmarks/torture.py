"""Torture run of the live pipeline on a real face, as JSON + a table: does a raw face ever reach the
sink, does the output ever stall, do the outputs survive?

    python benchmarks/torture.py [--filter adaptive] [--seconds 8] [--only NAME ...] [--json]

Every scenario is built from the real EVM face video (../shared/data; test data, the product never
reads it) and runs through the whole pipeline in real time (paced at 30 fps, monitors on) into an
H.264 file: the face enters and leaves, two faces, a hand-like shape sweeping over the face, fast
motion (3x), a lighting step, a strong (simulated) profile, the camera unplugged for 1.5 s, both
cores busy with another process, a filter slower than the frame budget, and a filter that raises.
Per scenario: ``raw_face_frames`` (output frames in which a face that an independent detector finds
in the raw frame reached the sink unprotected: for a filter that replaces the face, its fine detail
kept, ``models.evaluation.fidelity.raw_detail`` >= 0.3; for a cloak, which keeps the face's look on
purpose, the face oval left unchanged, PSNR >= 45 dB against the raw; must be 0), ``max_stall_ms`` (the longest gap between two frames reaching the sink),
``fallback_frames``, ``placeholder_frames`` (black frames while the camera was gone), ``error``
and ``playable_frames`` (frames decoded back from the written file; must equal ``frames``).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np

from vcam.engine.errors import SourceError
from vcam.engine.face_regions import face_oval_mask
from vcam.engine.filters import BlurFilter, FaceFilter, make_filter
from vcam.engine.frames import FaceTrack
from vcam.engine.pipeline import Pipeline, PipelineConfig
from vcam.engine.tracking import FaceTracker
from vcam.engine.video.sinks import VideoFileSink
from vcam.engine.video.sources import ArraySource
from vcam.models.evaluation.fidelity import raw_detail

from table import emit

VIDEO = Path(__file__).resolve().parents[2] / "shared" / "data" / "video" / "evm" / "face.mp4"
LEAK = 0.3
UNCHANGED_DB = 45.0


def leaked(raw: np.ndarray, out: np.ndarray, track: FaceTrack, cloak: bool) -> bool:
    """Did the raw face in ``track`` reach ``out`` unprotected?"""
    if not cloak:
        return raw_detail(raw, out, track) >= LEAK
    inside = face_oval_mask(track.landmarks, raw.shape[:2]) > 0
    mse = float(np.mean((raw[inside].astype(np.float32) - out[inside]) ** 2))
    return mse == 0 or 10 * np.log10(255**2 / mse) >= UNCHANGED_DB


def evm_frames(seconds: float) -> list[np.ndarray]:
    cap, frames = cv2.VideoCapture(str(VIDEO)), []
    while len(frames) < seconds * 30 and (ok := cap.read())[0]:
        frames.append(cv2.cvtColor(ok[1], cv2.COLOR_BGR2RGB))
    cap.release()
    return frames


def shifted(frame: np.ndarray, dx: float, dy: float = 0.0) -> np.ndarray:
    return cv2.warpAffine(frame, np.float32([[1, 0, dx], [0, 1, dy]]), frame.shape[1::-1], borderMode=cv2.BORDER_REPLICATE)


def enter_leave(frames: list[np.ndarray]) -> list[np.ndarray]:
    """The face slides out of the picture (empty room for a second) and back in."""
    w, n = frames[0].shape[1], len(frames)
    out = []
    for i, f in enumerate(frames):
        phase = i / n
        dx = 0.0 if phase < 0.3 or phase > 0.8 else w * min(1.0, 4 * min(phase - 0.3, 0.8 - phase))
        out.append(shifted(f, dx) if dx < w else np.full_like(f, int(f.mean())))
    return out


def two_faces(frames: list[np.ndarray]) -> list[np.ndarray]:
    return [np.hstack([f, f[:, ::-1]]) for f in frames]


def occluded(frames: list[np.ndarray]) -> list[np.ndarray]:
    """A skin-coloured ellipse (a hand) sweeps across the face in the middle third."""
    h, w = frames[0].shape[:2]
    out = []
    for i, f in enumerate(frames):
        g = f.copy()
        t = (i / len(frames) - 1 / 3) * 3
        if 0 <= t <= 1:
            cv2.ellipse(g, (int(w * (0.1 + 0.8 * t)), h // 2), (w // 7, h // 4), 20, 0, 360, (196, 150, 120), -1)
        out.append(g)
    return out


def fast_motion(frames: list[np.ndarray]) -> list[np.ndarray]:
    w = frames[0].shape[1]
    return [shifted(f, 0.15 * w * np.sin(2 * np.pi * 1.5 * i / 30), 0.05 * w * np.cos(2 * np.pi * 1.5 * i / 30)) for i, f in enumerate(frames)]


def lighting_step(frames: list[np.ndarray]) -> list[np.ndarray]:
    return [f if i < len(frames) // 2 else (f * 0.45).astype(np.uint8) for i, f in enumerate(frames)]


def profile(frames: list[np.ndarray]) -> list[np.ndarray]:
    """A strong yaw, simulated by a perspective warp that foreshortens one side of the face."""
    h, w = frames[0].shape[:2]
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = np.float32([[0.25 * w, 0.1 * h], [0.75 * w, 0], [0.75 * w, h], [0.25 * w, 0.9 * h]])
    m = cv2.getPerspectiveTransform(src, dst)
    return [cv2.warpPerspective(f, m, (w, h), borderMode=cv2.BORDER_REPLICATE) for f in frames]


class UnpluggedCamera(ArraySource):
    """A live source (paced at 30 fps, as a camera) whose camera disappears after a third of the
    frames and is back 1.5 s later."""

    live = True

    def __init__(self, frames: list[np.ndarray]) -> None:
        super().__init__(frames, 30.0, "camera (scripted)")
        self._gone_at, self._back_at, self._due = len(frames) // 3, None, time.monotonic()

    def read(self) -> np.ndarray | None:
        self._due = max(self._due + 1 / self.fps, time.monotonic())
        time.sleep(max(0.0, self._due - time.monotonic()))
        if self._next == self._gone_at and self._back_at is None:
            self._back_at = time.monotonic() + 1.5
            raise SourceError("camera 0 stopped delivering frames (unplugged or taken by another app)")
        return super().read()

    def resume(self) -> None:
        if self._back_at is not None and time.monotonic() < self._back_at:
            raise SourceError("no camera at 0")
        self._gone_at = -1


class SlowFilter(BlurFilter):
    def process(self, crop: np.ndarray, track_id: int, strength: float = 1.0, landmarks: np.ndarray | None = None) -> np.ndarray:
        time.sleep(0.12)
        return super().process(crop, track_id, strength, landmarks)


class FailingFilter(BlurFilter):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def process(self, crop: np.ndarray, track_id: int, strength: float = 1.0, landmarks: np.ndarray | None = None) -> np.ndarray:
        self.calls += 1
        if self.calls % 10 == 0:
            raise RuntimeError("inference failed")
        return super().process(crop, track_id, strength, landmarks)


def _burn(stop: mp.Event) -> None:  # CPU stress: a busy loop per core
    while not stop.is_set():
        sum(i * i for i in range(10_000))


@dataclass
class Scenario:
    name: str
    frames: Callable[[list[np.ndarray]], list[np.ndarray]] = lambda f: f
    source: Callable[[list[np.ndarray]], ArraySource] = lambda f: ArraySource(f, 30.0, "evm")
    face_filter: Callable[[str], FaceFilter] | None = None
    stress: bool = False


SCENARIOS = [
    Scenario("baseline"),
    Scenario("enter_leave", enter_leave),
    Scenario("two_faces", two_faces),
    Scenario("occlusion", occluded),
    Scenario("fast_motion_3x", fast_motion),
    Scenario("lighting_step", lighting_step),
    Scenario("profile_simulated", profile),
    Scenario("camera_unplug", source=UnpluggedCamera),
    Scenario("cpu_stress", stress=True),
    Scenario("slow_filter", face_filter=lambda _: SlowFilter()),
    Scenario("filter_exception", face_filter=lambda _: FailingFilter()),
]


class TimedSink(VideoFileSink):
    """A stand-in for the virtual camera (paced: the pipeline repeats the last frame rather than
    let it wait) that writes a file and remembers what it was sent and when."""

    paced = True

    def __init__(self, path: Path) -> None:
        super().__init__(path, 30.0)
        self.sent = 0
        self.times: list[float] = []

    def send(self, image: np.ndarray) -> None:
        self.times.append(time.monotonic())
        self.sent += 1
        super().send(image)


def run(scenario: Scenario, base: list[np.ndarray], filter_name: str, folder: Path) -> dict:
    frames = scenario.frames(base)
    sink = TimedSink(folder / f"{scenario.name}.mp4")
    face_filter = scenario.face_filter(filter_name) if scenario.face_filter else make_filter(filter_name)
    stop = mp.get_context("spawn").Event()
    burners = [mp.get_context("spawn").Process(target=_burn, args=(stop,), daemon=True) for _ in range(2 if scenario.stress else 0)]
    for b in burners:
        b.start()
    pairs: list[tuple[np.ndarray, np.ndarray]] = []  # (raw, output) of every processed frame
    error = None
    summary: dict = {}
    try:
        with Pipeline(scenario.source(frames), sink, face_filter, PipelineConfig(realtime=True)) as pipe:
            summary = pipe.run(on_frame=lambda r: pairs.append((r.frame.image, r.output)))
    except Exception as exc:  # reported per scenario: the torture goes on
        error = f"{type(exc).__name__}: {exc}"
    finally:
        stop.set()
        for b in burners:
            b.join(5)
    leaks = 0
    with FaceTracker(max_faces=2, static=True) as oracle:
        for raw, out in pairs:
            leaks += any(leaked(raw, out, t, face_filter.residual) for t in oracle.update(raw))
    try:
        with av.open(str(sink.path)) as c:
            playable = sum(1 for _ in c.decode(video=0))
    except (av.error.FFmpegError, OSError):
        playable = 0
    gaps = np.diff(sink.times) * 1000 if len(sink.times) > 1 else np.zeros(1)
    return {
        "frames": sink.sent,
        "repeated_frames": summary.get("repeated_frames"),
        "raw_face_frames": int(leaks),
        "max_stall_ms": round(float(gaps.max()), 1),
        "p99_gap_ms": round(float(np.percentile(gaps, 99)), 1),
        "fallback_frames": sum((summary.get("fallback_frames") or {}).values()),
        "dropped_frames": summary.get("dropped_frames"),
        "placeholder_frames": summary.get("placeholder_frames"),
        "error": error,
        "playable_frames": playable,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--filter", default="adaptive")
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--only", nargs="*", help="scenario names")
    ap.add_argument("--json", action="store_true", help="print JSON only")
    args = ap.parse_args()
    base = evm_frames(args.seconds)
    result: dict = {"filter": args.filter, "seconds": args.seconds, "scenarios": {}}
    with tempfile.TemporaryDirectory(prefix="vcam-torture-") as tmp:
        for scenario in SCENARIOS:
            if not args.only or scenario.name in args.only:
                result["scenarios"][scenario.name] = run(scenario, base, args.filter, Path(tmp))
    emit(
        result,
        result["scenarios"],
        [
            ("frames", "frames", "d"),
            ("repeated_frames", "repeated", "d"),
            ("raw_face_frames", "raw face", "d"),
            ("max_stall_ms", "max stall ms", ".1f"),
            ("p99_gap_ms", "p99 gap", ".1f"),
            ("fallback_frames", "fallback", "d"),
            ("placeholder_frames", "placeholders", "d"),
            ("playable_frames", "playable", "d"),
            ("error", "error", "s"),
        ],
        args.json,
        "scenario",
    )


if __name__ == "__main__":
    main()
