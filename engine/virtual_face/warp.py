"""Piecewise-affine warp of an image drawn at fixed landmarks onto landmarks that move every frame.

The source landmarks (plus anchors on the crop border, which stay put) are triangulated once; every
pixel's barycentric weights in that triangulation are kept. Per frame, the landmark displacements are
spread over the source image with those weights and the backward map is found by fixed-point
iteration (target = source + D(source)), so a frame costs a few small remaps and no rasterising.
"""

from __future__ import annotations

import cv2
import numpy as np


def _anchors(size: int, per_side: int = 4) -> np.ndarray:
    ticks = np.linspace(0.0, size - 1.0, per_side + 1)
    edges = [(t, 0.0) for t in ticks[:-1]] + [(size - 1.0, t) for t in ticks[:-1]]
    edges += [(size - 1.0 - t, size - 1.0) for t in ticks[:-1]] + [(0.0, size - 1.0 - t) for t in ticks[:-1]]
    return np.array(edges, np.float32)


def triangulate(points: np.ndarray, size: int) -> np.ndarray:
    """Delaunay triangles (``(T, 3)`` indices into ``points``) of points inside a ``size``² square."""
    subdiv = cv2.Subdiv2D((-1, -1, size + 2, size + 2))
    for p in points:
        subdiv.insert((float(p[0]), float(p[1])))
    index = {(round(float(x), 3), round(float(y), 3)): i for i, (x, y) in enumerate(points)}
    tris = []
    for t in subdiv.getTriangleList().reshape(-1, 3, 2):
        ids = [index.get((round(float(x), 3), round(float(y), 3))) for x, y in t]
        if None not in ids:
            tris.append(ids)
    return np.array(tris, np.int64)


class MeshWarp:
    """Warps images drawn at ``source`` (``(N, 2)`` crop pixels) of a ``size``² crop so the source
    landmarks land on the ``target`` landmarks of a frame."""

    def __init__(self, source: np.ndarray, size: int, iterations: int = 4) -> None:
        self.size, self.iterations = size, iterations
        anchors = _anchors(size)
        self.points = np.vstack([source, anchors]).astype(np.float32)
        self._moving = len(source)
        tris = triangulate(self.points, size)
        owner = np.zeros((size, size), np.int32)
        for k, tri in enumerate(tris):
            cv2.fillConvexPoly(owner, np.round(self.points[tri]).astype(np.int32), k + 1)
        owner = np.maximum(owner.ravel() - 1, 0)
        ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
        pix = np.stack([xs.ravel(), ys.ravel()], 1)
        corners = self.points[tris[owner]]  # (P, 3, 2)
        basis = np.stack([corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]], 2)  # columns b-a, c-a
        uv = np.linalg.solve(basis, (pix - corners[:, 0])[..., None])[..., 0]
        self._weights = np.column_stack([1.0 - uv.sum(1), uv]).astype(np.float32)
        self._corners = tris[owner]
        self._grid = np.stack([xs, ys], 2)

    def interpolate(self, values: np.ndarray, anchor_value: float = 0.0) -> np.ndarray:
        """``(S, S, C)`` float32: per-landmark ``values`` (``(N, C)``) spread linearly over the source
        triangles; the border anchors hold ``anchor_value``."""
        full = np.full((len(self.points), values.shape[1]), anchor_value, np.float32)
        full[: self._moving] = values
        return np.einsum("pk,pkc->pc", self._weights, full[self._corners]).reshape(self.size, self.size, -1)

    def backward_map(self, target: np.ndarray) -> np.ndarray:
        """``(S, S, 2)`` float32 map: for each output pixel, where to sample the source image."""
        field = self.interpolate(target - self.points[: self._moving])
        where = self._grid
        for _ in range(self.iterations):
            where = self._grid - cv2.remap(field, where[..., 0], where[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        return where

    @staticmethod
    def apply(image: np.ndarray, where: np.ndarray) -> np.ndarray:
        """``image`` sampled at ``where`` (a ``backward_map``)."""
        return cv2.remap(image, where[..., 0], where[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
