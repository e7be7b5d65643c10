"""Visual fidelity and temporal stability of protected frames (uint8 or float RGB arrays).

PSNR and SSIM (scikit-image) against the raw frames; ``flicker``: mean absolute frame-to-frame
change of the protected stream minus that of the raw stream, in 8-bit levels (0 = the filter
adds no flicker); identity jitter lives in :mod:`.privacy`.
"""
from __future__ import annotations

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity


def _float(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float64) / 255.0 if x.dtype == np.uint8 else x.astype(np.float64)


def psnr(raw: np.ndarray, out: np.ndarray) -> float:
    """PSNR (dB) over the whole stack; inf when identical."""
    a, b = _float(raw), _float(out)
    return float("inf") if np.array_equal(a, b) else float(peak_signal_noise_ratio(a, b, data_range=1.0))


def ssim(raw: np.ndarray, out: np.ndarray) -> float:
    """Mean SSIM over frames ([N, H, W, 3] stacks or single images)."""
    a, b = _float(raw), _float(out)
    if a.ndim == 3:
        a, b = a[None], b[None]
    return float(np.mean([structural_similarity(x, y, channel_axis=2, data_range=1.0) for x, y in zip(a, b, strict=True)]))


def flicker(raw: np.ndarray, out: np.ndarray) -> float:
    a, b = _float(raw), _float(out)
    return float((np.abs(np.diff(b, axis=0)).mean() - np.abs(np.diff(a, axis=0)).mean()) * 255.0)
