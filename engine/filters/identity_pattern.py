"""A universal identity pattern: one learned change of a face, defined in dlib's aligned
150x150 face-chip frame, warped onto any face crop by that crop's own dlib 5-point alignment.

    pattern, meta = load_pattern(DEFAULT_PATTERN)
    change = warp_pattern(pattern, DlibRecogniser().chip_matrix(crop_u8, (0, 0, 127, 127)), (128, 128))

File format (``.npz``): ``pattern`` float16 (150, 150, 3) RGB change in [0, 1] units and ``meta``,
a JSON string (how it was learned: ``vcam-train pattern``).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import cv2
import numpy as np

from vcam.engine.asset_files import asset
from vcam.engine.errors import ModelError
from vcam.engine.recognisers import CHIP_SIZE

DEFAULT_PATTERN = asset("identity_pattern.npz")
# The adaptive filter's starting point: learned with an SSIM term at 33 dB (its card, identity_pattern.md).
ADAPTIVE_START = DEFAULT_PATTERN.with_name("identity_pattern_ssim.npz")


def load_pattern(path: Path) -> tuple[np.ndarray, dict]:
    """(float32 (150, 150, 3) pattern, metadata) of a pattern file; raises ``ModelError`` naming
    the file if it is missing, not a pattern file or of another shape."""
    try:
        with np.load(path, allow_pickle=False) as f:
            pattern, meta = f["pattern"].astype(np.float32), json.loads(str(f["meta"]))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise ModelError(f"cannot read identity pattern {path}: {exc}") from None
    if pattern.shape != (CHIP_SIZE, CHIP_SIZE, 3):
        raise ModelError(f"{path}: pattern of shape {pattern.shape}, expected ({CHIP_SIZE}, {CHIP_SIZE}, 3)")
    return pattern, meta


def save_pattern(path: Path, pattern: np.ndarray, meta: dict) -> None:
    """Write ``pattern`` (150, 150, 3) as float16 with ``meta`` (JSON-serialisable)."""
    np.savez_compressed(path, pattern=pattern.astype(np.float16), meta=np.array(json.dumps(meta)))


def warp_pattern(pattern: np.ndarray, chip_to_crop: np.ndarray, size: tuple[int, ...]) -> np.ndarray:
    """float32 (H, W, 3) change for a crop of ``size`` (W, H): ``pattern`` moved by the 2x3
    chip -> crop matrix (``DlibRecogniser.chip_matrix``), zero where the chip does not reach."""
    return cv2.warpAffine(pattern, chip_to_crop, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
