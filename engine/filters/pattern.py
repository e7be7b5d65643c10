"""``pattern``: a learned universal identity pattern (``identity_pattern``), placed on each face by
dlib's alignment of it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vcam.engine.errors import ModelError
from vcam.engine.filters.base import FaceFilter, clamp_strength
from vcam.engine.filters.identity_pattern import ADAPTIVE_START, DEFAULT_PATTERN, load_pattern, warp_pattern
from vcam.engine.recognisers import DlibRecogniser


class PatternFilter(FaceFilter):
    """A universal identity pattern (``identity_pattern``) added to the face: each crop's own dlib
    alignment places it, so it follows the face. The alignment is smoothed per track
    (exponentially, ``smoothing`` of the previous frame's), since dlib's landmarks jitter by
    fractions of a pixel from frame to frame and a jittering fine pattern flickers."""

    name = "pattern"
    residual = True

    def __init__(
        self, pattern: np.ndarray, embedder: DlibRecogniser | None = None, smoothing: float = 0.8, learned_with: frozenset[str] = frozenset({"dlib"})
    ) -> None:
        self.pattern = np.ascontiguousarray(pattern, dtype=np.float32)
        self.recognisers = learned_with
        self.embedder = embedder or DlibRecogniser()
        self.smoothing = smoothing
        self._placement: dict[int, np.ndarray] = {}

    def process(self, crop: np.ndarray, track_id: int, strength: float = 1.0, landmarks: np.ndarray | None = None) -> np.ndarray:
        change = warp_pattern(self.pattern, self._place(crop, track_id), crop.shape[1::-1])
        return np.clip(crop + np.float32(clamp_strength(strength)) * change, 0.0, 1.0)

    def _place(self, crop: np.ndarray, track_id: int) -> np.ndarray:
        """The track's smoothed 2x3 chip -> crop matrix, updated with this crop's dlib alignment."""
        h, w = crop.shape[:2]
        landmarks_in = np.round(np.clip(crop, 0.0, 1.0) * 255).astype(np.uint8)
        placement = self.embedder.chip_matrix(landmarks_in, (0, 0, w - 1, h - 1))
        if (previous := self._placement.get(track_id)) is not None:
            placement = self.smoothing * previous + (1 - self.smoothing) * placement
        self._placement[track_id] = placement
        return placement

    def forget(self, live_ids: set[int]) -> None:
        for tid in set(self._placement) - live_ids:
            del self._placement[tid]


def pattern_file(model: Path | None, name: str = "pattern") -> Path:
    """The pattern file ``make_filter(name, model)`` uses (``pattern`` or ``adaptive``): ``model``
    if it is a ``.npz``, the shipped one for that filter if ``model`` is None or the AE's ``.onnx``
    (the setting names the AE for ``deid``); any other file type is refused (``ModelError``) rather
    than silently replaced by the shipped pattern, and an unreadable ``.npz`` fails in ``load_pattern``."""
    if model is None or Path(model).suffix == ".onnx":
        return ADAPTIVE_START if name == "adaptive" else DEFAULT_PATTERN
    if Path(model).suffix != ".npz":
        raise ModelError(f"{model} is not an identity pattern file (.npz) for filter {name}; pass one from vcam-train, or no --model")
    return Path(model)


def learned_with(meta: dict) -> frozenset[str]:
    """The recognisers a pattern file's learning used (its recorded loss weights)."""
    return frozenset({"dlib"} | ({"sface"} if meta.get("sface_weight") else set()))


def build(model: Path | None) -> PatternFilter:
    pattern, meta = load_pattern(pattern_file(model))
    return PatternFilter(pattern, learned_with=learned_with(meta))
