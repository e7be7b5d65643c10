"""MediaPipe face-mesh landmark groups and the masks built from them.

Landmarks are ``(468, 2)`` float32 pixel coordinates in whatever image they were measured in.
"""
from __future__ import annotations

from functools import cache

import cv2
import numpy as np
from mediapipe.python.solutions import face_mesh_connections as fmc


def _ring(connections: frozenset) -> np.ndarray:
    """Order the edges of a closed landmark contour into a polygon of indices."""
    nxt = dict(connections)
    start = min(nxt)
    order = [start]
    while (n := nxt[order[-1]]) != start and len(order) <= len(nxt):
        order.append(n)
    return np.array(order)


@cache
def face_oval() -> np.ndarray:
    """Landmark indices of the face-oval polygon, in order."""
    return _ring(fmc.FACEMESH_FACE_OVAL)


def _points(connections: frozenset) -> np.ndarray:
    return np.array(sorted({i for edge in connections for i in edge}))


# Non-skin parts cut out of the skin mask (each as the convex hull of its points).
NON_SKIN = {
    "left_eye": _points(fmc.FACEMESH_LEFT_EYE),
    "right_eye": _points(fmc.FACEMESH_RIGHT_EYE),
    "left_brow": _points(fmc.FACEMESH_LEFT_EYEBROW),
    "right_brow": _points(fmc.FACEMESH_RIGHT_EYEBROW),
    "lips": _points(fmc.FACEMESH_LIPS),
}


def face_oval_mask(landmarks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``uint8`` (H, W) mask, 255 inside the face oval."""
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(landmarks[face_oval()]).astype(np.int32)], 255)
    return mask


def skin_mask(landmarks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
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
