"""Run metrics: per-second records and the run summary written by ``--json``."""

from __future__ import annotations

import time
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from vcam.engine.monitors import IdentityReading, RppgReading


def _median(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return float(np.median(known)) if known else None


def _mean(values: Sequence[float | bool | None]) -> float | None:
    """The mean of the values that are known (enrolled readings have them all)."""
    known = [float(v) for v in values if v is not None]
    return float(np.mean(known)) if known else None


@dataclass
class RunMetrics:
    """Collects per-frame timings and monitor readings; ``second()`` closes one 1 s record."""

    start: float = field(default_factory=time.monotonic)
    frames: int = 0
    latencies_ms: array = field(default_factory=lambda: array("f"))  # 4 bytes a frame: hours-long sessions
    fallback_frames: dict[str, int] = field(default_factory=dict)
    seconds: list[dict] = field(default_factory=list)
    _sec_start: float = field(default_factory=time.monotonic)
    _sec_frames: int = 0
    _sec_lat: list[float] = field(default_factory=list)
    _sec_fallbacks: int = 0
    _first_done: float = 0.0
    _last_done: float = 0.0

    def frame_done(self, latency_ms: float, fallback: str | None) -> None:
        now = time.monotonic()
        self._first_done = self._first_done or now
        self._last_done = now
        self.frames += 1
        self._sec_frames += 1
        self.latencies_ms.append(latency_ms)
        self._sec_lat.append(latency_ms)
        if fallback:
            self.fallback_frames[fallback] = self.fallback_frames.get(fallback, 0) + 1
            self._sec_fallbacks += 1

    def second_due(self) -> bool:
        return time.monotonic() - self._sec_start >= 1.0

    def second(
        self, dropped: int, rppg: RppgReading | None, identity: IdentityReading | None, strength: float, viewers: int | None = None, idle: bool = False
    ) -> dict:
        """Close the current second; ``strength`` is the filter's strength at its end, ``viewers``
        the sink's viewer count (None: unknown), ``idle`` whether the pipeline idles for want of them."""
        now = time.monotonic()
        record = {
            "t": round(now - self.start, 3),
            "frames": self.frames,  # sent so far
            "fps": round(self._sec_frames / max(now - self._sec_start, 1e-9), 2),
            "p50_latency_ms": _median(self._sec_lat),
            "dropped_frames": dropped,
            "fallback_frames": self._sec_fallbacks,
            "strength": round(strength, 3),
            "viewers": viewers,
            "idle": idle,
            "hr_raw_bpm": rppg.hr_raw.get("pos") if rppg else None,
            "hr_protected_bpm": rppg.hr_protected.get("pos") if rppg else None,
            "rppg_quality_raw": rppg.quality_raw if rppg else None,
            "rppg_quality_protected": rppg.quality_protected if rppg else None,
            "rppg_warming_up": rppg.warming_up if rppg else True,
            "identity_distance": identity.distance if identity else None,
            "identity_match": identity.match if identity else None,
            "identity_matches": identity.matches if identity else None,
            "identity_unseen": list(identity.unseen) if identity else None,
            "identity_threshold": identity.threshold if identity else None,
        }
        self.seconds.append(record)
        self._sec_start, self._sec_frames, self._sec_lat, self._sec_fallbacks = now, 0, [], 0
        return record

    def summary(self, dropped: int, rppg: list[RppgReading], identity: list[IdentityReading], extra: dict | None = None) -> dict:
        """Whole-run figures; ``fps`` is measured from the first to the last output frame (start-up
        and shutdown excluded); HRs are medians of the per-second readings after warm-up."""
        wall = max(time.monotonic() - self.start, 1e-9)
        span = self._last_done - self._first_done
        ready = [r for r in rppg if not r.warming_up]
        scored = [r for r in identity if r.enrolled]
        lat = np.frombuffer(self.latencies_ms, dtype=np.float32) if self.latencies_ms else np.zeros(1)
        out = {
            "frames": self.frames,
            "wall_s": round(wall, 3),
            "fps": round((self.frames - 1) / span, 2) if self.frames > 1 and span > 0 else 0.0,
            "p50_latency_ms": round(float(np.percentile(lat, 50)), 2),
            "p95_latency_ms": round(float(np.percentile(lat, 95)), 2),
            "dropped_frames": dropped,
            "fallback_frames": dict(self.fallback_frames),
            "hr_raw_bpm": _median([r.hr_raw["pos"] for r in ready]),
            "hr_protected_bpm": _median([r.hr_protected["pos"] for r in ready]),
            "hr_raw_chrom_bpm": _median([r.hr_raw["chrom"] for r in ready]),
            "hr_protected_chrom_bpm": _median([r.hr_protected["chrom"] for r in ready]),
            "rppg_quality_raw": _median([r.quality_raw for r in ready]),
            "rppg_quality_protected": _median([r.quality_protected for r in ready]),
            "identity_samples": len(scored),
            "identity_distance_mean": _mean([r.distance for r in scored]),
            "identity_match_rate": _mean([r.match for r in scored]),
            "identity_match_rate_by": {n: _mean([(r.matches or {}).get(n) for r in scored]) for n in scored[0].matches or {}} if scored else None,
            "identity_match_rate_unseen": _mean([r.unseen_match for r in scored]),
            "identity_unseen_recognisers": list(scored[0].unseen) if scored else None,
            "strength_max": max((s["strength"] for s in self.seconds), default=None),
        }
        out.update(extra or {})
        return out
