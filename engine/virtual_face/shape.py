"""Face shapes in the runtime's crop coordinates: the mean face, a virtual person's shape drawn from a
seed, the head's pose, and the identity part of a tracked user's shape.

Shapes are ``(468, 2)`` float32 MediaPipe face-mesh landmarks in ``CROP_SIZE`` crop pixels (eyes
level, face oval filling the crop; ``vcam.engine.tracking.similarity_matrix``); meshes add
MediaPipe's relative depth in the same scale as a third column.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from vcam.engine.asset_files import asset
from vcam.engine.errors import ModelError
from vcam.engine.face_mesh import REGIONS
from vcam.engine.face_regions import chains, face_oval
from vcam.engine.tracking import CROP_SIZE

MEAN_FACE = asset("mean_face.npz")


def _indices(connections: frozenset) -> np.ndarray:
    return np.concatenate(chains(connections))


# Features a virtual person varies: (landmarks whose centre anchors the change, radius in crop px).
FEATURES = {
    "left_eye": (_indices(REGIONS["LEFT_EYE"]), 15.0),
    "right_eye": (_indices(REGIONS["RIGHT_EYE"]), 15.0),
    "left_brow": (_indices(REGIONS["LEFT_EYEBROW"]), 14.0),
    "right_brow": (_indices(REGIONS["RIGHT_EYEBROW"]), 14.0),
    "nose": (_indices(REGIONS["NOSE"]), 16.0),
    "mouth": (_indices(REGIONS["LIPS"]), 18.0),
}


@cache
def _mean_face() -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(MEAN_FACE) as data:
            shape, depth = data["landmarks"].astype(np.float32), data["depth"].astype(np.float32)
    except (OSError, KeyError, ValueError) as exc:
        raise ModelError(f"cannot read {MEAN_FACE} ({exc}); rebuild it with: python -m vcam.export.mean_face") from exc
    if shape.shape != (468, 2) or depth.shape != (468,):
        raise ModelError(f"{MEAN_FACE} holds {shape.shape} landmarks, not (468, 2); rebuild it with: python -m vcam.export.mean_face")
    return shape, depth


def mean_face() -> np.ndarray:
    """The shipped mean face shape (built by ``python -m vcam.export.mean_face``)."""
    return _mean_face()[0]


def mean_depth() -> np.ndarray:
    """The mean face's relative depth per landmark, in crop pixels (smaller is nearer the camera)."""
    return _mean_face()[1]


@cache
def inner_weight() -> np.ndarray:
    """Per landmark, how far a virtual shape may move it: 0 on the face oval (the outline stays the
    user's, so the face still fits the head), rising to 1 a tenth of the crop inside it."""
    mean = mean_face()
    oval = mean[face_oval()]
    dist = np.linalg.norm(mean[:, None] - oval[None], axis=2).min(1)
    return np.clip(dist / (0.1 * CROP_SIZE), 0.0, 1.0).astype(np.float32)[:, None]


def _bump(shape: np.ndarray, centre: np.ndarray, radius: float, linear: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Displacement of every landmark by an affine change of one feature that fades with distance."""
    rel = shape - centre
    fade = np.exp(-(rel**2).sum(1) / (2 * radius**2))[:, None]
    return fade * (rel @ (linear - np.eye(2)).T + shift)


def virtual_shape(seed: int) -> np.ndarray:
    """A face shape that is nobody's: the mean face with eye spacing, size and height, brow height
    and tilt, nose width, length and height, mouth width, height and lip fullness drawn from
    ``seed``, within the range of real faces. The same seed always gives the same shape."""
    rng = np.random.default_rng(seed)
    mean = mean_face()
    out = mean.copy()
    spacing, eye_size, eye_y = rng.uniform(-3.0, 3.0), rng.uniform(0.85, 1.15), rng.uniform(-2.0, 2.0)
    brow_y, brow_tilt = rng.uniform(-3.0, 2.0), rng.uniform(-0.12, 0.12)
    for side, sign in (("left", 1.0), ("right", -1.0)):
        eye, r = FEATURES[f"{side}_eye"]
        out += _bump(mean, mean[eye].mean(0), r, np.eye(2) * eye_size, np.array([sign * spacing, eye_y]))
        brow, r = FEATURES[f"{side}_brow"]
        c, s = np.cos(sign * brow_tilt), np.sin(sign * brow_tilt)
        out += _bump(mean, mean[brow].mean(0), r, np.array([[c, -s], [s, c]]), np.array([sign * spacing, eye_y + brow_y]))
    nose, r = FEATURES["nose"]
    out += _bump(mean, mean[nose].mean(0), r, np.diag([rng.uniform(0.85, 1.2), rng.uniform(0.9, 1.12)]), np.array([0.0, rng.uniform(-2.0, 2.0)]))
    mouth, r = FEATURES["mouth"]
    out += _bump(mean, mean[mouth].mean(0), r, np.diag([rng.uniform(0.85, 1.15), rng.uniform(0.8, 1.25)]), np.array([0.0, rng.uniform(-3.0, 3.0)]))
    return mean + inner_weight() * (out - mean)


def virtual_depth(seed: int) -> np.ndarray:
    """The virtual person's relative depth per landmark: the mean face's, deeper or flatter overall
    and with a more or less prominent nose, drawn from ``seed``."""
    rng = np.random.default_rng([seed, 2])
    mean = mean_depth()
    nose, r = FEATURES["nose"]
    near_nose = np.exp(-((mean_face() - mean_face()[nose].mean(0)) ** 2).sum(1) / (2 * r**2))
    return (mean.mean() + (mean - mean.mean()) * rng.uniform(0.8, 1.3) * (1.0 + rng.uniform(-0.2, 0.35) * near_nose)).astype(np.float32)


def mean_mesh() -> np.ndarray:
    """(468, 3): the mean face shape with its depth, the canonical frame of every pose fit."""
    return np.column_stack([mean_face(), mean_depth()])


def pose_fit(mesh: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Scale ``s``, rotation ``R`` (3x3) and shift ``t`` with ``mesh ≈ s * mean_mesh() @ R.T + t``
    in the least-squares sense (Umeyama): the head's pose, whatever the face's own shape."""
    canon = mean_mesh()
    mu_c, mu_m = canon.mean(0), mesh.mean(0)
    a, b = canon - mu_c, mesh - mu_m
    u, sig, vt = np.linalg.svd(b.T @ a)
    flip = np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))])
    rot = u @ flip @ vt
    scale = float((sig * np.diag(flip)).sum() / (a**2).sum())
    return scale, rot, mu_m - scale * rot @ mu_c


class UserShape:
    """The identity part of each tracked user's face: a slow running mean (time constant ``frames``)
    of the track's mesh brought to the canonical frame (pose removed by ``pose_fit``), which also
    averages expressions away."""

    def __init__(self, frames: float = 60.0) -> None:
        self.rate = 1.0 / frames
        self._shapes: dict[int, np.ndarray] = {}
        self._seen: dict[int, int] = {}

    def update(self, track_id: int, mesh: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
        """Fold ``mesh`` ((468, 3), crop pixels) into track ``track_id``'s mean; returns the mean
        (canonical frame) and the frame's pose scale and rotation."""
        scale, rot, shift = pose_fit(mesh)
        canon = (mesh - shift) @ rot / scale
        n = self._seen[track_id] = self._seen.get(track_id, 0) + 1
        prev = self._shapes.get(track_id, canon)
        rate = max(self.rate, 1.0 / n)  # a plain mean until the window is full
        self._shapes[track_id] = (prev + rate * (canon - prev)).astype(np.float32)
        return self._shapes[track_id], scale, rot

    def forget(self, live_ids: set[int]) -> None:
        for tid in set(self._shapes) - live_ids:
            del self._shapes[tid], self._seen[tid]
