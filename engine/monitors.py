"""Live monitors of what leaves the pipeline: is the pulse still there, is the identity gone?

* ``RppgMonitor`` gets, per frame, the mean skin colour of the primary face in the raw and the
  protected crop, and every ``interval`` seconds reads HR (POS and CHROM), SNR and signal
  quality from the last ``window`` seconds of each stream ("warming up" until ``warmup``
  seconds are buffered).
* ``IdentityMonitor`` enrols the user's face from the raw stream (mean of the first
  ``enrol_count`` dlib descriptors) and then measures, for the outgoing frames, the distance to
  that enrolment and whether dlib would match it (distance < 0.6).
* ``MonitorWorker`` runs the identity monitor off the frame loop, on a background thread.
"""
from __future__ import annotations

import queue
import threading
from collections import deque
from dataclasses import dataclass

import numpy as np

from .identity import FaceEmbedder
from .rppg import METHODS
from .signals import heart_rate, quality, resample_uniform, snr_db


@dataclass(frozen=True)
class RppgReading:
    """One HR reading of both streams (``None`` values while warming up)."""

    t: float
    warming_up: bool
    hr_raw: dict[str, float]
    hr_protected: dict[str, float]
    snr_raw: float | None = None
    snr_protected: float | None = None
    quality_raw: float | None = None
    quality_protected: float | None = None
    bvp_raw: np.ndarray | None = None
    bvp_protected: np.ndarray | None = None


class RppgMonitor:
    """HR of the raw and the protected stream from skin-pixel colour means."""

    def __init__(self, fs: float = 30.0, window: float = 10.0, interval: float = 1.0, warmup: float = 6.0, gap_reset: float = 1.0) -> None:
        self.fs, self.window, self.interval, self.warmup, self.gap_reset = fs, window, interval, warmup, gap_reset
        self._t: deque[float] = deque()
        self._raw: deque[np.ndarray] = deque()
        self._prot: deque[np.ndarray] = deque()
        self._next = 0.0
        self._track: int | None = None
        self.readings: list[RppgReading] = []

    def reset(self) -> None:
        self._t.clear()
        self._raw.clear()
        self._prot.clear()

    def add(self, t: float, track_id: int, raw_crop: np.ndarray, out_crop: np.ndarray, skin: np.ndarray) -> RppgReading | None:
        """Add one frame's crops (float32 RGB) of the primary face; returns a reading when due."""
        if track_id != self._track or (self._t and t - self._t[-1] > self.gap_reset):
            self.reset()
            self._track = track_id
        if not skin.any():
            return None
        self._t.append(t)
        self._raw.append(raw_crop[skin].mean(0))
        self._prot.append(out_crop[skin].mean(0))
        while self._t and t - self._t[0] > self.window:
            self._t.popleft()
            self._raw.popleft()
            self._prot.popleft()
        if t < self._next:
            return None
        self._next = t + self.interval
        reading = self._read(t)
        self.readings.append(reading)
        return reading

    def _read(self, t: float) -> RppgReading:
        span = self._t[-1] - self._t[0] if self._t else 0.0
        if span < self.warmup:
            return RppgReading(t, True, {}, {})
        times = np.array(self._t)
        raw = resample_uniform(times, np.array(self._raw), self.fs)
        prot = resample_uniform(times, np.array(self._prot), self.fs)
        hr_raw, hr_prot = {}, {}
        bvp = {}
        for name, method in METHODS.items():
            for key, rgb, out in (("raw", raw, hr_raw), ("prot", prot, hr_prot)):
                sig = method(rgb, self.fs)
                bvp[key, name] = sig
                out[name] = heart_rate(sig, self.fs)
        snr_r = snr_db(bvp["raw", "pos"], self.fs, hr_raw["pos"])
        snr_p = snr_db(bvp["prot", "pos"], self.fs, hr_prot["pos"])
        return RppgReading(t, False, hr_raw, hr_prot, snr_r, snr_p, quality(snr_r), quality(snr_p), bvp["raw", "pos"], bvp["prot", "pos"])


@dataclass(frozen=True)
class IdentityReading:
    """Distance of one outgoing face to the enrolled user (``None`` while enrolling)."""

    t: float
    enrolled: bool
    distance: float | None
    match: bool | None
    threshold: float


class IdentityMonitor:
    """Enrol from raw frames, then score protected frames against the enrolment."""

    def __init__(self, embedder: FaceEmbedder | None = None, enrol_count: int = 3, enrolment: np.ndarray | None = None) -> None:
        self.embedder = embedder or FaceEmbedder()
        self.enrol_count = enrol_count
        self._enrol: list[np.ndarray] = []
        self.enrolment = enrolment
        self.readings: list[IdentityReading] = []

    def measure(self, t: float, raw: np.ndarray, out: np.ndarray, box: tuple[int, int, int, int]) -> IdentityReading:
        """Use ``raw`` (uint8 RGB frame) to enrol until enrolled, then score ``out`` in ``box``."""
        if self.enrolment is None:
            self._enrol.append(self.embedder.describe(raw, box))
            if len(self._enrol) >= self.enrol_count:
                self.enrolment = np.mean(self._enrol, axis=0)
            reading = IdentityReading(t, False, None, None, self.embedder.threshold)
        else:
            d = float(np.linalg.norm(self.embedder.describe(out, box) - self.enrolment))
            reading = IdentityReading(t, True, d, d < self.embedder.threshold, self.embedder.threshold)
        self.readings.append(reading)
        return reading


class MonitorWorker(threading.Thread):
    """Runs ``IdentityMonitor.measure`` jobs on a background thread.

    ``blocking=False`` (live): a job offered while the worker is busy is skipped, so the frame
    loop never waits. ``blocking=True`` (offline files): every offered job is measured.
    """

    def __init__(self, monitor: IdentityMonitor, blocking: bool) -> None:
        super().__init__(name="vcam-identity", daemon=True)
        self.monitor = monitor
        self.blocking = blocking
        self._jobs: queue.Queue = queue.Queue(maxsize=1)
        self.latest: IdentityReading | None = None
        self.error: BaseException | None = None

    def offer(self, t: float, raw: np.ndarray, out: np.ndarray, box: tuple[int, int, int, int]) -> bool:
        try:
            self._jobs.put((t, raw, out, box), block=self.blocking)
            return True
        except queue.Full:
            return False

    def run(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                self.latest = self.monitor.measure(*job)
            except BaseException as exc:  # reported by the pipeline, the loop goes on
                self.error = exc
            finally:
                self._jobs.task_done()

    def finish(self) -> None:
        """Measure what is queued, then stop."""
        self._jobs.put(None)
        self.join()
