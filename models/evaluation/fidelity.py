"""Visual fidelity and temporal stability of protected frames (uint8 or float RGB arrays).

PSNR (per-frame squared errors summed by OpenCV, no float copies of the stack) and SSIM
(scikit-image) against the raw frames; ``flicker``: mean absolute frame-to-frame
change of the protected stream minus that of the raw stream, in 8-bit levels (0 = the filter
adds no flicker); ``raw_detail``: how much of a raw face's fine detail an output frame still
holds (the fail-closed measure); identity jitter lives in :mod:`.privacy`.
"""

from __future__ import annotations

import cv2
import numpy as np
from skimage.metrics import structural_similarity

from vcam.engine.face_regions import face_oval_mask
from vcam.engine.frames import FaceTrack


def _float(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float64) / 255.0 if x.dtype == np.uint8 else x.astype(np.float64)


def psnr(raw: np.ndarray | list[np.ndarray], out: np.ndarray | list[np.ndarray]) -> float:
    """PSNR (dB) over the whole stack (uint8: peak 255, float: peak 1); inf when identical."""
    peak = 255.0 if raw[0].dtype == np.uint8 else 1.0
    squared = sum(cv2.norm(a, b, cv2.NORM_L2SQR) for a, b in zip(raw, out, strict=True))
    mse = squared / sum(a.size for a in raw)
    return float("inf") if mse == 0 else float(10.0 * np.log10(peak**2 / mse))


def ssim(raw: np.ndarray, out: np.ndarray) -> float:
    """Mean SSIM over frames ([N, H, W, 3] stacks or single images)."""
    a, b = _float(raw), _float(out)
    if a.ndim == 3:
        a, b = a[None], b[None]
    return float(np.mean([structural_similarity(x, y, channel_axis=2, data_range=1.0) for x, y in zip(a, b, strict=True)]))


def flicker(raw: np.ndarray, out: np.ndarray) -> float:
    scale = 1.0 if raw.dtype == np.uint8 else 255.0
    change = [float(np.abs(np.diff(x.astype(np.float32), axis=0)).mean(dtype=np.float64)) for x in (raw, out)]
    return (change[1] - change[0]) * scale


def raw_detail(raw: np.ndarray, out: np.ndarray, track: FaceTrack) -> float:
    """Correlation of the Laplacians (fine detail) of the raw and the output frame inside the face
    oval of ``track``: ~1 when the raw face reached the output, near 0 when it is blurred,
    pixelated or replaced. (A recogniser's distance cannot tell "obscured" from "leaked": a grey
    square is already close to some faces.)"""
    inside = face_oval_mask(track.landmarks, raw.shape[:2]) > 0
    lap = [cv2.Laplacian(cv2.cvtColor(im, cv2.COLOR_RGB2GRAY).astype(np.float32), cv2.CV_32F)[inside] for im in (raw, out)]
    return float(np.corrcoef(lap[0], lap[1])[0, 1]) if lap[1].std() > 0 else 0.0
