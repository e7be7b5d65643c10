"""``blur``: Gaussian blur of the face crop, the paper's first baseline."""

from __future__ import annotations

import cv2
import numpy as np

from vcam.engine.filters.base import FaceFilter, between


class BlurFilter(FaceFilter):
    name = "blur"

    def __init__(self, sigma: float = 12.0, weakest_sigma: float = 6.0) -> None:
        self.sigma, self.weakest_sigma = sigma, weakest_sigma

    def process(self, crop: np.ndarray, track_id: int, strength: float = 1.0, landmarks: np.ndarray | None = None) -> np.ndarray:
        sigma = between(self.weakest_sigma, self.sigma, strength)
        return cv2.GaussianBlur(crop, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)
