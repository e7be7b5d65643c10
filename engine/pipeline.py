"""The orchestrator: capture thread -> ring buffer -> track + crop (tracking thread) -> filter ->
composite -> sink (main thread), with the rPPG and identity monitors watching raw vs. outgoing
faces. The two processing stages run on different threads so consecutive frames overlap.

Usage::

    from vcam.engine.filters import make_filter
    from vcam.engine.pipeline import Pipeline, PipelineConfig
    from vcam.engine.video.sinks import open_sink
    from vcam.engine.video.sources import open_source

    source = open_source("demo", 640, 480, frames=300)
    with Pipeline(source, open_sink("out.mp4", source.fps), make_filter("blur")) as pipe:
        summary = pipe.run()

Fail closed: while the filter protects (anything but ``off``), no raw face reaches the sink: the
rules for faces and frames are ``fail_closed.FailClosed``'s (pixelation is the safe fallback, at
full strength), and a frame whose processing raised is pixelated whole.

Idle: while a sink that knows its viewers (the Linux virtual camera) has had none for
``idle_after_s``, the source is released (a webcam's light goes off), frames are neither tracked
nor filtered and the sink gets black frames; when an app opens the camera the source is taken
again and its first frame is processed.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import cv2
import numpy as np

from vcam.engine.background import lower_priority
from vcam.engine.compositor import paste
from vcam.engine.crop import crop_face
from vcam.engine.face_regions import face_box
from vcam.engine.fail_closed import FailClosed
from vcam.engine.filters import FaceFilter, PixelateFilter
from vcam.engine.frames import FaceTrack, Frame
from vcam.engine.metrics import RunMetrics
from vcam.engine.monitors import IdentityWorker, RppgMonitor, RppgReading
from vcam.engine.monitors.auto_strength import AutoStrength
from vcam.engine.pulse.edit import PulseEditor
from vcam.engine.tracking import FaceTracker
from vcam.engine.video.capture import CaptureThread
from vcam.engine.video.sinks import Sink
from vcam.engine.video.sources import Source

log = logging.getLogger("vcam.pipeline")


@dataclass
class PipelineConfig:
    """Run-time knobs of the pipeline (the CLI/tray config maps onto these)."""

    strength: float = 1.0
    max_faces: int = 2
    extra_faces: int = 2
    hold_s: float = 1.0
    deadline_ms: float = 200.0
    ring_size: int = 64
    realtime: bool = False
    rppg: bool = True
    identity: bool = True
    identity_interval_s: float = 1.0
    auto_strength: bool = False  # raise ``strength`` while the identity monitor still recognises the face
    idle_without_viewers: bool = True
    idle_after_s: float = 3.0
    max_gap_ms: float = 100.0  # live runs into a paced sink: the last sent frame is repeated after this gap
    pulse: str = "keep"  # keep | hide | replace the heart-rate signal of every face (after the filter)
    target_hr: float = 72.0  # bpm shown by pulse = replace
    pulse_seed: int | None = None  # fixes pulse = hide's noise (None: fresh entropy, unpredictable)


@dataclass
class Monitors:
    """What watches the raw and outgoing faces: the pulse monitor, and the maker of the identity
    worker (given ``blocking``: offline runs measure every offered face). The worker runs in a child
    process, so it is made when a run starts and finished when it ends."""

    rppg: RppgMonitor | None = None
    identity: Callable[[bool], IdentityWorker] | None = None

    @classmethod
    def standard(cls, fps: float, rppg: bool = True, identity: bool = True) -> Monitors:
        """The runtime's monitors for a source of ``fps``, each on request."""
        return cls(RppgMonitor(fs=fps) if rppg else None, (lambda blocking: IdentityWorker(blocking=blocking)) if identity else None)


@dataclass
class Analysis:
    """Output of the tracking stage: the faces of one frame and their raw crops, or the error."""

    frame: Frame
    tracks: list[FaceTrack] = field(default_factory=list)
    crops: list[np.ndarray] = field(default_factory=list)
    error: Exception | None = None
    track_ms: float = 0.0  # time spent in the tracking stage
    idle: bool = False  # not analysed: nobody watches (the frame must not be sent)


@dataclass
class FrameResult:
    """What the pipeline produced for one frame."""

    frame: Frame
    output: np.ndarray
    faces: list[FaceTrack] = field(default_factory=list)
    fallback: str | None = None


def obscure_frame(image: np.ndarray, blocks: int = 24) -> np.ndarray:
    """The whole-frame safe fallback: coarse pixelation (``blocks`` cells across)."""
    h, w = image.shape[:2]
    small = cv2.resize(image, (blocks, max(1, round(blocks * h / w))), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)


class Pipeline:
    """Runs one source through one filter into one sink, fed to ``monitors`` (default: those
    ``config.rppg`` and ``config.identity`` ask for). ``strength`` and ``auto_strength`` may change
    while running."""

    def __init__(
        self,
        source: Source,
        sink: Sink,
        face_filter: FaceFilter,
        config: PipelineConfig | None = None,
        tracker: FaceTracker | None = None,
        monitors: Monitors | None = None,
    ) -> None:
        self.source, self.sink, self.filter = source, sink, face_filter
        self.config = config or PipelineConfig()
        self.tracker = tracker or FaceTracker(max_faces=self.config.max_faces + self.config.extra_faces)
        self.fallback = PixelateFilter()
        self.pulse: PulseEditor | None = None
        self.set_pulse(self.config.pulse, self.config.target_hr)
        self.monitors = monitors or Monitors.standard(source.fps, self.config.rppg, self.config.identity)
        self.rppg = self.monitors.rppg
        self._rppg_pool = ThreadPoolExecutor(1, thread_name_prefix="vcam-rppg", initializer=lower_priority)  # readings off the frame loop
        self.metrics = RunMetrics()
        self.fail_closed = FailClosed(self.config.max_faces, self.config.hold_s)
        self._next_identity = 0.0
        self._stop = False
        self._stop_now = False
        self._worker: IdentityWorker | None = None
        self._readings_used = 0
        self._unwatched_since: float | None = None
        self._capture: CaptureThread | None = None
        self._send_lock = threading.Lock()
        self._last_out: np.ndarray | None = None  # the last frame sent while this filter was active
        self._last_sent = 0.0
        self.repeated_frames = 0
        self.idle = False
        self.auto = AutoStrength()
        self.last_rppg: RppgReading | None = None

    @property
    def strength(self) -> float:
        """The strength the filter uses now: the configured one, raised by auto strength if on."""
        return self.auto.strength(self.config.strength) if self.config.auto_strength else self.config.strength

    # -- one frame ------------------------------------------------------------------------
    def process(self, frame: Frame, late: bool = False) -> FrameResult:
        """Protect one frame (both stages). Never returns a raw face while the filter protects."""
        return self.protect(self.analyse(frame), late)

    def analyse(self, frame: Frame) -> Analysis:
        """Tracking stage: find the faces and crop them; errors are kept for ``protect``."""
        started = time.monotonic()
        try:
            tracks = self.tracker.update(frame.image)
            analysis = Analysis(frame, tracks, [crop_face(frame.image, t) for t in tracks])
        except Exception as exc:
            analysis = Analysis(frame, error=exc)
        analysis.track_ms = (time.monotonic() - started) * 1000
        return analysis

    def protect(self, analysis: Analysis, late: bool = False) -> FrameResult:
        """Filter and compositing stage; any failure obscures the whole frame."""
        frame = analysis.frame
        face_filter = self.filter  # one filter for the whole frame, even if set_filter() runs meanwhile
        protect = face_filter.protects
        try:
            if analysis.error is not None:
                raise analysis.error
            return self._protect(analysis, face_filter, late)
        except Exception as exc:
            log.warning("frame %d failed: %s", frame.index, exc, exc_info=log.isEnabledFor(logging.DEBUG))
            if not protect:
                return FrameResult(frame, frame.image, fallback=None)
            return FrameResult(frame, obscure_frame(frame.image), fallback=f"error: {type(exc).__name__}")

    def _protect(self, analysis: Analysis, face_filter: FaceFilter, late: bool) -> FrameResult:
        frame, tracks = analysis.frame, analysis.tracks
        protect = face_filter.protects
        pulse = self.pulse  # one pulse setting for the whole frame, even if set_pulse() runs meanwhile
        if self.config.auto_strength:
            self.auto.advance(frame.timestamp)
        strength = self.strength
        image = frame.image
        out = image.copy()
        fallback = None
        primary = None
        for i, (track, raw) in enumerate(zip(tracks, analysis.crops, strict=True)):
            skipped = self.fail_closed.skip_filter(protect, i, late)
            mesh = track.crop_mesh()
            crop = None
            if skipped is None:
                try:
                    crop = face_filter.process(raw, track.track_id, strength, mesh)
                except Exception as exc:
                    fallback = self.fail_closed.filter_failed(protect, exc)
                    log.warning("filter failed on track %d: %s", track.track_id, exc, exc_info=log.isEnabledFor(logging.DEBUG))
            else:
                fallback = skipped
            residual = crop is not None and (face_filter.residual or crop is raw)  # off: a pulse edit is added at full resolution
            if crop is None:
                crop = self.fallback.process(raw, track.track_id)
            if pulse is not None:
                crop = pulse.edit(crop, mesh, track.track_id, frame.timestamp)
            if crop is not raw:
                paste(out, track, crop, raw if residual else None, dither=pulse is not None)
            if i == 0:
                primary = (track, raw, crop)
        if face_filter.finish(out, tracks) and primary is not None:
            primary = (primary[0], primary[1], crop_face(out, primary[0]))  # the monitors read what is sent
        face_filter.forget({t.track_id for t in tracks})
        if pulse is not None:
            pulse.forget({t.track_id for t in tracks})
        if self.fail_closed.hide_frame(protect, frame.timestamp, len(tracks)):
            out, fallback = obscure_frame(image), "face lost"
        if primary is not None:
            self._monitor(frame, out, *primary)
        return FrameResult(frame, out, tracks, fallback)

    def _monitor(self, frame: Frame, out: np.ndarray, track: FaceTrack, raw: np.ndarray, crop: np.ndarray) -> None:
        if self.rppg is not None and self.rppg.add(frame.timestamp, track.track_id, raw, crop, track.skin_mask):
            self._rppg_pool.submit(self._read_rppg, self.rppg, *self.rppg.snapshot())
        if self._worker is not None and frame.timestamp >= self._next_identity:
            if self._worker.offer(frame.timestamp, frame.image, out, face_box(track), self.filter.recognisers):
                self._next_identity = frame.timestamp + self.config.identity_interval_s

    # -- the loop -----------------------------------------------------------------------
    def run(
        self, max_frames: int | None = None, on_second: Callable[[dict], None] | None = None, on_frame: Callable[[FrameResult], None] | None = None
    ) -> dict:
        """Process until the source ends, ``max_frames`` or ``stop()``; returns the summary."""
        capture = self._capture = CaptureThread(self.source, self.config.ring_size, self.config.realtime, max_frames)
        self._worker = self.monitors.identity(not capture.live) if self.monitors.identity else None
        capture.start()
        # Live: hand over one frame at a time (a deeper queue only adds latency).
        analysed: queue.Queue[Analysis | None] = queue.Queue(maxsize=1 if capture.live else 4)
        tracking = threading.Thread(target=self._track_loop, args=(capture, analysed), name="vcam-track", daemon=True)
        tracking.start()
        pacer = threading.Thread(target=self._pace, name="vcam-pace", daemon=True) if capture.live and self.sink.paced else None
        if pacer:
            pacer.start()
        self.metrics = RunMetrics()
        try:
            while not self._stop and (analysis := analysed.get()) is not None:
                frame = analysis.frame
                started = time.monotonic()
                self._update_idle(started)
                late = capture.live and (started - frame.captured) * 1000 > self.config.deadline_ms
                active = self.filter  # before protect() reads it: a swap meanwhile makes this frame unrepeatable
                if analysis.idle:
                    result = FrameResult(frame, np.zeros_like(frame.image))
                else:
                    result = self.protect(analysis, late)
                self._send(result.output, active)
                done = time.monotonic()
                # Live: capture -> sink. Files: processing time only (no queue waits: the
                # capture thread reads ahead of the consumer on purpose).
                latency = (done - frame.captured) * 1000 if capture.live else analysis.track_ms + (done - started) * 1000
                self.metrics.frame_done(latency, result.fallback)
                if on_frame:
                    on_frame(result)
                if self.metrics.second_due():
                    identity = self._worker.poll() if self._worker else None
                    self._follow_identity()
                    record = self.metrics.second(capture.dropped, self.last_rppg, identity, self.strength, self.sink.viewers, self.idle)
                    record["source_lost"] = capture.lost
                    if on_second:
                        on_second(record)
        finally:
            self._stop = True
            capture.stop()
            while tracking.is_alive():  # unblock the tracking thread if it waits on a full queue
                try:
                    analysed.get(timeout=0.05)
                except queue.Empty:
                    pass
            capture.join()
            if pacer:
                pacer.join()
            self._rppg_pool.shutdown(wait=True)
            if self._worker:
                self._worker.finish(timeout=0.0 if self._stop_now else 60.0)
        if capture.error is not None:
            raise capture.error
        return self.metrics.summary(
            capture.dropped,
            self.rppg.readings if self.rppg else [],
            self._worker.readings if self._worker else [],
            {
                "filter": self.filter.name,
                "strength": self.config.strength,
                "auto_strength": self.config.auto_strength,
                "source": self.source.name,
                "sink": self.sink.name,
                "placeholder_frames": capture.placeholders,
                "repeated_frames": self.repeated_frames,
                "pulse": self.config.pulse,
                **({"target_hr": self.config.target_hr} if self.config.pulse == "replace" else {}),
            },
        )

    def _update_idle(self, now: float) -> None:
        """Idle once the sink has reported no viewers for ``idle_after_s``; any viewer (or an
        unknown count) ends it."""
        was = self.idle
        if not self.config.idle_without_viewers or self.sink.viewers != 0:
            self._unwatched_since, self.idle = None, False
        else:
            if self._unwatched_since is None:
                self._unwatched_since = now
            self.idle = now - self._unwatched_since >= self.config.idle_after_s
        if self.idle != was and self._capture is not None:
            (self._capture.suspend if self.idle else self._capture.resume)()

    def _follow_identity(self) -> None:
        """Feed the identity readings that arrived since the last call to auto strength (or
        drop its boost while it is off)."""
        readings = self._worker.readings if self._worker else []
        if self.config.auto_strength:
            for reading in readings[self._readings_used :]:
                self.auto.update(reading, self.config.strength)
        else:
            self.auto.reset()
        self._readings_used = len(readings)

    def _read_rppg(self, monitor: RppgMonitor, *snapshot: np.ndarray) -> None:
        self.last_rppg = monitor.read(*snapshot)

    def _track_loop(self, capture: CaptureThread, out: queue.Queue[Analysis | None]) -> None:
        """Tracking stage thread: frames from the capture ring -> analyses for the main thread."""
        try:
            while not self._stop and (frame := capture.next_frame()) is not None:
                out.put(Analysis(frame, idle=True) if self.idle else self.analyse(frame))
        finally:
            out.put(None)

    def set_pulse(self, mode: str, target_hr: float) -> None:
        """Keep, hide or replace (with ``target_hr`` bpm) the faces' pulse from the next frame on
        (``ValueError`` for an unknown mode or a target outside the allowed range)."""
        pulse = PulseEditor(mode, target_hr, self.source.fps, seed=self.config.pulse_seed) if mode != "keep" else None
        self.config.pulse, self.config.target_hr, self.pulse = mode, target_hr, pulse

    def set_filter(self, face_filter: FaceFilter) -> None:
        """Swap the filter between frames (thread-safe: the next frame uses the new filter with
        fresh temporal state; a frame sent under the old one is never repeated)."""
        with self._send_lock:
            self.filter, self._last_out = face_filter, None

    def _send(self, image: np.ndarray, made_by: FaceFilter) -> None:
        """Send one frame; it may be repeated by ``_pace`` only while ``made_by`` is still the filter."""
        with self._send_lock:
            self.sink.send(image)
            self._last_out, self._last_sent = (image if made_by is self.filter else None), time.monotonic()

    def _pace(self) -> None:
        """Live, paced sinks: while a frame takes longer than ``max_gap_ms``, repeat the last one
        sent (it was protected by the active filter), so the viewer's picture never stalls."""
        gap = self.config.max_gap_ms / 1000
        while not self._stop:
            time.sleep(gap / 20)
            with self._send_lock:  # repeat a little early: waking and sending take a few ms
                if self._last_out is not None and time.monotonic() - self._last_sent > 0.85 * gap and not self._stop:
                    self.sink.send(self._last_out)
                    self._last_sent = time.monotonic()
                    self.repeated_frames += 1

    def stop(self, now: bool = False) -> None:
        """Ask ``run`` to finish after the current frame (thread-safe); ``now``: and not to wait
        for the identity monitor's queued readings either. Outputs are finalised either way."""
        self._stop = True
        self._stop_now = self._stop_now or now

    def close(self) -> None:
        self.tracker.close()
        self.source.close()
        self.sink.close()

    def __enter__(self) -> Pipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
