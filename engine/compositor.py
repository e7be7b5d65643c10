"""Compositor: paste a processed face crop back into the frame.

The filtered crop is inverse-warped into the face's bounding box and blended with the
feathered face-oval mask. Two modes: *replace* pastes the crop itself (blur, pixelate, the safe fallback: nothing of the
original face survives inside the mask); *residual* adds only the upsampled difference to the
raw crop (the AE's perturbation), so a face larger than the 128 px crop keeps its full-resolution
detail. The frame (uint8 RGB) is modified in place.
"""

from __future__ import annotations

import cv2
import numpy as np

from vcam.engine.frames import FaceTrack


def _bayer(n: int) -> np.ndarray:
    """The n x n ordered-dither threshold matrix (n a power of 2), values in (0, 1)."""
    m = np.zeros((1, 1))
    while len(m) < n:
        m = np.block([[4 * m, 4 * m + 2], [4 * m + 3, 4 * m + 1]])
    return ((m + 0.5) / m.size).astype(np.float32)


_BAYER = _bayer(8)


def paste(image: np.ndarray, track: FaceTrack, crop: np.ndarray, base: np.ndarray | None = None, dither: bool = False) -> None:
    """Blend ``crop`` (float32 RGB [0, 1]) into ``image`` (uint8 RGB) inside the face oval;
    with ``base`` (the raw crop), add ``crop - base`` instead (residual mode). ``dither`` rounds
    to 8 bits with random dither, so a change smaller than a level still reaches the frame on
    average (a pulse edit is a fraction of a level per pixel)."""
    x0, y0, x1, y1 = track.box
    if x1 <= x0 or y1 <= y0:
        return
    m = track.matrix.copy()
    m[:, 2] += m[:, 0] * x0 + m[:, 1] * y0  # the ROI's pixel (0, 0) is the frame's (x0, y0)
    size = (x1 - x0, y1 - y0)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    alpha = cv2.warpAffine(track.blend_mask, m, size, flags=flags, borderMode=cv2.BORDER_CONSTANT)[..., None]
    roi = image[y0:y1, x0:x1].astype(np.float32)
    if base is None:
        face = cv2.warpAffine(crop, m, size, flags=flags, borderMode=cv2.BORDER_REPLICATE)
        blended = roi + alpha * (face * 255.0 - roi)
    else:
        delta = cv2.warpAffine(crop - base, m, size, flags=flags, borderMode=cv2.BORDER_REPLICATE)
        blended = roi + alpha * (delta * 255.0)
    if dither:
        ys, xs = np.ogrid[y0:y1, x0:x1]
        offset: np.ndarray | float = _BAYER[ys % 8, xs % 8][..., None]
    else:
        offset = 0.5
    image[y0:y1, x0:x1] = np.clip(blended + offset, 0, 255).astype(np.uint8)
