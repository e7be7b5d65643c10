"""Classic rPPG methods on mean-RGB traces (numpy): POS (Wang et al. 2017) and CHROM (de Haan &
Jeanne 2013). Input: ``rgb`` float (T, 3) spatial means of skin pixels, uniformly sampled at
``fs``; output: a (T,) blood-volume-pulse signal, band-passed to the HR band (``band=None``:
the raw overlap-added signal, which ``vcam.models.rppg_torch`` reproduces differentiably).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from vcam.engine.pulse.signals import HR_BAND_HZ, bandpass

_POS_PROJECTION = np.array([[0.0, 1.0, -1.0], [-2.0, 1.0, 1.0]])


def _windows(rgb: np.ndarray, fs: float, seconds: float) -> tuple[np.ndarray, int]:
    """Temporally normalised windows of ``seconds``: (N, L, 3), each divided by its mean colour."""
    length = int(np.ceil(seconds * fs))
    if len(rgb) < length:
        raise ValueError(f"need at least {length} samples ({seconds} s) for POS/CHROM, got {len(rgb)}")
    win = sliding_window_view(np.asarray(rgb, np.float64), length, axis=0).transpose(0, 2, 1)
    return win / (win.mean(axis=1, keepdims=True) + 1e-9), length


def _overlap_add(parts: np.ndarray, total: int) -> np.ndarray:
    """Sum window-signals (N, L), each starting one sample after the previous, into (total,)."""
    out = np.zeros(total)
    n, length = parts.shape
    for j in range(length):
        out[j : j + n] += parts[:, j]
    return out


def pos(rgb: np.ndarray, fs: float, window_s: float = 1.6, band: tuple[float, float] | None = HR_BAND_HZ) -> np.ndarray:
    """Plane-Orthogonal-to-Skin pulse signal."""
    cn, _ = _windows(rgb, fs, window_s)
    s = cn @ _POS_PROJECTION.T  # (N, L, 2)
    s0, s1 = s[..., 0], s[..., 1]
    alpha = s0.std(axis=1, keepdims=True) / (s1.std(axis=1, keepdims=True) + 1e-9)
    h = s0 + alpha * s1
    h -= h.mean(axis=1, keepdims=True)
    out = _overlap_add(h, len(rgb))
    return out if band is None else bandpass(out, fs, band)


def chrom(rgb: np.ndarray, fs: float, window_s: float = 1.6, band: tuple[float, float] | None = HR_BAND_HZ) -> np.ndarray:
    """Chrominance-based pulse signal (sliding 1.6 s windows, Hann-weighted overlap-add)."""
    cn, length = _windows(rgb, fs, window_s)
    x = 3.0 * cn[..., 0] - 2.0 * cn[..., 1]
    y = 1.5 * cn[..., 0] + cn[..., 1] - 1.5 * cn[..., 2]
    alpha = x.std(axis=1, keepdims=True) / (y.std(axis=1, keepdims=True) + 1e-9)
    s = x - alpha * y
    s = (s - s.mean(axis=1, keepdims=True)) * np.hanning(length)
    out = _overlap_add(s, len(rgb))
    return out if band is None else bandpass(out, fs, band)


METHODS = {"pos": pos, "chrom": chrom}
