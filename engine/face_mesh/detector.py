"""MediaPipe's short-range BlazeFace face detector on onnxruntime.

Input: a whole uint8 RGB image, letterboxed to 128x128. Output: ``Detection``s in image pixels,
best first, each with MediaPipe's six keypoints (the person's right eye, left eye, nose tip, mouth,
right ear, left ear). Decoding follows MediaPipe's graph: 896 SSD anchors, sigmoid scores over 0.5,
weighted non-maximum suppression at IoU 0.3.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vcam.engine.asset_files import asset
from vcam.engine.inference.backends import OrtBackend

SIZE = 128
MIN_SCORE = 0.5
NMS_IOU = 0.3
_CLIP = 100.0  # raw score logits are clipped to +-this before the sigmoid


@dataclass(frozen=True)
class Detection:
    """A face's box (x0, y0, x1, y1), its six keypoints ``(6, 2)`` and its score, in image pixels."""

    box: np.ndarray
    keypoints: np.ndarray
    score: float


def anchors() -> np.ndarray:
    """``(896, 2)`` anchor centres in [0, 1]: two per cell of a 16x16 grid, then six per cell of an 8x8."""
    out = []
    for grid, per_cell in ((16, 2), (8, 6)):
        centres = (np.stack(np.meshgrid(np.arange(grid), np.arange(grid)), -1).reshape(-1, 2) + 0.5) / grid
        out.append(np.repeat(centres, per_cell, axis=0))
    return np.concatenate(out).astype(np.float32)


def _area(boxes: np.ndarray) -> np.ndarray:
    return np.prod(boxes[..., 2:] - boxes[..., :2], axis=-1)


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    lo = np.maximum(box[:2], boxes[:, :2])
    hi = np.minimum(box[2:], boxes[:, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
    return inter / np.maximum(_area(box) + _area(boxes) - inter, 1e-9)


def weighted_nms(boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray) -> list[Detection]:
    """MediaPipe's weighted suppression: each best remaining box absorbs every box overlapping it
    by more than ``NMS_IOU``, and becomes their score-weighted mean (keeping the best score)."""
    order = np.argsort(-scores)
    out = []
    while order.size:
        group = order[_iou(boxes[order[0]], boxes[order]) > NMS_IOU]
        w = scores[group, None]
        out.append(Detection((boxes[group] * w).sum(0) / w.sum(), (keypoints[group] * w[..., None]).sum(0) / w.sum(), float(scores[order[0]])))
        order = np.setdiff1d(order, group, assume_unique=True)
        order = order[np.argsort(-scores[order])]
    return out


class FaceDetector:
    """The shipped BlazeFace model on one onnxruntime CPU thread."""

    def __init__(self, threads: int = 1) -> None:
        self._model = OrtBackend(asset("face_mesh", "detector.onnx"), threads=threads)
        self._input = self._model.input_names[0]
        self._anchors = anchors()

    def __call__(self, image: np.ndarray, min_score: float = MIN_SCORE) -> list[Detection]:
        """Every face in the uint8 RGB ``image`` scoring at least ``min_score``, best first."""
        h, w = image.shape[:2]
        k = SIZE / max(h, w)
        matrix = np.array([[k, 0, (SIZE - k * w) / 2], [0, k, (SIZE - k * h) / 2]])
        square = cv2.warpAffine(image, matrix, (SIZE, SIZE), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
        tensor = (square.astype(np.float32) / 127.5 - 1.0)[None]
        raw, logits = self._model.run({self._input: tensor})
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits[0, :, 0].astype(np.float64), -_CLIP, _CLIP)))
        keep = scores >= min_score
        if not keep.any():
            return []
        raw, anchor = raw[0, keep] / SIZE, self._anchors[keep]
        centre, half = raw[:, :2] + anchor, raw[:, 2:4] / 2
        boxes = np.concatenate([centre - half, centre + half], axis=1) * SIZE
        keypoints = (raw[:, 4:].reshape(-1, 6, 2) + anchor[:, None]) * SIZE
        # Back from the letterboxed square to image pixels.
        offset = matrix[:, 2]
        boxes = (boxes - np.tile(offset, 2)) / k
        keypoints = (keypoints - offset) / k
        return weighted_nms(boxes, keypoints, scores[keep])
