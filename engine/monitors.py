"""Live monitors of what leaves the pipeline: is the pulse still there, is the identity gone?

* ``RppgMonitor`` gets, per frame, the mean skin colour of the primary face in the raw and the
  protected crop, and every ``interval`` seconds reads HR (POS and CHROM), SNR and signal
  quality from the last ``window`` seconds of each stream ("warming up" until ``warmup``
  seconds are buffered). The ~15 ms reading can run off the frame loop (``read(*snapshot())``).
* ``IdentityMonitor`` enrols the user's face from the raw stream (mean of the first
  ``enrol_count`` descriptors of each recogniser) and then measures, for the outgoing frames, the
  first recogniser's distance to that enrolment and whether each recogniser would match it. The
  pipeline puts a recogniser the active filter never used first (``live_recognisers``), so the
  monitor does not grade a filter with the networks it attacks; ``unseen`` names those.
* ``IdentityWorker`` runs the identity monitor off the frame loop, in a child process.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import queue
import time
from collections import deque
from dataclasses import dataclass, replace

import numpy as np

from .identity import Embedder
from .recognisers import RECOGNISERS, live_recognisers
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

    def add(self, t: float, track_id: int, raw_crop: np.ndarray, out_crop: np.ndarray, skin: np.ndarray) -> bool:
        """Add one frame's crops (float32 RGB) of the primary face (cheap: two masked means).
        Returns True when a reading is due; compute it with ``read()`` (possibly on another
        thread: ``read(*snapshot())``)."""
        if track_id != self._track or (self._t and t - self._t[-1] > self.gap_reset):
            self.reset()
            self._track = track_id
        if not skin.any():
            return False
        self._t.append(t)
        self._raw.append(raw_crop[skin].mean(0))
        self._prot.append(out_crop[skin].mean(0))
        while self._t and t - self._t[0] > self.window:
            self._t.popleft()
            self._raw.popleft()
            self._prot.popleft()
        if t < self._next:
            return False
        self._next = t + self.interval
        return True

    def snapshot(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Copies of the buffered (times, raw RGB means, protected RGB means)."""
        return np.array(self._t), np.array(self._raw), np.array(self._prot)

    def read(self, times: np.ndarray | None = None, raw: np.ndarray | None = None, prot: np.ndarray | None = None) -> RppgReading:
        """HR/SNR/quality of both streams from a snapshot (default: the current buffers);
        appends the reading, without its waveforms (hours-long sessions), to ``readings``."""
        if times is None:
            times, raw, prot = self.snapshot()
        reading = self._compute(times, raw, prot)
        self.readings.append(replace(reading, bvp_raw=None, bvp_protected=None))
        return reading

    def _compute(self, times: np.ndarray, raw_rgb: np.ndarray, prot_rgb: np.ndarray) -> RppgReading:
        t = float(times[-1]) if len(times) else 0.0
        if len(times) < 2 or times[-1] - times[0] < self.warmup:
            return RppgReading(t, True, {}, {})
        raw = resample_uniform(times, raw_rgb, self.fs)
        prot = resample_uniform(times, prot_rgb, self.fs)
        hr_raw: dict[str, float] = {}
        hr_prot: dict[str, float] = {}
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
    """One outgoing face against the enrolled user (``None`` values while enrolling): the first
    recogniser's distance and threshold (the gauge), and per recogniser whether it would match;
    ``match`` is True when any of them would, ``unseen_match`` when any of the ``unseen`` ones
    (recognisers the active filter never used) would."""

    t: float
    enrolled: bool
    distance: float | None
    match: bool | None
    threshold: float
    matches: dict[str, bool] | None = None
    unseen: tuple[str, ...] = ()

    @property
    def unseen_match(self) -> bool | None:
        return None if self.matches is None else any(self.matches[n] for n in self.unseen)


class IdentityMonitor:
    """Enrol from raw frames, then score protected frames against the enrolment, with every
    recogniser in ``embedders`` (the first one drives ``distance``); ``unseen`` names those the
    active filter never used."""

    def __init__(self, embedders: list[Embedder], enrol_count: int = 3, unseen: tuple[str, ...] = ()) -> None:
        self.embedders = embedders
        self.enrol_count = enrol_count
        self.unseen = unseen
        self._enrol: list[dict[str, np.ndarray]] = []
        self.enrolment: dict[str, np.ndarray] | None = None

    def measure(self, t: float, raw: np.ndarray, out: np.ndarray, box: tuple[int, int, int, int]) -> IdentityReading:
        """Use ``raw`` (uint8 RGB frame) to enrol until enrolled, then score ``out`` in ``box``."""
        first = self.embedders[0]
        if self.enrolment is None:
            self._enrol.append({e.name: e.describe(raw, box) for e in self.embedders})
            if len(self._enrol) >= self.enrol_count:
                self.enrolment = {e.name: np.mean([d[e.name] for d in self._enrol], axis=0) for e in self.embedders}
            return IdentityReading(t, False, None, None, first.threshold, unseen=self.unseen)
        dist = {e.name: e.distance(e.describe(out, box), self.enrolment[e.name]) for e in self.embedders}
        matches = {e.name: dist[e.name] < e.threshold for e in self.embedders}
        return IdentityReading(t, True, dist[first.name], any(matches.values()), first.threshold, matches, self.unseen)


def _identity_process(jobs: "mp.Queue", results: "mp.Queue", enrol_count: int) -> None:
    """Child process: measure jobs until ``None``; errors are reported, not raised. A job names the
    active filter's seen recognisers; when they change (the user switched filters) the monitor
    starts over with ``live_recognisers`` of the new set (loaded recognisers are kept). Runs at a
    lower CPU priority: a late identity reading costs nothing, a late frame does."""
    if hasattr(os, "nice"):
        os.nice(10)
    loaded: dict[str, Embedder] = {}
    monitor, current = None, None
    while (job := jobs.get()) is not None:
        try:
            *measurement, seen = job
            if monitor is None or seen != current:
                names = live_recognisers(seen)
                for name in names:
                    loaded[name] = loaded.get(name) or RECOGNISERS[name]()
                monitor, current = IdentityMonitor([loaded[n] for n in names], enrol_count, tuple(n for n in names if n not in seen)), seen
            results.put(monitor.measure(*measurement))
        except Exception as exc:  # reported to the parent; the loop goes on
            results.put(f"{type(exc).__name__}: {exc}")


class IdentityWorker:
    """Runs an ``IdentityMonitor`` with ``recognisers`` (names in ``RECOGNISERS``) in a child
    process: dlib holds the GIL for ~100 ms per descriptor, which would stall every pipeline
    thread if it ran in-process.

    ``blocking=False`` (live): a job offered while the worker is busy is skipped, so the frame
    loop never waits. ``blocking=True`` (offline files): every offered job is measured.
    Only a region around the face (``margin`` x its size) of each frame is sent, with the
    recognisers the active filter used (``seen``): the worker runs ``live_recognisers(seen)``.
    """

    def __init__(self, blocking: bool, enrol_count: int = 3, margin: float = 0.5) -> None:
        ctx = mp.get_context("spawn")  # never fork a process that runs MediaPipe threads
        self.blocking, self.margin = blocking, margin
        self._jobs = ctx.Queue(maxsize=1)
        self._results = ctx.Queue()
        self._proc = ctx.Process(target=_identity_process, args=(self._jobs, self._results, enrol_count), name="vcam-identity", daemon=True)
        self._proc.start()
        self.readings: list[IdentityReading] = []
        self.errors: list[str] = []
        self.latest: IdentityReading | None = None

    def offer(self, t: float, raw: np.ndarray, out: np.ndarray, box: tuple[int, int, int, int], seen: frozenset[str] = frozenset()) -> bool:
        """Queue one measurement of ``out`` (and ``raw``, while enrolling) in ``box``, for a filter
        that used the recognisers ``seen``."""
        self.poll()
        x0, y0, x1, y1 = box
        m = int(self.margin * max(x1 - x0, y1 - y0))
        h, w = raw.shape[:2]
        rx0, ry0, rx1, ry1 = max(x0 - m, 0), max(y0 - m, 0), min(x1 + m, w), min(y1 + m, h)
        job = (t, raw[ry0:ry1, rx0:rx1].copy(), out[ry0:ry1, rx0:rx1].copy(), (x0 - rx0, y0 - ry0, x1 - rx0, y1 - ry0), seen)
        try:
            self._jobs.put(job, block=self.blocking)
            return True
        except queue.Full:
            return False

    def poll(self) -> IdentityReading | None:
        """Collect finished readings; returns the newest."""
        while True:
            try:
                item = self._results.get_nowait()
            except queue.Empty:
                return self.latest
            if isinstance(item, str):
                self.errors.append(item)
            else:
                self.readings.append(item)
                self.latest = item

    def finish(self, timeout: float = 60.0) -> None:
        """Measure what is queued, collect it, stop the process."""
        self._jobs.put(None)
        deadline = time.monotonic() + timeout
        while self._proc.is_alive() and time.monotonic() < deadline:
            self.poll()
            self._proc.join(0.05)
        self.poll()
        if self._proc.is_alive():
            self._proc.terminate()
