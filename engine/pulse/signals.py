"""Pulse-signal metrics shared by the runtime monitors and the evaluation: band-pass, heart
rate by spectral peak (zero-padded periodogram + parabolic peak interpolation, so a 10 s window
resolves well under 1 bpm; a first harmonic stronger than the fundamental is not taken for the
HR), SNR around the HR fundamental and first harmonic, resampling of irregularly timed samples
onto a uniform grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

HR_BAND_HZ = (0.7, 3.0)
HARMONIC_POWER_RATIO = 0.64  # the reference code's 0.8, stated on magnitude spectra
HARMONIC_TOLERANCE_BPM = 10.0


def bandpass(x: np.ndarray, fs: float, band: tuple[float, float] = HR_BAND_HZ, order: int = 3) -> np.ndarray:
    """Zero-phase Butterworth band-pass along the last axis."""
    sos = signal.butter(order, band, btype="bandpass", fs=fs, output="sos")
    padlen = min(x.shape[-1] - 1, 3 * (2 * len(sos) + 1))
    return signal.sosfiltfilt(sos, x, axis=-1, padlen=padlen)


def resample_uniform(t: np.ndarray, x: np.ndarray, fs: float) -> np.ndarray:
    """Linear interpolation of samples ``x`` (T, ...) at times ``t`` onto a grid of rate ``fs``."""
    grid = np.arange(t[0], t[-1] + 0.5 / fs, 1.0 / fs)
    if x.ndim == 1:
        return np.interp(grid, t, x)
    return np.stack([np.interp(grid, t, x[:, c]) for c in range(x.shape[1])], axis=1)


@dataclass(frozen=True)
class Spectrum:
    freqs: np.ndarray
    power: np.ndarray


def spectrum(x: np.ndarray, fs: float, band: tuple[float, float] = HR_BAND_HZ, min_nfft: int = 8192) -> Spectrum:
    """Hann-windowed, zero-padded periodogram of the detrended, band-passed signal (the filter's
    pass band is 20 % wider than ``band`` so HRs at the band's edges are not attenuated)."""
    wide = (band[0] * 0.8, min(band[1] * 1.2, 0.45 * fs))
    x = bandpass(signal.detrend(np.asarray(x, np.float64)), fs, wide)
    nfft = max(min_nfft, 1 << int(np.ceil(np.log2(len(x)))))
    f, p = signal.periodogram(x, fs=fs, window="hann", nfft=nfft, detrend=False)
    return Spectrum(f, p)


def heart_rate(x: np.ndarray, fs: float, band: tuple[float, float] = HR_BAND_HZ) -> float:
    """HR in bpm: the interpolated highest spectral peak inside ``band``, or the second-highest
    peak where the highest is its first harmonic (within ``HARMONIC_TOLERANCE_BPM`` of twice it)
    and the second has over ``HARMONIC_POWER_RATIO`` of its power, so a pulse with a strong
    dicrotic harmonic is not read an octave high (the paper's evaluation code's rule)."""
    sp = spectrum(x, fs, band)
    inside = np.flatnonzero((sp.freqs >= band[0]) & (sp.freqs <= band[1]))
    power = sp.power[inside]
    k = inside[np.argmax(power)]
    peaks = inside[signal.find_peaks(power)[0]]
    others = peaks[peaks != k]
    if len(others):
        k2 = others[np.argmax(sp.power[others])]
        if sp.power[k2] > HARMONIC_POWER_RATIO * sp.power[k] and abs(sp.freqs[k] - 2 * sp.freqs[k2]) * 60.0 < HARMONIC_TOLERANCE_BPM:
            k = k2
    if 0 < k < len(sp.power) - 1:
        a, b, c = np.log(sp.power[k - 1 : k + 2] + 1e-30)
        offset = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) != 0 else 0.0
    else:
        offset = 0.0
    df = sp.freqs[1] - sp.freqs[0]
    return float((sp.freqs[k] + offset * df) * 60.0)


def snr_db(x: np.ndarray, fs: float, hr_bpm: float, band: tuple[float, float] = HR_BAND_HZ, width_hz: float = 0.1) -> float:
    """Power within ``width_hz`` of the HR fundamental and of twice that width around its first
    harmonic, over the rest of the band widened to include the harmonic (de Haan & Jeanne 2013)."""
    sp = spectrum(x, fs, (band[0], min(band[1] * 2, fs / 2 - 0.1)))
    f0 = hr_bpm / 60.0
    in_band = (sp.freqs >= band[0]) & (sp.freqs <= min(2 * band[1], fs / 2))
    sig = (np.abs(sp.freqs - f0) <= width_hz) | (np.abs(sp.freqs - 2 * f0) <= 2 * width_hz)
    p_sig = sp.power[in_band & sig].sum()
    p_noise = sp.power[in_band & ~sig].sum()
    return float(10 * np.log10((p_sig + 1e-30) / (p_noise + 1e-30)))


def peak_over_median_db(x: np.ndarray, fs: float, hr_bpm: float, band: tuple[float, float] = HR_BAND_HZ, width_hz: float = 0.05) -> float:
    """How far the spectrum's highest point within ``width_hz`` of ``hr_bpm`` stands above the
    median power of ``band`` (dB): near 0 where no pulse is at that rate, ~10 and more where one is."""
    sp = spectrum(x, fs, band)
    inside = (sp.freqs >= band[0]) & (sp.freqs <= band[1])
    near = np.abs(sp.freqs - hr_bpm / 60.0) <= width_hz
    return float(10 * np.log10((sp.power[near].max() + 1e-30) / (np.median(sp.power[inside]) + 1e-30)))


def quality(snr: float) -> float:
    """Signal quality in [0, 1] from SNR: 0 at -10 dB or less, 1 at +5 dB or more."""
    return float(np.clip((snr + 10.0) / 15.0, 0.0, 1.0))


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two equal-length signals (0 if either is constant)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    a, b = a - a.mean(), b - b.mean()
    denom = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denom) if denom > 0 else 0.0


def spectral_similarity(a: np.ndarray, b: np.ndarray, fs: float, band: tuple[float, float] = HR_BAND_HZ) -> float:
    """Cosine similarity of the two signals' power spectra inside ``band`` only (the reference
    implementation's band mask is always false, so it compared whole 0-fs/2 spectra)."""
    sa, sb = spectrum(a, fs, band), spectrum(b, fs, band)
    inside = (sa.freqs >= band[0]) & (sa.freqs <= band[1])
    pa, pb = sa.power[inside], sb.power[inside]
    denom = np.linalg.norm(pa) * np.linalg.norm(pb)
    return float(pa @ pb / denom) if denom > 0 else 0.0


def windowed_hr(x: np.ndarray, fs: float, window_s: float = 30.0, band: tuple[float, float] = HR_BAND_HZ) -> np.ndarray:
    """HR (bpm) of consecutive non-overlapping ``window_s`` windows; a signal shorter than one
    window (or a last part shorter than half a window) counts as one window of its own."""
    n = int(round(window_s * fs))
    starts = list(range(0, len(x) - n // 2 + 1, n)) if len(x) > n else [0]
    return np.array([heart_rate(x[s : s + n], fs, band) for s in starts])


@dataclass(frozen=True)
class HrErrors:
    mae: float
    rmse: float
    pearson: float
    windows: int


def hr_errors(estimated: np.ndarray, reference: np.ndarray) -> HrErrors:
    """MAE, RMSE (bpm) and Pearson R between per-window HRs (R is 0 for a single window)."""
    e, r = np.asarray(estimated, np.float64), np.asarray(reference, np.float64)
    err = e - r
    return HrErrors(float(np.abs(err).mean()), float(np.sqrt((err**2).mean())), pearson(e, r) if len(e) > 1 else 0.0, len(e))
