"""The live pulse monitor: is the pulse still there after the filter?

``RppgMonitor`` gets, per frame, the mean skin colour of the primary face in the raw and the
protected crop, and every ``interval`` seconds reads HR (POS and CHROM), SNR and signal quality
from the last ``window`` seconds of each stream ("warming up" until ``warmup`` seconds are
buffered). A reading can run off the frame loop (``read(*snapshot())``).
"""

from collections import deque
from dataclasses import dataclass, replace

import numpy as np

from vcam.engine.pulse.rppg import METHODS
from vcam.engine.pulse.signals import heart_rate, quality, resample_uniform, snr_db


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
        if times is None or raw is None or prot is None:
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
