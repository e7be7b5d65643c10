"""Face tracking with MediaPipe's face mesh (on onnxruntime): every face, smoothed landmarks, stable 128x128 crops.

Input: ``Frame`` (uint8 RGB). Output: ``list[FaceTrack]`` sorted by face size, largest first.
Each track keeps an id across frames (nearest-centre association), so per-face state such as the
streaming AE's temporal cache can follow the face; an id is never reused.
"""

from __future__ import annotations

import itertools

import numpy as np

from vcam.engine.face_mesh import FaceMesh
from vcam.engine.face_regions import NON_SKIN, face_oval, feathered_mask, skin_mask
from vcam.engine.frames import FaceTrack

CROP_SIZE = 128
_LEFT_EYE = NON_SKIN["left_eye"]
_RIGHT_EYE = NON_SKIN["right_eye"]


def similarity_matrix(landmarks: np.ndarray, size: int = CROP_SIZE, margin: float = 1.1) -> np.ndarray:
    """2x3 matrix mapping frame pixels to a ``size``² crop: upright eyes, face oval filling it."""
    eye_l, eye_r = landmarks[_LEFT_EYE].mean(0), landmarks[_RIGHT_EYE].mean(0)
    dx, dy = eye_l - eye_r if eye_l[0] > eye_r[0] else eye_r - eye_l
    angle = np.arctan2(dy, dx)
    c, s = np.cos(angle), np.sin(angle)
    oval = landmarks[face_oval()]
    centre = oval.mean(0)
    rotated = (oval - centre) @ np.array([[c, -s], [s, c]])
    side = margin * max(np.ptp(rotated[:, 0]), np.ptp(rotated[:, 1]), 1.0)
    k = size / side
    a, b = k * c, k * s
    tx = size / 2 - (a * centre[0] + b * centre[1])
    ty = size / 2 - (-b * centre[0] + a * centre[1])
    return np.array([[a, b, tx], [-b, a, ty]], np.float64)


def transform_points(matrix: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine matrix to ``(N, 2)`` points."""
    return pts @ matrix[:, :2].T + matrix[:, 2]


def crop_box(matrix: np.ndarray, frame_shape: tuple[int, ...], size: int = CROP_SIZE) -> tuple[int, int, int, int]:
    """Frame-pixel bounding box (x0, y0, x1, y1) of the crop square, clipped to the frame."""
    inv = np.vstack([matrix, [0, 0, 1]])
    corners = np.array([[0, 0], [size, 0], [0, size], [size, size]], np.float64)
    pts = transform_points(np.linalg.inv(inv)[:2], corners)
    h, w = frame_shape[:2]
    x0, y0 = np.floor(pts.min(0)).astype(int)
    x1, y1 = np.ceil(pts.max(0)).astype(int)
    return max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)


class FaceTracker:
    """MediaPipe's face mesh (``FaceMesh``) in tracking mode plus per-face temporal smoothing.

    ``max_faces`` bounds how many faces are found per frame. ``smoothing`` in [0, 1) is the
    weight of the previous landmarks when the face is still; fast motion lowers it so the
    crop never lags a moving head by more than a fraction of a frame's motion.
    """

    def __init__(self, max_faces: int = 4, smoothing: float = 0.6, static: bool = False) -> None:
        self.max_faces = max_faces
        self.smoothing = smoothing
        self._mesh = FaceMesh(max_faces=max_faces, static=static)
        self._tracks: dict[int, FaceTrack] = {}
        self._ids = itertools.count()

    def close(self) -> None:
        """Forget every track (the models stay loaded)."""
        self._mesh.reset()
        self._tracks = {}

    def __enter__(self) -> FaceTracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def detect(self, image: np.ndarray, depth: bool = False) -> list[np.ndarray]:
        """Raw landmarks, ``(468, 2)`` float32 pixels, for every face the face mesh finds; with ``depth``,
        ``(468, 3)``: the third column is MediaPipe's relative depth in the same pixel scale (smaller
        is nearer the camera)."""
        return [pts if depth else np.ascontiguousarray(pts[:, :2]) for pts in self._mesh.process(image)]

    def update(self, image: np.ndarray) -> list[FaceTrack]:
        """Track the faces in ``image`` (uint8 RGB); returns them largest first."""
        found = self.detect(image, depth=True)
        previous = dict(self._tracks)
        tracks: dict[int, FaceTrack] = {}
        for mesh in sorted(found, key=lambda p: -np.ptp(p[:, 0])):
            tid, prev = self._associate(mesh[:, :2], previous)
            if prev is not None:
                del previous[tid]
                mesh = self._smooth(np.column_stack([prev.landmarks, prev.depth]), mesh)
            tracks[tid] = self._make_track(tid, mesh, image.shape, 0 if prev is None else prev.age + 1)
        self._tracks = tracks
        return list(tracks.values())

    def _associate(self, pts: np.ndarray, previous: dict[int, FaceTrack]) -> tuple[int, FaceTrack | None]:
        centre, size = pts.mean(0), np.ptp(pts[:, 0])
        best, best_d = None, 0.5 * size
        for tid, tr in previous.items():
            d = float(np.linalg.norm(tr.landmarks.mean(0) - centre))
            if d < best_d:
                best, best_d = tid, d
        if best is None:
            return next(self._ids), None
        return best, previous[best]

    def _smooth(self, prev: np.ndarray, pts: np.ndarray) -> np.ndarray:
        size = max(np.ptp(pts[:, 0]), 1.0)
        motion = float(np.linalg.norm(pts[:, :2].mean(0) - prev[:, :2].mean(0))) / size
        keep = self.smoothing * max(0.0, 1.0 - motion / 0.05)
        return (keep * prev + (1.0 - keep) * pts).astype(np.float32)

    @staticmethod
    def _make_track(tid: int, mesh: np.ndarray, shape: tuple[int, ...], age: int) -> FaceTrack:
        pts = np.ascontiguousarray(mesh[:, :2])
        matrix = similarity_matrix(pts)
        crop_pts = transform_points(matrix, pts)
        return FaceTrack(
            track_id=tid,
            landmarks=pts,
            depth=np.ascontiguousarray(mesh[:, 2]),
            matrix=matrix,
            box=crop_box(matrix, shape),
            blend_mask=feathered_mask(crop_pts, (CROP_SIZE, CROP_SIZE)),
            skin_mask=skin_mask(crop_pts, (CROP_SIZE, CROP_SIZE)),
            age=age,
        )
