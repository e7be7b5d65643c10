"""The recogniser contract: ``describe(image, box)`` aligns the face inside ``box`` (x0, y0, x1, y1)
of a uint8 RGB image and returns its descriptor; ``distance`` compares two descriptors; ``match``
applies the recogniser's own threshold."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np


class Recogniser(ABC):
    """A face recogniser: descriptor of a face in a box, distance, same-person threshold."""

    name: str
    threshold: float  # same person when distance < threshold

    @abstractmethod
    def describe(self, image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray: ...

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        return float(np.linalg.norm(a - b))

    def match(self, a: np.ndarray, b: np.ndarray) -> bool:
        return self.distance(a, b) < self.threshold


def cosine_distance(a: np.ndarray, b: np.ndarray) -> float:
    """1 - cosine similarity of two descriptors (SFace's distance)."""
    return float(1.0 - a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))
