"""``anonymise``: the face becomes a virtual person who does not exist, moved by the user's own
expressions and head, lit by the scene and carrying the user's own pulse.

Per frame and face: the output shape is the virtual person's shape plus the user's deviation from
their own running mean shape (expression, blinks, mouth), both in a pose-free frame, turned and
placed as the user's head is, with the face outline kept the user's. The virtual person's relative
albedo is warped onto it and multiplied by the user's skin colour smoothed over the skin only
(normalised convolution, so eyes, brows and lips do not leak in): the light and the pulse, both
low spatial frequencies, are the user's, every feature is the virtual person's. The eyes are drawn (the virtual person's iris, the user's gaze and sclera
colour read from the live frame); the mouth opening is taken from the live frame, moved to where
the virtual face has it. No pixel of the raw face texture is pasted at any strength;
``strength`` sets how far the geometry moves (and, above 1, how much the skin colour is smoothed).
"""

from __future__ import annotations

import cv2
import numpy as np

from vcam.engine.face_regions import skin_colour
from vcam.engine.filters.base import FaceFilter, between, clamp_strength
from vcam.engine.tracking import CROP_SIZE
from vcam.engine.virtual_face.identity import EYES, LIPS_INNER, VirtualPerson, draw_person
from vcam.engine.virtual_face.shape import UserShape, inner_weight

_SCLERA_TINT = np.array([1.0, 0.97, 0.94], np.float32)


def _opening(points: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Soft (S, S, 1) mask of the polygon ``points``."""
    mask = np.zeros(shape[:2], np.float32)
    cv2.fillPoly(mask, [np.round(points * 4).astype(np.int32)], 1.0, cv2.LINE_AA, 2)
    return cv2.GaussianBlur(mask, (0, 0), 0.7)[..., None]


def _eye_frame(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """An eye's centre, unit axis from corner to corner, and width."""
    corners = points[[np.argmin(points[:, 0]), np.argmax(points[:, 0])]]
    axis = corners[1] - corners[0]
    width = float(np.linalg.norm(axis)) or 1.0
    return corners.mean(0), axis / width, width


def gaze(crop: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where the iris is in an eye (``points``: its opening in crop pixels), as (along, across) the
    corner axis in eye widths from the eye's centre, and the opening's sclera colour."""
    mask = _opening(points, crop.shape)[..., 0] > 0.5
    if mask.sum() < 4:
        return np.zeros(2), np.full(3, 0.75, np.float32)
    pixels = crop[mask]
    lum = pixels.mean(1)
    dark = lum <= np.percentile(lum, 30)
    ys, xs = np.nonzero(mask)
    spot = np.array([xs[dark].mean(), ys[dark].mean()])
    centre, axis, width = _eye_frame(points)
    rel = spot - centre
    sclera = pixels[lum >= np.percentile(lum, 90)].mean(0)
    return np.array([rel @ axis, rel @ np.array([-axis[1], axis[0]])]) / width, sclera


def render_eyes(face: np.ndarray, crop: np.ndarray, user: np.ndarray, out: np.ndarray, iris: np.ndarray) -> np.ndarray:
    """``face`` with each eye opening (at ``out``) drawn: the user's gaze and sclera colour (at least
    a little brighter than the skin) read from the live ``crop`` at the user's landmarks
    ``user``, an iris of relative colour ``iris``; no eye pixel of the user is copied."""
    for ring in EYES:
        (along, across), sclera = gaze(crop, user[ring])
        centre, axis, width = _eye_frame(out[ring])
        x, y = np.round(centre).astype(int)
        skin = face[np.clip(y, 0, face.shape[0] - 1), np.clip(x, 0, face.shape[1] - 1)].mean()
        sclera = np.clip(np.maximum(sclera, 1.3 * skin * _SCLERA_TINT), 0.0, 0.95)
        spot = np.round(4 * (centre + width * (along * axis + across * np.array([-axis[1], axis[0]])))).astype(int)
        iris_disc, pupil = np.zeros(face.shape[:2], np.float32), np.zeros(face.shape[:2], np.float32)
        cv2.circle(iris_disc, tuple(spot), round(0.19 * width * 4), 1.0, -1, cv2.LINE_AA, 2)
        cv2.circle(pupil, tuple(spot), round(0.07 * width * 4), 1.0, -1, cv2.LINE_AA, 2)
        eye = sclera * (1.0 + iris_disc[..., None] * (iris - 1.0)) * (1.0 - 0.85 * pupil[..., None])
        face = face + _opening(out[ring], face.shape) * (eye - face)
    return face


def transplant_mouth(face: np.ndarray, crop: np.ndarray, user: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``face`` with the mouth opening (inside the lips at ``out``) taken from the live ``crop``,
    moved from the user's landmarks ``user`` to ``out``."""
    move = out[LIPS_INNER].mean(0) - user[LIPS_INNER].mean(0)
    moved = cv2.warpAffine(crop, np.array([[1, 0, move[0]], [0, 1, move[1]]], np.float32), crop.shape[1::-1], borderMode=cv2.BORDER_REPLICATE)
    mask = _opening(out[LIPS_INNER], crop.shape)
    return face + mask * (moved - face)


class AnonymiseFilter(FaceFilter):
    name = "anonymise"

    def __init__(self, seed: int) -> None:
        self.person: VirtualPerson = draw_person(seed)
        self._users = UserShape()

    def process(self, crop: np.ndarray, track_id: int, strength: float = 1.0, landmarks: np.ndarray | None = None) -> np.ndarray:
        if landmarks is None:
            raise ValueError("anonymise needs the face's landmarks in crop coordinates")
        strength = clamp_strength(strength)
        user, scale, rot = self._users.update(track_id, landmarks)
        move = between(0.6, 1.0, min(strength, 1.0))
        offset = inner_weight() * (self.person.mesh - user)  # identity change, canonical frame
        out = landmarks[:, :2] + move * scale * (offset @ rot.T)[:, :2]  # turned with the head
        landmarks = landmarks[:, :2]
        where = self.person.warp.backward_map(out)
        albedo = self.person.warp.apply(self.person.albedo, where)
        sigma = between(0.1, 0.12, strength) * CROP_SIZE * (1.0 + max(0.0, strength - 1.0))
        face = skin_colour(crop, landmarks, sigma) * albedo
        face = render_eyes(face, crop, landmarks, out, self.person.iris)
        return np.clip(transplant_mouth(face, crop, landmarks, out), 0.0, 1.0).astype(np.float32)

    def forget(self, live_ids: set[int]) -> None:
        self._users.forget(live_ids)


def build(seed: int) -> AnonymiseFilter:
    return AnonymiseFilter(seed)
