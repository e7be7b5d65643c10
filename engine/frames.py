"""Small containers passed between pipeline stages."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Frame:
    """One captured frame.

    ``image`` is ``uint8`` ``(H, W, 3)`` RGB; ``timestamp`` is seconds on the source's clock
    (time since the first frame for cameras, ``index / fps`` for files and the demo);
    ``captured`` is ``time.monotonic()`` when the capture thread got it.
    """

    index: int
    timestamp: float
    image: np.ndarray
    captured: float = 0.0


@dataclass
class FaceTrack:
    """A tracked face in one frame.

    ``matrix`` is the 2x3 similarity transform mapping frame pixels to the ``crop_size`` crop;
    ``blend_mask`` (float32 ``(S, S)`` in [0, 1], feathered face oval) is used for compositing;
    ``skin_mask`` (bool ``(S, S)``: cheeks, forehead, nose, no eyes/brows/lips) is used for rPPG.
    ``box`` is the face's (x0, y0, x1, y1) bounding box in frame pixels. ``landmarks`` are the
    (468, 2) face-mesh points in frame pixels, ``depth`` their (468,) relative depth in the same
    scale (MediaPipe's: smaller is nearer the camera).
    """

    track_id: int
    landmarks: np.ndarray
    depth: np.ndarray
    matrix: np.ndarray
    box: tuple[int, int, int, int]
    blend_mask: np.ndarray
    skin_mask: np.ndarray
    age: int = 0

    def crop_mesh(self) -> np.ndarray:
        """(468, 3) float32: the landmarks in crop pixels and their depth in the crop's scale."""
        scale = np.sqrt(abs(np.linalg.det(self.matrix[:, :2])))
        xy = self.landmarks @ self.matrix[:, :2].T + self.matrix[:, 2]
        return np.column_stack([xy, self.depth * scale]).astype(np.float32)
