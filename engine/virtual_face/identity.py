"""A virtual person: a face that belongs to nobody, drawn from a seed without any photograph.

The person is a shape (``shape.virtual_shape``) and a *relative albedo* painted at that shape in
crop coordinates: 1 on plain skin, and, as multipliers of the skin colour, the person's own skin
grain and marks, brows, lash lines, eye sockets, nostrils, nose sides and lips. The renderer
multiplies it with the user's own smoothed skin colour, so the scene's light and the user's pulse
come through while every feature that tells people apart is the virtual person's.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vcam.engine.face_mesh import REGIONS
from vcam.engine.face_regions import chains, face_oval_mask
from vcam.engine.tracking import CROP_SIZE
from vcam.engine.virtual_face.shape import virtual_depth, virtual_shape
from vcam.engine.virtual_face.warp import MeshWarp

LIPS_OUTER, LIPS_INNER = chains(REGIONS["LIPS"])
EYES = (chains(REGIONS["LEFT_EYE"])[0], chains(REGIONS["RIGHT_EYE"])[0])
BROWS = (chains(REGIONS["LEFT_EYEBROW"]), chains(REGIONS["RIGHT_EYEBROW"]))
NOSTRILS = (np.array([79, 75, 60, 20]), np.array([309, 305, 290, 250]))
FEATURES_BROW_TOP = np.array([105, 334, 66, 296])
LOWER_FACE = np.array([61, 206, 2, 426, 291, 410, 432, 430, 394, 379, 378, 400, 377, 152, 148, 176, 149, 150, 169, 210, 212, 186])
NOSE_SIDES = (np.array([64, 98, 48, 115, 220]), np.array([294, 327, 278, 344, 440]))

# Hair colours of brows, as multipliers of skin: near black to light brown.
_BROW_TONES = np.array([[0.30, 0.28, 0.27], [0.42, 0.36, 0.32], [0.55, 0.46, 0.40], [0.68, 0.58, 0.50]], np.float32)


# Iris colours relative to the sclera: dark brown, brown, hazel, green, grey, blue.
_IRIS_TONES = np.array([[0.25, 0.17, 0.12], [0.38, 0.26, 0.17], [0.45, 0.38, 0.22], [0.36, 0.42, 0.30], [0.45, 0.48, 0.50], [0.32, 0.42, 0.55]], np.float32)


def _poly(points: np.ndarray) -> np.ndarray:
    return np.round(points * 4).astype(np.int32)  # drawn with shift=2: quarter-pixel precision


def _brow_outline(shape: np.ndarray, edges: list[np.ndarray]) -> np.ndarray:
    """The brow's closed outline from MediaPipe's upper and lower brow lines."""
    a, b = (shape[e] for e in edges)
    if np.linalg.norm(a[-1] - b[0]) > np.linalg.norm(a[-1] - b[-1]):
        b = b[::-1]
    return np.vstack([a, b])


@dataclass(frozen=True)
class VirtualPerson:
    """The virtual person drawn from ``seed``: ``shape`` (468, 2) and ``depth`` (468,), ``albedo``
    (S, S, 3) float32, the ``warp`` that moves the albedo onto a frame's landmarks and the ``iris`` colour."""

    seed: int
    shape: np.ndarray
    depth: np.ndarray
    albedo: np.ndarray
    warp: MeshWarp
    iris: np.ndarray  # iris colour relative to the sclera

    @property
    def mesh(self) -> np.ndarray:
        """(468, 3): shape and depth, in the canonical frame of ``shape.pose_fit``."""
        return np.column_stack([self.shape, self.depth])


def relief(warp: MeshWarp, depth: np.ndarray, light: tuple[float, float, float] = (0.0, -0.4, 1.0), ambient: float = 0.55) -> np.ndarray:
    """Relative shading (mean 1 inside the face) of a face with per-landmark ``depth`` drawn at
    ``warp``'s landmarks, lit from ``light`` (x right, y down, z towards the camera)."""
    height = -depth
    surface = cv2.GaussianBlur(warp.interpolate(height[:, None], float(height.min()))[..., 0], (0, 0), 1.5)
    gx, gy = cv2.Sobel(surface, cv2.CV_32F, 1, 0) / 8, cv2.Sobel(surface, cv2.CV_32F, 0, 1) / 8
    normal = np.dstack([-gx, -gy, np.ones_like(gx)])
    normal /= np.linalg.norm(normal, axis=2, keepdims=True)
    lamp = np.array(light, np.float32) / np.linalg.norm(light)
    shade = ambient + (1 - ambient) * np.clip(normal @ lamp, 0.0, 1.0)
    oval = face_oval_mask(warp.points[: len(height)], shade.shape)
    shade /= shade[oval > 0].mean()
    inside = cv2.GaussianBlur(cv2.erode(oval, np.ones((5, 5), np.uint8)).astype(np.float32) / 255, (0, 0), 3.0)
    return (inside * shade + (1 - inside)).astype(np.float32)  # towards the outline: the user's own shading


def _blank(albedo: np.ndarray) -> np.ndarray:
    return np.zeros(albedo.shape[:2], np.float32)


def _soft(layer: np.ndarray, blur: float) -> np.ndarray:
    return cv2.GaussianBlur(layer, (0, 0), blur)


def _tint(albedo: np.ndarray, mask: np.ndarray, colour: np.ndarray | float) -> None:
    albedo *= 1.0 + mask[..., None] * (np.asarray(colour, np.float32) - 1.0)


def _noise(rng: np.random.Generator, size: int, blur: float) -> np.ndarray:
    field = cv2.GaussianBlur(rng.standard_normal((size, size)).astype(np.float32), (0, 0), blur)
    return field / field.std()


def _skin(albedo: np.ndarray, shape: np.ndarray, rng: np.random.Generator) -> None:
    size = albedo.shape[0]
    albedo *= 1.0 + rng.uniform(0.008, 0.018) * _noise(rng, size, rng.uniform(0.6, 1.0))[..., None]
    albedo *= 1.0 + rng.uniform(0.005, 0.015) * _noise(rng, size, 6.0)[..., None] * np.array([0.6, 1.0, 1.0], np.float32)
    marks = _blank(albedo)
    for _ in range(rng.integers(0, 5)):
        cv2.circle(marks, tuple((rng.uniform(0.25, 0.75, 2) * size).astype(int)), 1, 1.0, -1)
    _tint(albedo, _soft(marks, 0.6), np.array([0.7, 0.6, 0.55]))


def _eyes(albedo: np.ndarray, shape: np.ndarray, rng: np.random.Generator) -> None:
    depth, lash = rng.uniform(0.05, 0.12), rng.uniform(0.45, 0.7)
    for eye in EYES:
        pts = shape[eye]
        (cx, cy), width = pts.mean(0), float(np.ptp(pts[:, 0]))
        socket = _blank(albedo)
        cv2.ellipse(socket, (round(cx), round(cy - 1)), (round(0.75 * width), round(0.45 * width)), 0, 0, 360, 1.0, -1)
        albedo *= 1.0 - depth * _soft(socket, width * 0.25)[..., None]
        upper = pts[pts[:, 1] <= cy]
        line = _blank(albedo)
        cv2.polylines(line, [_poly(upper[np.argsort(upper[:, 0])])], False, 1.0, 2, cv2.LINE_AA, 2)
        _tint(albedo, _soft(line, 0.5), lash)


def _brows(albedo: np.ndarray, shape: np.ndarray, rng: np.random.Generator) -> None:
    tone = _BROW_TONES[rng.integers(len(_BROW_TONES))] * rng.uniform(0.9, 1.1)
    thickness = int(rng.integers(0, 3))
    for edges in BROWS:
        outline, brow = _poly(_brow_outline(shape, edges)), _blank(albedo)
        cv2.fillPoly(brow, [outline], 1.0, cv2.LINE_AA, 2)
        if thickness:
            cv2.polylines(brow, [outline], True, 1.0, thickness, cv2.LINE_AA, 2)
        hairs = np.clip(0.85 + 0.3 * _noise(rng, albedo.shape[0], 0.7), 0.4, 1.0)
        _tint(albedo, _soft(brow, 0.8) * hairs * rng.uniform(0.75, 1.0), tone)


def _nose(albedo: np.ndarray, shape: np.ndarray, rng: np.random.Generator) -> None:
    for side in NOSE_SIDES:
        shade = _blank(albedo)
        cv2.polylines(shade, [_poly(shape[side])], False, 1.0, 3, cv2.LINE_AA, 2)
        albedo *= 1.0 - rng.uniform(0.04, 0.09) * _soft(shade, 2.0)[..., None]
    holes = _blank(albedo)
    for nostril in NOSTRILS:
        cv2.ellipse(holes, tuple(_poly(shape[nostril].mean(0))), (7, 4), 0, 0, 360, 1.0, -1, cv2.LINE_AA, 2)
    _tint(albedo, _soft(holes, 0.8), np.array([0.45, 0.38, 0.38]))


def _lips(albedo: np.ndarray, shape: np.ndarray, rng: np.random.Generator) -> None:
    lips = _blank(albedo)
    cv2.fillPoly(lips, [_poly(shape[LIPS_OUTER])], 1.0, cv2.LINE_AA, 2)
    _tint(albedo, _soft(lips, 0.7), np.array([rng.uniform(0.8, 0.92), rng.uniform(0.55, 0.68), rng.uniform(0.58, 0.7)]))


def _tone(albedo: np.ndarray, shape: np.ndarray, rng: np.random.Generator) -> None:
    """The person's own complexion: lighter or darker, redder or more yellow than the user's skin."""
    albedo *= rng.uniform(0.78, 1.18) * np.array([1.0 + rng.uniform(-0.06, 0.08), 1.0, 1.0 - rng.uniform(-0.05, 0.1)], np.float32)


def _line(albedo: np.ndarray, points: np.ndarray, darkness: float, width: int = 1, blur: float = 0.8) -> None:
    layer = _blank(albedo)
    cv2.polylines(layer, [_poly(points)], False, 1.0, width, cv2.LINE_AA, 2)
    albedo *= 1.0 - darkness * _soft(layer, blur)[..., None]


def _age(albedo: np.ndarray, shape: np.ndarray, rng: np.random.Generator) -> None:
    """Folds and lines of an age drawn from ``rng``: nose-to-mouth folds, forehead lines, crow's feet,
    shadows under the eyes."""
    age = rng.uniform(0.0, 1.0)
    for alar, corner, sign in ((64, 61, -1.0), (294, 291, 1.0)):
        start, end = shape[alar], shape[corner] + np.array([sign * 3.0, 4.0])
        bend = (start + end) / 2 + np.array([sign * 2.5, 0.0])
        _line(albedo, np.array([start, bend, end]), 0.05 + 0.15 * age, 2, 1.2)
    top, brow = shape[10], (shape[FEATURES_BROW_TOP].mean(0))
    for k in range(int(age * 4)):
        y = brow[1] + (top[1] - brow[1]) * (0.3 + 0.15 * k)
        x = np.linspace(brow[0] - 18, brow[0] + 18, 5)
        _line(albedo, np.column_stack([x, y + 1.5 * np.cos(np.linspace(-1, 1, 5))]), 0.04 + 0.08 * age)
    for corner, sign in ((33, -1.0), (263, 1.0)):
        for dy in (-2.0, 0.0, 2.0)[: int(age * 3.5)]:
            _line(albedo, np.array([shape[corner] + [sign * 2, 0], shape[corner] + [sign * 7, dy * 1.5]]), 0.06 + 0.06 * age)
    for eye in EYES:
        pts = shape[eye]
        shadow = _blank(albedo)
        cv2.ellipse(shadow, tuple(_poly(pts.mean(0) + [0, 4])), (int(np.ptp(pts[:, 0]) * 2), 12), 0, 0, 180, 1.0, -1, cv2.LINE_AA, 2)
        _tint(albedo, _soft(shadow, 2.0), np.array([1.0 - 0.12 * age, 1.0 - 0.14 * age, 1.0 - 0.08 * age]))


def _cheeks(albedo: np.ndarray, shape: np.ndarray, rng: np.random.Generator) -> None:
    """Rosy or pale cheeks, and freckles for some."""
    blush = rng.uniform(0.0, 0.12)
    for cheek in (205, 425):
        spot = _blank(albedo)
        cv2.circle(spot, tuple(_poly(shape[cheek])), 40, 1.0, -1, cv2.LINE_AA, 2)
        _tint(albedo, _soft(spot, 5.0), np.array([1.0, 1.0 - blush, 1.0 - blush]))
    if rng.random() < 0.3:
        freckles = _blank(albedo)
        centre = shape[4]
        for _ in range(int(rng.integers(20, 60))):
            cv2.circle(freckles, tuple((centre + rng.normal(0, [14, 7])).astype(int)), 0, 1.0, -1)
        _tint(albedo, _soft(freckles, 0.5), np.array([0.8, 0.7, 0.65]))


def _facial_hair(albedo: np.ndarray, shape: np.ndarray, rng: np.random.Generator) -> None:
    """Stubble, a moustache or a beard for some."""
    kind = rng.choice(["none", "none", "stubble", "moustache", "beard"])
    if kind == "none":
        return
    region = _blank(albedo)
    if kind == "moustache":
        cv2.fillPoly(region, [_poly(np.array([shape[61], shape[206], shape[2], shape[426], shape[291], shape[0]]))], 1.0, cv2.LINE_AA, 2)
    else:
        cv2.fillPoly(region, [_poly(shape[LOWER_FACE])], 1.0, cv2.LINE_AA, 2)
        cv2.fillPoly(region, [_poly(shape[LIPS_OUTER])], 0.0, cv2.LINE_AA, 2)
    density = {"stubble": rng.uniform(0.12, 0.22), "moustache": rng.uniform(0.35, 0.55), "beard": rng.uniform(0.4, 0.6)}[kind]
    hairs = np.clip(0.75 + 0.3 * _noise(rng, albedo.shape[0], 0.9), 0.0, 1.0)
    _tint(albedo, _soft(region, 2.0) * hairs * density, _BROW_TONES[rng.integers(len(_BROW_TONES))])


def _glasses(albedo: np.ndarray, shape: np.ndarray, rng: np.random.Generator) -> None:
    """Glasses for some: round or rectangular frames, dark or light."""
    if rng.random() >= 0.35:
        return
    frame = _blank(albedo)
    round_frame, width = rng.random() < 0.5, int(rng.integers(1, 3))
    centres = []
    for eye in EYES:
        pts = shape[eye]
        c, w = pts.mean(0), float(np.ptp(pts[:, 0]))
        centres.append(c)
        half = np.array([0.85 * w, 0.6 * w]) * rng.uniform(0.9, 1.1)
        if round_frame:
            cv2.ellipse(frame, tuple(_poly(c)), tuple(_poly(half)), 0, 0, 360, 1.0, width, cv2.LINE_AA, 2)
        else:
            box = np.array([c - half, [c[0] + half[0], c[1] - half[1]], c + half, [c[0] - half[0], c[1] + half[1]]])
            cv2.polylines(frame, [_poly(box)], True, 1.0, width, cv2.LINE_AA, 2)
    left, right = sorted(centres, key=lambda c: c[0])
    cv2.line(frame, tuple(_poly(left + [8, -2])), tuple(_poly(right - [8, 2])), 1.0, width, cv2.LINE_AA, 2)
    _tint(albedo, _soft(frame, 0.5), np.full(3, rng.uniform(0.2, 0.6), np.float32))


def paint_albedo(shape: np.ndarray, rng: np.random.Generator, shading: np.ndarray) -> np.ndarray:
    """The relative albedo of a face with ``shape`` and relief ``shading`` ((S, S)): complexion, skin
    grain and marks, age lines, cheeks and freckles, eye sockets and lash lines, brows, nose sides and
    nostrils, lips, facial hair and glasses, each drawn from ``rng``."""
    albedo = np.repeat(shading[..., None], 3, axis=2)
    for part in (_tone, _skin, _age, _cheeks, _eyes, _brows, _nose, _lips, _facial_hair, _glasses):
        part(albedo, shape, rng)
    return albedo


def draw_person(seed: int) -> VirtualPerson:
    """The virtual person of ``seed`` (the same seed, the same person, on every machine)."""
    shape, depth = virtual_shape(seed), virtual_depth(seed)
    warp = MeshWarp(shape, CROP_SIZE)
    rng = np.random.default_rng([seed, 1])
    albedo = paint_albedo(shape, rng, relief(warp, depth, ambient=float(rng.uniform(0.45, 0.65))))
    return VirtualPerson(seed, shape, depth, albedo, warp, _IRIS_TONES[rng.integers(len(_IRIS_TONES))] * rng.uniform(0.85, 1.15))
