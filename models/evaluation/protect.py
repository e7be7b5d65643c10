"""Run a face filter over a clip exactly as the runtime does (``Pipeline.process``: the same
tracker, crop, streaming filter, compositing and fail-closed fallbacks), and the transport path
to a meeting app (one RGB -> I420 conversion, as the virtual camera delivers, then an H.264 round trip).

``ProtectedRun`` keeps the raw and outgoing full frames, the raw frame's first face track and
the strength each frame was filtered at; ``crops()`` cuts both with that same track, so crop
metrics compare like with like.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import av
import cv2
import numpy as np

from vcam.engine.crop import crop_face
from vcam.engine.face_regions import face_box
from vcam.engine.filters import FaceFilter, OffFilter
from vcam.engine.frames import FaceTrack, Frame
from vcam.engine.monitors import IdentityMonitor
from vcam.engine.pipeline import Analysis, Pipeline, PipelineConfig
from vcam.engine.recognisers import DlibRecogniser
from vcam.engine.video.sinks import NullSink
from vcam.engine.video.sources import ArraySource

from .clips import EvalClip


@dataclass
class ProtectedRun:
    raw: list[np.ndarray]
    out: list[np.ndarray]
    tracks: list[FaceTrack | None]
    fallbacks: list[str | None]
    filter_ms: float  # median per frame, filter + compositing (tracking excluded)
    strengths: list[float] = field(default_factory=list)  # per frame

    @property
    def face_frames(self) -> list[int]:
        return [i for i, t in enumerate(self.tracks) if t is not None]

    def crops(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(raw crops, outgoing crops, skin masks) of the frames with a face: float32 [N, S, S, 3]."""
        faces = [(i, t) for i, t in enumerate(self.tracks) if t is not None]
        raw = np.stack([crop_face(self.raw[i], t) for i, t in faces])
        out = np.stack([crop_face(self.out[i], t) for i, t in faces])
        return raw, out, np.stack([t.skin_mask for _, t in faces])

    def with_output(self, out: list[np.ndarray]) -> ProtectedRun:
        return ProtectedRun(self.raw, out, self.tracks, self.fallbacks, self.filter_ms, self.strengths)


@dataclass(frozen=True)
class PulseSetting:
    """What the runtime does with the heart rate (``PipelineConfig.pulse``/``target_hr``)."""

    mode: str = "keep"
    target_hr: float = 72.0


KEEP_PULSE = PulseSetting()


def _pipeline(
    clip: EvalClip, face_filter: FaceFilter, strength: float = 1.0, max_faces: int = 2, auto_strength: bool = False, pulse: PulseSetting = KEEP_PULSE
) -> Pipeline:
    cfg = PipelineConfig(
        strength=strength, max_faces=max_faces, rppg=False, identity=False, auto_strength=auto_strength, pulse=pulse.mode, target_hr=pulse.target_hr
    )
    return Pipeline(ArraySource(clip.frames, clip.fps, clip.name), NullSink(), face_filter, cfg)


def track_clip(clip: EvalClip) -> list[Analysis]:
    """The runtime's tracking stage over every frame of ``clip``. It does not depend on the filter,
    so one tracking pass serves every filter's ``protect_clip``."""
    with _pipeline(clip, OffFilter()) as pipe:
        return [pipe.analyse(Frame(i, i / clip.fps, image)) for i, image in enumerate(clip.frames)]


def protect_clip(
    clip: EvalClip,
    make_filter: Callable[[], FaceFilter],
    strength: float = 1.0,
    max_faces: int = 2,
    analyses: list[Analysis] | None = None,
    auto_strength: bool = False,
    pulse: PulseSetting = KEEP_PULSE,
) -> ProtectedRun:
    """Every frame of ``clip`` through a fresh filter (fresh temporal state) and the runtime's
    frame processing; monitors off. ``analyses`` (from ``track_clip``) skips re-tracking.
    ``auto_strength``: as the runtime's, from ``strength`` up, the identity monitor (dlib, enrolled
    from the raw frames) reading the outgoing frame once per second of the clip; in-process, so
    each reading acts from the next frame on (live, a reading takes ~0.1-0.3 s more). ``pulse``: the
    heart-rate edit after the filter, as the runtime's ``--pulse``."""
    analyses = analyses if analyses is not None else track_clip(clip)
    monitor = IdentityMonitor([DlibRecogniser()]) if auto_strength else None
    every = max(1, round(clip.fps))
    outs, tracks, fallbacks, times, strengths = [], [], [], [], []
    with _pipeline(clip, make_filter(), strength, max_faces, auto_strength, pulse) as pipe:
        for i, analysis in enumerate(analyses):
            t0 = time.perf_counter()
            result = pipe.protect(analysis)
            times.append(time.perf_counter() - t0)
            strengths.append(pipe.strength)
            outs.append(result.output)
            tracks.append(analysis.tracks[0] if analysis.tracks else None)
            fallbacks.append(result.fallback)
            if monitor is not None and analysis.tracks and i % every == 0:
                reading = monitor.measure(i / clip.fps, analysis.frame.image, result.output, face_box(analysis.tracks[0]))
                pipe.auto.update(reading, strength)
    return ProtectedRun(list(clip.frames), outs, tracks, fallbacks, float(np.median(times) * 1000), strengths)


TRANSPORT = "RGB -> I420 (OpenCV, BT.601) -> libx264 -> I420 -> RGB"  # recorded with vcam-eval's results


def h264_roundtrip(frames: list[np.ndarray], fps: float, bitrate: int = 1_500_000) -> list[np.ndarray]:
    """The meeting app's view of outgoing uint8 RGB frames: one RGB -> I420 conversion (4:2:0 chroma,
    BT.601 via OpenCV; the virtual camera delivers I420), libx264 at ``bitrate`` bit/s (a typical
    720p video-call rate) on those planes, decoded and converted back to RGB. Once: converting to I420
    and back before an encoder that converts again (its own chroma filter) changes the chroma twice,
    which no camera path does, and which alone moved learned pulse readings of two adaptive-protected
    clips by 10-60 bpm while the raw ones read right."""
    h, w = frames[0].shape[:2]
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=round(fps))
        stream.width, stream.height, stream.pix_fmt, stream.bit_rate = w - w % 2, h - h % 2, "yuv420p", bitrate
        stream.options = {"preset": "veryfast", "tune": "zerolatency"}
        for image in frames:
            i420 = cv2.cvtColor(np.ascontiguousarray(image[: h - h % 2, : w - w % 2]), cv2.COLOR_RGB2YUV_I420)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(i420, format="yuv420p")))
        container.mux(stream.encode(None))
    buf.seek(0)
    with av.open(buf, "r") as container:
        decoded = [cv2.cvtColor(f.to_ndarray(format="yuv420p"), cv2.COLOR_YUV2RGB_I420) for f in container.decode(video=0)]
    return [cv2.copyMakeBorder(d, 0, h - d.shape[0], 0, w - d.shape[1], cv2.BORDER_REPLICATE) for d in decoded]


def transport(run: ProtectedRun, fps: float, bitrate: int = 1_500_000) -> ProtectedRun:
    """The outgoing frames as the meeting app receives them (I420 conversion + H.264)."""
    return run.with_output(h264_roundtrip(run.out, fps, bitrate))
