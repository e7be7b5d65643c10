"""Face crop: frame (uint8 RGB) + FaceTrack -> float32 (128, 128, 3) RGB crop in [0, 1]."""
from __future__ import annotations

import cv2
import numpy as np

from .frames import FaceTrack
from .tracking import CROP_SIZE


def crop_face(image: np.ndarray, track: FaceTrack, size: int = CROP_SIZE) -> np.ndarray:
    """Warp the tracked face to an upright ``size``² crop (edges replicated outside the frame)."""
    crop = cv2.warpAffine(image, track.matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return crop.astype(np.float32) * (1.0 / 255.0)
