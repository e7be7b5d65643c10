"""Physiologically shaped blood-volume-pulse waveforms with known heart rate, and the
heart-rate-band noise that masks a pulse.

Used by the demo source (and later the semi-synthetic training set) to inject a pulse of known
HR into skin pixels. A beat is a systolic Gaussian plus a smaller, later diastolic Gaussian,
which leaves a dicrotic notch between them; HR varies slowly (respiratory sinus arrhythmia)
plus a small random walk, so the waveform is not a pure sinusoid.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from scipy import signal

from vcam.engine.pulse.signals import HR_BAND_HZ

# Relative pulsatile amplitude of skin per RGB channel (blood-volume-pulse signature of skin,
# de Haan & van Leest 2014): strongest in green, then blue, weakest in red.
SKIN_PULSE_DIRECTION = np.array([0.33, 0.77, 0.53], dtype=np.float32)


def ppg_waveform(
    t: np.ndarray,
    hr_bpm: float,
    hrv_bpm: float = 2.0,
    resp_hz: float = 0.25,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Pulse waveform sampled at times ``t`` (seconds), zero mean, peak-to-peak 1.

    The mean HR is ``hr_bpm``; ``hrv_bpm`` is the amplitude of its respiratory modulation.
    """
    t = np.asarray(t, dtype=np.float64)
    rng = rng or np.random.default_rng(0)
    dt = np.diff(t, prepend=t[0])
    walk = np.cumsum(rng.normal(0.0, 0.05, t.shape)) * np.sqrt(np.maximum(dt, 1e-6))
    inst_hz = (hr_bpm + hrv_bpm * np.sin(2 * np.pi * resp_hz * t) + np.clip(walk, -1.5, 1.5)) / 60.0
    phase = np.cumsum(inst_hz * dt)  # beats elapsed
    wave = beat(phase - np.floor(phase))
    wave -= wave.mean()
    return wave / max(np.ptp(wave), 1e-9)


def beat(u: np.ndarray | float) -> np.ndarray:
    """One beat's shape at ``u`` (position inside the beat, 0..1): systolic peak, dicrotic notch,
    diastolic wave."""
    return np.exp(-0.5 * ((np.asarray(u) - 0.2) / 0.1) ** 2) + 0.3 * np.exp(-0.5 * ((np.asarray(u) - 0.52) / 0.1) ** 2)


_BEAT = beat(np.linspace(0.0, 1.0, 1001))
_BEAT_MEAN, _BEAT_PTP = float(_BEAT.mean()), float(np.ptp(_BEAT))
PULSE_RMS = float(_BEAT.std()) / _BEAT_PTP  # RMS of a peak-to-peak 1 pulse


class PulseSynth:
    """``ppg_waveform`` one sample at a time, for a live stream: the same beat shape, mean HR
    ``hr_bpm`` with respiratory variability ``hrv_bpm`` and a slow random walk; zero mean,
    peak-to-peak 1."""

    def __init__(self, hr_bpm: float, hrv_bpm: float = 2.0, resp_hz: float = 0.25, seed: int = 0) -> None:
        self.hr_bpm, self.hrv_bpm, self.resp_hz = hr_bpm, hrv_bpm, resp_hz
        self._rng = np.random.default_rng(seed)
        self._phase, self._walk = 0.0, 0.0
        self._t: float | None = None

    def step(self, t: float) -> float:
        """The waveform at time ``t`` (seconds, increasing)."""
        dt = 0.0 if self._t is None else max(t - self._t, 0.0)
        self._t = t
        self._walk = float(np.clip(self._walk + self._rng.normal(0.0, 0.05) * np.sqrt(max(dt, 1e-6)), -1.5, 1.5))
        self._phase += (self.hr_bpm + self.hrv_bpm * np.sin(2 * np.pi * self.resp_hz * t) + self._walk) / 60.0 * dt
        return (float(beat(self._phase % 1.0)) - _BEAT_MEAN) / _BEAT_PTP


class BandNoise:
    """Gaussian noise band-limited to the heart-rate band (``HR_BAND_HZ``, causal), one sample per frame,
    with the RMS of a peak-to-peak 1 pulse (``PULSE_RMS``, so it stands in for ``PulseSynth``): over
    any 10 s its spectrum has no peak that stands out as a pulse. ``seed`` None draws from the OS's
    entropy, so nobody can predict and subtract it."""

    def __init__(self, fps: float, seed: int | tuple[int, ...] | None = None) -> None:
        self._sos, self._scale = _band_filter(fps)
        self._rng = np.random.default_rng(seed)
        # Start in the steady state, not from silence: 5 s of noise through the filter.
        _, self._zi = signal.sosfilt(self._sos, self._rng.standard_normal(int(5 * fps)), zi=np.zeros((len(self._sos), 2)))

    def step(self, t: float) -> float:
        """The next sample (``t`` is ignored: one sample per frame)."""
        out, self._zi = signal.sosfilt(self._sos, self._rng.standard_normal(1), zi=self._zi)
        return float(out[0]) * self._scale


@cache
def _band_filter(fps: float) -> tuple[np.ndarray, float]:
    """``BandNoise``'s band-pass at ``fps`` and the factor that gives its output ``PULSE_RMS``
    (measured once per rate on 200 s of white noise)."""
    sos = signal.butter(2, HR_BAND_HZ, btype="bandpass", fs=fps, output="sos")
    probe = signal.sosfilt(sos, np.random.default_rng(0).standard_normal(int(200 * fps)))
    return sos, PULSE_RMS / float(probe[int(20 * fps) :].std())
