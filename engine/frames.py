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
    ``box`` is the face's (x0, y0, x1, y1) bounding box in frame pixels.
    """

    track_id: int
    landmarks: np.ndarray
    matrix: np.ndarray
    box: tuple[int, int, int, int]
    blend_mask: np.ndarray
    skin_mask: np.ndarray
    age: int = 0
