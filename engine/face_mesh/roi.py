"""The rotated square a face's landmarks are read in, and the image warps to and from it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SCALE = 1.5  # the square's side over the face's box's longer side


@dataclass(frozen=True)
class Roi:
    """A square of ``side`` pixels centred on ``centre`` (x, y), turned by ``angle`` radians
    (positive turns the square's x axis towards the image's y axis)."""

    centre: np.ndarray
    side: float
    angle: float

    @classmethod
    def around(cls, box: np.ndarray, start: np.ndarray, end: np.ndarray) -> Roi:
        """The square around ``box`` (x0, y0, x1, y1), upright along ``start`` -> ``end`` (two points
        that are level on an upright face), its side ``SCALE`` times the box's longer side."""
        dx, dy = end - start
        side = SCALE * max(box[2] - box[0], box[3] - box[1])
        return cls(np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2]), float(side), float(np.arctan2(dy, dx)))

    def to_square(self, size: int) -> np.ndarray:
        """2x3 matrix from image pixels to a ``size``² image of the square (corners to corners)."""
        k = size / self.side
        c, s = np.cos(self.angle), np.sin(self.angle)
        x, y = self.centre
        return np.array([[k * c, k * s, size / 2 - k * (c * x + s * y)], [-k * s, k * c, size / 2 - k * (-s * x + c * y)]])

    def from_square(self, pts: np.ndarray, size: int) -> np.ndarray:
        """``(N, 3)`` points of the ``size``² square image (x, y, depth) in image pixels; depth is
        scaled like x."""
        c, s = np.cos(self.angle), np.sin(self.angle)
        k = self.side / size
        u, v = pts[:, 0] - size / 2, pts[:, 1] - size / 2
        x = self.centre[0] + k * (c * u - s * v)
        y = self.centre[1] + k * (s * u + c * v)
        return np.column_stack([x, y, k * pts[:, 2]]).astype(np.float32)

    def iou(self, other: Roi) -> float:
        """Overlap of the two squares, ignoring their turn (intersection over union)."""
        a, b = self.side / 2, other.side / 2
        lo = np.maximum(self.centre - a, other.centre - b)
        hi = np.minimum(self.centre + a, other.centre + b)
        inter = float(np.prod(np.clip(hi - lo, 0, None)))
        return inter / (self.side**2 + other.side**2 - inter)
