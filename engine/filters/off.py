"""``off``: the raw face (protection off)."""

from __future__ import annotations

import numpy as np

from vcam.engine.filters.base import FaceFilter


class OffFilter(FaceFilter):
    name = "off"
    protects = False

    def process(self, crop: np.ndarray, track_id: int, strength: float = 1.0, landmarks: np.ndarray | None = None) -> np.ndarray:
        return crop
