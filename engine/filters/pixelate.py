"""``pixelate``: coarse blocks over the face crop, the paper's second baseline."""

from __future__ import annotations

import cv2
import numpy as np

from vcam.engine.filters.base import FaceFilter, between


class PixelateFilter(FaceFilter):
    name = "pixelate"

    def __init__(self, blocks: int = 10, weakest_blocks: int = 16) -> None:
        self.blocks, self.weakest_blocks = blocks, weakest_blocks

    def process(self, crop: np.ndarray, track_id: int, strength: float = 1.0, landmarks: np.ndarray | None = None) -> np.ndarray:
        n = round(between(self.weakest_blocks, self.blocks, strength))
        small = cv2.resize(crop, (n, n), interpolation=cv2.INTER_AREA)
        return cv2.resize(small, crop.shape[1::-1], interpolation=cv2.INTER_NEAREST)
