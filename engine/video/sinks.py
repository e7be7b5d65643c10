"""Sinks: where protected frames go. Contract: ``send(image)`` takes uint8 (H, W, 3) RGB; it
raises ``SinkError`` if the output fails. ``close()`` flushes everything (a video file is
complete after it, also after Ctrl-C).

* ``VirtualCamSink``: pyvirtualcam (v4l2loopback on Linux, OBS on Windows/macOS); frames are
  letterboxed to the device size; each driver error becomes one actionable line; on Linux
  ``viewers`` counts the programs showing it.
* ``VideoFileSink``: H.264 (libx264, yuv420p) via PyAV, encoded on a writer thread.
* ``NullSink``: discards frames (benchmarks, monitoring only).
The preview window is a Qt sink in ``vcam.app.preview``.
"""

from __future__ import annotations

import contextlib
import gc
import queue
import sys
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vcam.engine.errors import SinkError
from vcam.engine.video.audio_copy import AudioCopy
from vcam.engine.video.viewers import ViewerWatch


class Sink(ABC):
    """Where protected frames go. ``paced``: a live device whose viewer expects frames at a steady
    rate (the pipeline repeats the last frame rather than let it wait; never true for files)."""

    name = "sink"
    paced = False

    @abstractmethod
    def send(self, image: np.ndarray) -> None: ...

    @property
    def viewers(self) -> int | None:
        """How many other programs show this output now; None if unknown (files, previews,
        non-Linux virtual cameras), which never lets the pipeline idle."""
        return None

    def close(self) -> None:
        """Flush and release the output."""

    def __enter__(self) -> Sink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class NullSink(Sink):
    name = "null"

    def __init__(self) -> None:
        self.frames = 0

    def send(self, image: np.ndarray) -> None:
        self.frames += 1


def letterbox(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize ``image`` into ``width`` x ``height`` keeping its aspect, black bars around."""
    h, w = image.shape[:2]
    if (w, h) == (width, height):
        return image
    k = min(width / w, height / h)
    nw, nh = max(1, round(w * k)), max(1, round(h * k))
    resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR)
    out = np.zeros((height, width, 3), np.uint8)
    y0, x0 = (height - nh) // 2, (width - nw) // 2
    out[y0 : y0 + nh, x0 : x0 + nw] = resized
    return out


VIRTUALCAM_HINTS = (
    (
        "No v4l2 loopback device found",
        "no virtual camera device: load the kernel module with "
        "'sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label=deid-vcam' (vcam-run --setup-linux sets it up for good)",
    ),
    ("does not exist", "virtual camera device {device} does not exist: check 'v4l2-ctl --list-devices' or load v4l2loopback with video_nr=<N>"),
    ("not a v4l2loopback device", "{device} is a real camera, not a v4l2loopback device: pick the loopback device with --vcam-device"),
    ("permission", "no permission to open the virtual camera: add your user to the 'video' group (sudo usermod -aG video $USER) and log in again"),
    ("in use", "the virtual camera {device} is busy in another program: close it, or load v4l2loopback with devices=2 and pick the other one"),
    ("OBS Virtual Camera is not installed", "OBS Virtual Camera is not installed: install OBS Studio 30+ and start its virtual camera once"),
    ("Unity Capture", "Unity Capture is not installed: install it or use --vcam-backend obs"),
)


def virtualcam_error(message: str, device: str | None) -> str:
    """The actionable one-line hint for a pyvirtualcam/driver error message."""
    low = message.lower()
    for needle, hint in VIRTUALCAM_HINTS:
        if needle.lower() in low:
            return hint.format(device=device or "device")
    return f"virtual camera unavailable: {message.splitlines()[0]}"


@contextlib.contextmanager
def _quiet_partial_camera() -> Iterator[None]:
    """pyvirtualcam's ``Camera.__del__`` prints a traceback when ``__init__`` failed; hide it."""
    previous = sys.unraisablehook

    def hook(unraisable: Any) -> None:
        if not isinstance(getattr(unraisable, "exc_value", None), AttributeError):
            previous(unraisable)

    sys.unraisablehook = hook
    try:
        yield
    finally:
        gc.collect()
        sys.unraisablehook = previous


class VirtualCamSink(Sink):
    """A virtual webcam that Zoom/Teams/Meet/browsers list like a real one."""

    name = "virtualcam"
    paced = True

    def __init__(self, width: int = 1280, height: int = 720, fps: float = 30.0, device: str | None = None, backend: str | None = None) -> None:
        import pyvirtualcam

        self.width, self.height = width, height
        message = None
        with _quiet_partial_camera():
            try:
                self.cam = pyvirtualcam.Camera(width, height, fps, fmt=pyvirtualcam.PixelFormat.RGB, device=device, backend=backend)
            except KeyError:
                message = f"virtual camera backend {backend!r} does not exist on this platform"
            except (RuntimeError, ValueError) as exc:
                message = virtualcam_error(str(exc), device)
        if message:
            raise SinkError(message)
        self.device = self.cam.device
        self._watch = ViewerWatch(self.device) if sys.platform == "linux" and self.device.startswith("/dev/") else None

    @property
    def viewers(self) -> int | None:
        """Processes holding the loopback device open (the meeting apps showing it)."""
        return self._watch.viewers if self._watch else None

    def send(self, image: np.ndarray) -> None:
        self.cam.send(letterbox(image, self.width, self.height))

    def close(self) -> None:
        if self._watch:
            self._watch.close()
        self.cam.close()


# MP4/MOV written as fragments of at most a second after an empty header: a file cut off by a
# kill or a power loss still plays up to its last whole fragment.
FRAGMENTED = {"movflags": "frag_keyframe+empty_moov+default_base_moof", "frag_duration": "1000000", "flush_packets": "1"}
# With copied sound the header waits for the first fragment, so it can hold the audio encoder's
# priming (an edit list): the sound then decodes to the source's samples exactly.
FRAGMENTED_WITH_AUDIO = {**FRAGMENTED, "movflags": "frag_keyframe+delay_moov+default_base_moof"}


class VideoFileSink(Sink):
    """H.264 MP4 (or any container PyAV knows by the suffix) written on a background thread; MP4
    and MOV are fragmented (``FRAGMENTED``). The file is opened when the sink is made, so an
    unwritable path fails before the first frame. With ``audio_from`` (the source video file, when
    every one of its frames is sent) its sound is copied in unchanged, kept in step with the frames
    sent, and cut where they end."""

    name = "file"

    def __init__(self, path: str | Path, fps: float = 30.0, crf: int = 18, audio_from: Path | None = None) -> None:
        import av

        self.path = Path(path)
        try:
            if self.path.is_dir():
                raise SinkError(f"cannot write {self.path}: it is a folder")
            if not self.path.parent.is_dir():
                raise SinkError(f"cannot write {self.path}: folder {self.path.parent} does not exist")
            self._created = not self.path.exists()
            with open(self.path, "ab"):  # the muxer opens (and truncates) the file only at its first packet
                pass
        except OSError as exc:
            raise SinkError(f"cannot write {self.path}: {exc.strerror or exc}") from None
        fragmented = FRAGMENTED if audio_from is None else FRAGMENTED_WITH_AUDIO
        options = fragmented if self.path.suffix.lower() in (".mp4", ".mov") else {}
        try:
            self._container = av.open(str(self.path), mode="w", options=options)
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            raise SinkError(f"cannot write {self.path}: {exc}") from None
        self.fps, self.crf, self._audio_from = fps, crf, audio_from
        self._stream: Any = None  # the VideoStream of av, opened at the first frame (its size)
        self._audio: AudioCopy | None = None
        self._queue: queue.Queue = queue.Queue(maxsize=8)
        self._thread = threading.Thread(target=self._write, name="vcam-writer", daemon=True)
        self._thread.start()
        self.error: BaseException | None = None
        self.frames = 0

    def _open_stream(self, width: int, height: int) -> None:
        from fractions import Fraction

        self._stream = self._container.add_stream("libx264", rate=Fraction(self.fps).limit_denominator(1001))
        self._stream.width, self._stream.height = width, height
        self._stream.pix_fmt = "yuv420p"
        self._stream.options = {"crf": str(self.crf), "preset": "veryfast"}
        if self._audio_from is not None:
            self._audio = AudioCopy.open(self._audio_from, self._container)

    def _write(self) -> None:
        import av

        try:
            written = 0
            while (image := self._queue.get()) is not None:
                for packet in self._stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                    self._container.mux(packet)
                written += 1
                if self._audio is not None:
                    self._audio.mux_until(self._container, written / self.fps)
        except BaseException as exc:  # surfaced on the next send/close
            self.error = exc
            while self._queue.get() is not None:
                pass

    def send(self, image: np.ndarray) -> None:
        if self.error is not None:
            raise SinkError(f"writing {self.path} failed: {self.error}")
        h, w = image.shape[:2]
        if self._stream is None:
            self._open_stream(w - w % 2, h - h % 2)  # yuv420p needs even sizes
        self._queue.put(np.ascontiguousarray(image[: self._stream.height, : self._stream.width]))
        self.frames += 1

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        if self._stream is not None and self.error is None:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
            if self._audio is not None:
                self._audio.mux_until(self._container, self.frames / self.fps)
        if self._audio is not None:
            self._audio.close()
        if self._stream is None:  # nothing was sent: no empty file left behind, an older one kept
            if self._created:
                self.path.unlink(missing_ok=True)
            return
        self._container.close()
        if self.error is not None:
            raise SinkError(f"writing {self.path} failed: {self.error}")


def open_sink(
    spec: str,
    fps: float = 30.0,
    width: int = 1280,
    height: int = 720,
    device: str | None = None,
    backend: str | None = None,
    audio_from: Path | None = None,
) -> Sink:
    """``spec``: ``virtualcam``, ``null``, or an output video path (``.mp4``, ``.mkv``, ...), which
    gets the sound of ``audio_from`` if given. ``preview`` is built by the app layer (it needs Qt)."""
    if spec == "virtualcam":
        return VirtualCamSink(width, height, fps, device, backend)
    if spec == "null":
        return NullSink()
    if Path(spec).suffix.lower() not in (".mp4", ".mkv", ".mov", ".avi"):
        raise SinkError(f"unknown sink {spec!r}: use virtualcam, null, preview or a video path ending in .mp4/.mkv/.mov/.avi")
    return VideoFileSink(spec, fps, audio_from=audio_from)
