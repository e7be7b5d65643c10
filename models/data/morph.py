"""Synthetic identities: landmark-aligned blends of two REAL faces of different people.

A handful of training identities lets the AE learn perturbations that fool the judges on those
faces only. A morph of two people is, to dlib, a third face (six LFW-10 morphs lay 0.34-0.66
from either parent; two photos of one person there: 0.32-0.42), so morphs widen the faces
training sees without new photos. Photo ``b`` is first brought into ``a``'s frame by a similarity transform
on the MediaPipe landmarks; both are warped piecewise-affinely onto the blended landmarks, and
the blend replaces ``a``'s face oval (feathered), so hair and background stay ``a``'s.

Usage::

    with FaceTracker(max_faces=1, static=True) as tracker:
        image = morph_faces(photo_a, photo_b, tracker, weight=0.5)   # uint8 RGB, a's size
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from scipy.interpolate import LinearNDInterpolator

from vcam.engine.face_regions import feathered_mask
from vcam.engine.tracking import FaceTracker, transform_points


def _load(photo: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(photo)), cv2.COLOR_BGR2RGB)


def _warp(image: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Piecewise-affine warp of ``image`` moving landmarks ``src`` to ``dst`` (same-size output;
    the image corners and edge midpoints stay put)."""
    h, w = image.shape[:2]
    edge = np.array([[x, y] for x in (0, w / 2, w - 1) for y in (0, h / 2, h - 1) if (x, y) != (w / 2, h / 2)], np.float64)
    inverse = LinearNDInterpolator(np.vstack([dst, edge]), np.vstack([src, edge]))
    gy, gx = np.mgrid[0:h, 0:w]
    maps = inverse(gx.ravel(), gy.ravel()).reshape(h, w, 2).astype(np.float32)
    return cv2.remap(image, maps[..., 0], maps[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def morph_faces(a: np.ndarray, b: np.ndarray, tracker: FaceTracker, weight: float = 0.5) -> np.ndarray | None:
    """uint8 RGB ``a`` with its face replaced by the blend ``(1 - weight)·a + weight·b`` in
    shape and texture; ``None`` if either photo has no face. ``tracker`` must be static."""
    found_a, found_b = tracker.detect(a), tracker.detect(b)
    if not found_a or not found_b:
        return None
    la, lb = found_a[0].astype(np.float64), found_b[0].astype(np.float64)
    to_a, _ = cv2.estimateAffinePartial2D(lb, la)
    h, w = a.shape[:2]
    b_in_a = cv2.warpAffine(b, to_a, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    lb = transform_points(to_a, lb)
    target = (1 - weight) * la + weight * lb
    blend = (1 - weight) * _warp(a, la, target).astype(np.float32) + weight * _warp(b_in_a, lb, target)
    mask = feathered_mask(target, (h, w))[..., None]
    return np.clip(np.round(mask * blend + (1 - mask) * a), 0, 255).astype(np.uint8)


def morph_identities(photos: dict[str, Sequence[Path]], count: int, seed: int = 0) -> dict[str, list[np.ndarray]]:
    """``count`` synthetic identities ``"<a>+<b>"``, one morph each, from random pairs of the
    given identities (each a random photo; blend weight 0.4-0.6). Pairs whose faces are not
    found are skipped, so fewer may come back."""
    rng = np.random.default_rng(seed)
    pairs = list(itertools.permutations(sorted(photos), 2))
    out: dict[str, list[np.ndarray]] = {}
    with FaceTracker(max_faces=1, static=True) as tracker:
        for k in rng.permutation(len(pairs))[:count]:
            ia, ib = pairs[k]
            a, b = (_load(photos[i][int(rng.integers(len(photos[i])))]) for i in (ia, ib))
            image = morph_faces(a, b, tracker, float(rng.uniform(0.4, 0.6)))
            if image is not None:
                out[f"{ia}+{ib}"] = [image]
    return out
