"""Face crop: frame (uint8 RGB) + FaceTrack -> float32 (128, 128, 3) RGB crop in [0, 1]."""

from __future__ import annotations

import cv2
import numpy as np

from vcam.engine.errors import SourceError
from vcam.engine.frames import FaceTrack
from vcam.engine.tracking import CROP_SIZE, FaceTracker
from vcam.engine.video.sources import Source


def crop_face(image: np.ndarray, track: FaceTrack, size: int = CROP_SIZE) -> np.ndarray:
    """Warp the tracked face to an upright ``size``² crop (edges replicated outside the frame)."""
    crop = cv2.warpAffine(image, track.matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return crop.astype(np.float32) * (1.0 / 255.0)


def video_face_crops(source: Source, limit: int | None = None) -> np.ndarray:
    """Crops (float32 [N, size, size, 3]) of the first tracked face of each frame of ``source``
    (frames without a face are skipped), with the runtime's tracker; raises ``SourceError`` if
    no frame has a face."""
    crops: list[np.ndarray] = []
    with FaceTracker(max_faces=1) as tracker:
        while (limit is None or len(crops) < limit) and (frame := source.read()) is not None:
            if tracks := tracker.update(frame):
                crops.append(crop_face(frame, tracks[0]))
    if not crops:
        raise SourceError(f"no face found in {source.name}")
    return np.stack(crops)
