"""Video sources. Contract: ``read()`` returns the next frame as uint8 (H, W, 3) **RGB**, or
``None`` at the end of the stream; it raises ``SourceError`` on a device/decoder failure.
``timestamp(index)`` gives the frame's time in seconds; ``live`` says whether frames arrive in
real time (webcams) or can be read as fast as the consumer wants (files, the demo).
"""

from __future__ import annotations

import sys
import time
from abc import ABC, abstractmethod
from pathlib import Path

import cv2
import numpy as np

from vcam.engine.asset_files import asset
from vcam.engine.errors import SourceError
from vcam.engine.pulse.synth import SKIN_PULSE_DIRECTION, ppg_waveform


class Source(ABC):
    """A stream of RGB frames with a nominal frame rate."""

    fps: float = 30.0
    live: bool = False
    name: str = "source"

    @abstractmethod
    def read(self) -> np.ndarray | None: ...

    def timestamp(self, index: int) -> float:
        return index / self.fps

    def close(self) -> None:
        """Release the device or file."""

    def suspend(self) -> None:
        """Release the device while nobody watches (``read`` is not called until ``resume``);
        files and generated sources just pause."""

    def resume(self) -> None:
        """Take the device again after ``suspend``; raises ``SourceError`` if it is gone."""

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class VideoFileSource(Source):
    """A video file decoded with OpenCV/FFmpeg."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.name = str(self.path)
        if not self.path.is_file():
            raise SourceError(f"video file not found: {self.path}")
        self._cap = cv2.VideoCapture(str(self.path))
        ok, first = self._cap.read() if self._cap.isOpened() else (False, None)
        if not ok:
            self._cap.release()
            raise SourceError(f"cannot decode video {self.path}: not a video file or an unsupported codec")
        self._pending: np.ndarray | None = first
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 1.0 <= fps <= 240.0 else 30.0
        self.frame_count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT))

    def read(self) -> np.ndarray | None:
        if self._pending is not None:
            bgr, self._pending = self._pending, None
        else:
            ok, bgr = self._cap.read()
            if not ok:
                return None
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def close(self) -> None:
        self._cap.release()


class ArraySource(Source):
    """Frames already in memory (uint8 RGB), e.g. a decoded evaluation clip."""

    def __init__(self, frames: list[np.ndarray], fps: float = 30.0, name: str = "frames") -> None:
        self._frames, self.fps, self.name, self._next = frames, fps, name, 0

    def read(self) -> np.ndarray | None:
        if self._next >= len(self._frames):
            return None
        self._next += 1
        return self._frames[self._next - 1]


class WebcamSource(Source):
    """A camera by index or device path; requests size, fps and optionally MJPG."""

    live = True

    def __init__(self, device: int | str, width: int = 1280, height: int = 720, fps: float = 30.0, mjpg: bool = True) -> None:
        self.name = f"camera {device}"
        self._request = (device, width, height, fps, mjpg)
        self._cap = self._open()
        got = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = got if got > 0 else fps
        self._t0: float | None = None

    def _open(self) -> cv2.VideoCapture:
        device, width, height, fps, mjpg = self._request
        api = cv2.CAP_V4L2 if sys.platform.startswith("linux") else cv2.CAP_ANY
        cap = cv2.VideoCapture(device, api)
        if not cap.isOpened():
            raise SourceError(f"no camera at {device!r}: not connected, no permission (video group), or busy in another app")
        if mjpg:
            cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*"MJPG"))
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        cap.set(cv2.CAP_PROP_FPS, fps)
        return cap

    def suspend(self) -> None:
        """Close the camera (its light goes off)."""
        self._cap.release()

    def resume(self) -> None:
        self._cap = self._open()

    def read(self) -> np.ndarray | None:
        ok, bgr = self._cap.read()
        if not ok:
            raise SourceError(f"{self.name} stopped delivering frames (unplugged or taken by another app)")
        now = time.monotonic()
        self._t0 = now if self._t0 is None else self._t0
        self._last = now - self._t0
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def timestamp(self, index: int) -> float:
        return self._last

    def close(self) -> None:
        self._cap.release()


INJECTED_PULSE = 0.006  # relative amplitude of an animated photo's pulse (green): a typical rPPG strength


class AnimatedPhotoSource(Source):
    """A real face photo (uint8 RGB) made into a live-looking video with a pulse of known HR.

    Slow head motion (rotation, translation, scale; optional perspective) and lighting drift stay
    below 0.2 Hz, far from the heart-rate band, with phases drawn from ``seed``; a physiological
    pulse of mean HR ``hr_bpm`` modulates the skin pixels along the skin's blood-volume-pulse
    colour direction with relative amplitude ``amplitude`` (green channel); sensor noise is
    added before quantisation, and ``jpeg_quality`` re-encodes every frame. ``bvp`` holds the
    injected pulse, one value per frame (the ground truth).
    """

    def __init__(
        self,
        photo: np.ndarray,
        width: int = 640,
        height: int = 480,
        fps: float = 30.0,
        hr_bpm: float = 72.0,
        amplitude: float = INJECTED_PULSE,
        frames: int | None = None,
        seed: int = 0,
        motion: float = 1.0,
        perspective: float = 0.0,
        jpeg_quality: int | None = None,
        anchor: str = "centre",
        name: str = "photo",
    ) -> None:
        from vcam.engine.face_regions import skin_mask
        from vcam.engine.tracking import FaceTracker

        self.name, self.fps, self.hr_bpm, self.frames = name, fps, hr_bpm, frames
        self._size = (width, height)
        base = _fit(photo, width, height, anchor)
        with FaceTracker(max_faces=1, static=True) as tracker:
            faces = tracker.detect(base)
        if not faces:
            raise SourceError(f"{name}: no face found in the photo")
        self._centre = faces[0].mean(0)
        skin = skin_mask(faces[0], base.shape[:2]).astype(np.float32)
        skin = cv2.GaussianBlur(skin, (0, 0), max(width, height) / 200)
        base = base.astype(np.float32)
        self._pulse_img = base * (skin[..., None] * SKIN_PULSE_DIRECTION / SKIN_PULSE_DIRECTION[1])
        self.amplitude = amplitude
        self._rng = np.random.default_rng(seed)
        self._phases = self._rng.uniform(0, 2 * np.pi, 6)
        self._motion, self._perspective, self._jpeg = motion, perspective, jpeg_quality
        self.bvp = ppg_waveform(np.arange(int(fps * 600)) / fps, hr_bpm, rng=np.random.default_rng(seed))
        # Sensor noise: a bank of noisy copies of the photo, one drawn at random per frame
        # (fresh Gaussian noise for a 720p frame would cost more than the rest of the frame).
        # Drawn from the seeded generator: OpenCV's own (cv2.randn) is process-global, so the noise
        # would depend on whatever drew from it before (and its scalar sigma reached only channel 0).
        self._noisy = [base + np.float32(1.5) * self._rng.standard_normal(base.shape, dtype=np.float32) for _ in range(8)]
        self._index = 0

    def read(self) -> np.ndarray | None:
        i = self._index
        if self.frames is not None and i >= self.frames:
            return None
        self._index += 1
        t, ph, k = i / self.fps, self._phases, self._motion
        gain = 1.0 + 0.03 * np.sin(2 * np.pi * 0.05 * t + ph[0])
        noisy = self._noisy[self._rng.integers(len(self._noisy))]
        img = cv2.addWeighted(noisy, gain, self._pulse_img, self.amplitude * self.bvp[i % len(self.bvp)], 0.0)
        u8 = cv2.convertScaleAbs(img)  # rounds and saturates to uint8 (values are >= 0)
        w, h = self._size
        m = cv2.getRotationMatrix2D(
            tuple(map(float, self._centre)), k * 2.0 * np.sin(2 * np.pi * 0.13 * t + ph[1]), 1.0 + k * 0.015 * np.sin(2 * np.pi * 0.09 * t + ph[2])
        )
        m[:, 2] += (k * 0.012 * w * np.sin(2 * np.pi * 0.07 * t + ph[3]), k * 0.01 * h * np.sin(2 * np.pi * 0.11 * t + ph[4]))
        if self._perspective:
            m = np.vstack([m, [self._perspective * np.sin(2 * np.pi * 0.05 * t + ph[5]) / w, 0.0, 1.0]])
            out = cv2.warpPerspective(u8, m, self._size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        else:
            out = cv2.warpAffine(u8, m, self._size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        if self._jpeg is not None:
            ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, self._jpeg])
            out = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
        return out


def demo_photo() -> np.ndarray:
    """The demo's photo, uint8 RGB."""
    return cv2.cvtColor(cv2.imread(str(asset("demo_astronaut.png")), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


class DemoSource(AnimatedPhotoSource):
    """The built-in demo: a public-domain photo of an astronaut (``assets/demo_astronaut.png``),
    animated, 72 bpm pulse."""

    def __init__(self, width: int = 640, height: int = 480, fps: float = 30.0, hr_bpm: float = 72.0, frames: int | None = None, seed: int = 0) -> None:
        super().__init__(demo_photo(), width, height, fps, hr_bpm, frames=frames, seed=seed, anchor="top", name="demo")


def _fit(img: np.ndarray, width: int, height: int, anchor: str = "centre") -> np.ndarray:
    """Crop ``img`` to the target aspect (keeping the centre, or the ``top`` where a portrait's
    face is) and resize."""
    h, w = img.shape[:2]
    target = width / height
    if w / h > target:
        cw = int(h * target)
        x0 = (w - cw) // 2
        img = img[:, x0 : x0 + cw]
    else:
        ch = int(w / target)
        y0 = 0 if anchor == "top" else (h - ch) // 2
        img = img[y0 : y0 + ch]
    return cv2.resize(img, (width, height), interpolation=cv2.INTER_AREA if width < img.shape[1] else cv2.INTER_CUBIC)


def open_source(spec: str, width: int = 1280, height: int = 720, fps: float = 30.0, mjpg: bool = True, frames: int | None = None) -> Source:
    """``spec``: ``demo``, a camera index (``0``), a device path (``/dev/video0``) or a video file."""
    if spec == "demo":
        return DemoSource(width, height, fps, frames=frames)
    if spec.isdigit():
        return WebcamSource(int(spec), width, height, fps, mjpg)
    if spec.startswith("/dev/"):
        if not Path(spec).exists():
            raise SourceError(f"no camera device {spec}")
        return WebcamSource(spec, width, height, fps, mjpg)
    return VideoFileSource(spec)
