"""MediaPipe face-mesh landmark groups and the masks built from them.

Landmarks are ``(468, 2)`` float32 pixel coordinates in whatever image they were measured in.
"""

from __future__ import annotations

from functools import cache

import cv2
import numpy as np

from vcam.engine.face_mesh import REGIONS
from vcam.engine.frames import FaceTrack


def chains(connections: frozenset) -> list[np.ndarray]:
    """The connected landmark chains of a MediaPipe connection set, each in order along its edges:
    a closed contour (every point on two edges) starts at its smallest index, an open one at an end."""
    links: dict[int, list[int]] = {}
    for a, b in connections:
        links.setdefault(a, []).append(b)
        links.setdefault(b, []).append(a)
    seen: set[int] = set()
    out = []
    for start in sorted(links, key=lambda i: (len(links[i]) != 1, i)):  # open chains from an end
        if start in seen:
            continue
        order = [start]
        seen.add(start)
        while nxt := [n for n in links[order[-1]] if n not in seen]:
            order.append(nxt[0])
            seen.add(nxt[0])
        out.append(np.array(order))
    return out


@cache
def face_oval() -> np.ndarray:
    """Landmark indices of the face-oval polygon, in order."""
    return chains(REGIONS["FACE_OVAL"])[0]


def _points(connections: frozenset) -> np.ndarray:
    return np.array(sorted({i for edge in connections for i in edge}))


# Non-skin parts cut out of the skin mask (each as the convex hull of its points).
NON_SKIN = {
    "left_eye": _points(REGIONS["LEFT_EYE"]),
    "right_eye": _points(REGIONS["RIGHT_EYE"]),
    "left_brow": _points(REGIONS["LEFT_EYEBROW"]),
    "right_brow": _points(REGIONS["RIGHT_EYEBROW"]),
    "lips": _points(REGIONS["LIPS"]),
}


def face_oval_mask(landmarks: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``uint8`` (H, W) mask, 255 inside the face oval."""
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(landmarks[face_oval()]).astype(np.int32)], 255)
    return mask


def skin_mask(landmarks: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Bool (H, W) skin region: face oval minus eyes, brows and lips (with a margin), eroded."""
    mask = face_oval_mask(landmarks, shape)
    k = max(int(max(np.ptp(landmarks[:, 0]), 1.0) * 0.06) | 1, 3)
    mask = cv2.erode(mask, np.ones((k, k), np.uint8))
    for idx in NON_SKIN.values():
        hull = cv2.convexHull(np.round(landmarks[idx]).astype(np.int32))
        cv2.fillPoly(mask, [hull], 0)
        cv2.polylines(mask, [hull], True, 0, thickness=k)
    return mask > 0


def feathered_mask(landmarks: np.ndarray, shape: tuple[int, int], feather: float = 0.06) -> np.ndarray:
    """Float32 (H, W) blend mask in [0, 1]: the face oval, slightly grown, with soft edges."""
    mask = face_oval_mask(landmarks, shape)
    size = max(np.ptp(landmarks[:, 0]), 1.0)
    k = max(int(size * feather) | 1, 3)
    mask = cv2.dilate(mask, np.ones((k, k), np.uint8))
    return cv2.GaussianBlur(mask, (0, 0), k / 2).astype(np.float32) / 255.0


def skin_colour(crop: np.ndarray, landmarks: np.ndarray, sigma: float, small: int = 32, upsample: bool = True) -> np.ndarray:
    """The crop's skin colour spread smoothly over the whole crop: Gaussian normalised convolution of
    the skin pixels (``sigma`` in crop pixels), computed at ``small``² and, with ``upsample``,
    returned at the crop's size (float32, the crop's channels)."""
    mask = skin_mask(landmarks, crop.shape[:2]).astype(np.float32)
    low = cv2.resize(np.dstack([crop * mask[..., None], mask]), (small, small), interpolation=cv2.INTER_AREA)
    low = cv2.GaussianBlur(low, (0, 0), sigma * small / crop.shape[0], borderType=cv2.BORDER_REPLICATE)
    colour = low[..., :3] / np.maximum(low[..., 3:], 1e-4)
    return cv2.resize(colour, crop.shape[1::-1], interpolation=cv2.INTER_LINEAR) if upsample else colour


def face_box(track: FaceTrack) -> tuple[int, int, int, int]:
    """Bounding box of the face oval in frame pixels (the box given to dlib)."""
    return landmark_box(track.landmarks)


def landmark_box(landmarks: np.ndarray) -> tuple[int, int, int, int]:
    """Bounding box (x0, y0, x1, y1) of the face oval of face-mesh ``landmarks`` in their pixels."""
    oval = landmarks[face_oval()]
    x0, y0 = np.floor(oval.min(0)).astype(int)
    x1, y1 = np.ceil(oval.max(0)).astype(int)
    return int(x0), int(y0), int(x1), int(y1)
