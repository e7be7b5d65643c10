"""Physiologically shaped blood-volume-pulse waveforms with known heart rate.

Used by the demo source (and later the semi-synthetic training set) to inject a pulse of known
HR into skin pixels. A beat is a systolic Gaussian plus a smaller, later diastolic Gaussian,
which leaves a dicrotic notch between them; HR varies slowly (respiratory sinus arrhythmia)
plus a small random walk, so the waveform is not a pure sinusoid.
"""
from __future__ import annotations

import numpy as np

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
    u = phase - np.floor(phase)  # position inside the beat, 0..1
    wave = np.exp(-0.5 * ((u - 0.2) / 0.1) ** 2) + 0.3 * np.exp(-0.5 * ((u - 0.52) / 0.1) ** 2)
    wave -= wave.mean()
    return wave / max(np.ptp(wave), 1e-9)
