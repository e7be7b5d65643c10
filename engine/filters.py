"""Face filters: float32 (S, S, 3) RGB crop in [0, 1] -> crop of the same layout.

``deid`` runs the streaming AE with one temporal state per face track; ``blur`` (Gaussian
sigma 12 px on the 128 px crop) and ``pixelate`` (10x10 blocks) are the paper's baselines;
``pattern`` adds a learned universal identity pattern, warped onto each crop by dlib's 5-point
alignment of that crop, smoothed per track (``identity_pattern``; no change over time of its own);
``off`` returns the crop unchanged (protection off).

``strength`` (MIN_STRENGTH..MAX_STRENGTH, 1 = as trained) sets how strongly a protecting filter
acts: the AE's perturbation is scaled by it; blur and pixelate get milder down to MIN_STRENGTH
(sigma 12 -> 6 px, 10 -> 16 blocks) but never mix the raw face's detail back in, and stronger
above 1 (sigma 15.75 px, 6 blocks at 1.5); the pattern is scaled like the AE's perturbation.
Strengths outside the range are clamped: the raw face is ``off``. Amplifying the shipped AE's
perturbation 1.5x cut dlib's match rate on unseen validation faces from 18 % to 0.8 % at 21.6 dB
instead of 24.2; SFace 89 % -> 64 % (one run of benchmarks/train_default.py; model card).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import cv2
import numpy as np

from .backends import choose_backend
from .errors import ModelError
from .identity import FaceEmbedder
from .identity_pattern import DEFAULT_PATTERN, load_pattern, warp_pattern
from .streaming_model import StreamingModel

FILTERS = ("deid", "pattern", "blur", "pixelate", "off")
MIN_STRENGTH = 0.2
MAX_STRENGTH = 1.5


def clamp_strength(strength: float) -> float:
    """``strength`` limited to MIN_STRENGTH..MAX_STRENGTH."""
    return min(MAX_STRENGTH, max(MIN_STRENGTH, float(strength)))


def _between(weakest: float, strongest: float, strength: float) -> float:
    """Linear from ``weakest`` (at MIN_STRENGTH) through ``strongest`` (at 1), extended to MAX_STRENGTH."""
    return weakest + (strongest - weakest) * (clamp_strength(strength) - MIN_STRENGTH) / (1.0 - MIN_STRENGTH)


class FaceFilter(ABC):
    """A per-face image filter. ``protects`` is False only for ``off``; ``residual`` filters
    (the AE) are composited as a perturbation of the full-resolution face, the others replace it."""

    name: str
    protects = True
    residual = False

    @abstractmethod
    def process(self, crop: np.ndarray, track_id: int, strength: float = 1.0) -> np.ndarray:
        """Filter one face crop of track ``track_id`` at ``strength`` (clamped to
        MIN_STRENGTH..MAX_STRENGTH); returns a new float32 (S, S, 3) array or, for ``off`` only, ``crop`` itself."""

    def forget(self, live_ids: set[int]) -> None:
        """Drop per-track state of tracks not in ``live_ids``."""


class OffFilter(FaceFilter):
    name = "off"
    protects = False

    def process(self, crop: np.ndarray, track_id: int, strength: float = 1.0) -> np.ndarray:
        return crop


class BlurFilter(FaceFilter):
    name = "blur"

    def __init__(self, sigma: float = 12.0, weakest_sigma: float = 6.0) -> None:
        self.sigma, self.weakest_sigma = sigma, weakest_sigma

    def process(self, crop: np.ndarray, track_id: int, strength: float = 1.0) -> np.ndarray:
        sigma = _between(self.weakest_sigma, self.sigma, strength)
        return cv2.GaussianBlur(crop, (0, 0), sigma, borderType=cv2.BORDER_REPLICATE)


class PixelateFilter(FaceFilter):
    name = "pixelate"

    def __init__(self, blocks: int = 10, weakest_blocks: int = 16) -> None:
        self.blocks, self.weakest_blocks = blocks, weakest_blocks

    def process(self, crop: np.ndarray, track_id: int, strength: float = 1.0) -> np.ndarray:
        n = round(_between(self.weakest_blocks, self.blocks, strength))
        small = cv2.resize(crop, (n, n), interpolation=cv2.INTER_AREA)
        return cv2.resize(small, crop.shape[1::-1], interpolation=cv2.INTER_NEAREST)


class DeidFilter(FaceFilter):
    """The streaming de-identification AE; refuses models not marked as trained."""

    name = "deid"
    residual = True

    def __init__(self, model: StreamingModel, allow_untrained: bool = False) -> None:
        if not model.info.trained and not allow_untrained:
            raise ModelError(f"{model.info.path} holds untrained (random) weights; train a model with vcam-train or use --filter blur")
        self.model = model
        self._states: dict[int, list[np.ndarray]] = {}

    def process(self, crop: np.ndarray, track_id: int, strength: float = 1.0) -> np.ndarray:
        out, self._states[track_id] = self.model.step(crop, self._states.get(track_id))
        strength = clamp_strength(strength)
        return out if strength == 1.0 else crop + np.float32(strength) * (out - crop)

    def forget(self, live_ids: set[int]) -> None:
        for tid in set(self._states) - live_ids:
            del self._states[tid]


class PatternFilter(FaceFilter):
    """A universal identity pattern (``identity_pattern``) added to the face: each crop's own dlib
    alignment places it, so it follows the face. The alignment is smoothed per track
    (exponentially, ``smoothing`` of the previous frame's), since dlib's landmarks jitter by
    fractions of a pixel from frame to frame and a jittering fine pattern flickers."""

    name = "pattern"
    residual = True

    def __init__(self, pattern: np.ndarray, embedder: FaceEmbedder | None = None, smoothing: float = 0.8) -> None:
        self.pattern = np.ascontiguousarray(pattern, dtype=np.float32)
        self.embedder = embedder or FaceEmbedder()
        self.smoothing = smoothing
        self._placement: dict[int, np.ndarray] = {}

    def process(self, crop: np.ndarray, track_id: int, strength: float = 1.0) -> np.ndarray:
        h, w = crop.shape[:2]
        landmarks_in = np.round(np.clip(crop, 0.0, 1.0) * 255).astype(np.uint8)
        placement = self.embedder.chip_matrix(landmarks_in, (0, 0, w - 1, h - 1))
        if (previous := self._placement.get(track_id)) is not None:
            placement = self.smoothing * previous + (1 - self.smoothing) * placement
        self._placement[track_id] = placement
        change = warp_pattern(self.pattern, placement, (w, h))
        return np.clip(crop + np.float32(clamp_strength(strength)) * change, 0.0, 1.0)

    def forget(self, live_ids: set[int]) -> None:
        for tid in set(self._placement) - live_ids:
            del self._placement[tid]


def pattern_file(model: Path | None) -> Path:
    """The pattern file ``make_filter("pattern", model)`` uses: ``model`` if it is a ``.npz``, else the shipped one."""
    return Path(model) if model is not None and Path(model).suffix == ".npz" else DEFAULT_PATTERN


def make_filter(name: str, model: Path | None = None, backend: str = "auto", threads: int = 1, precision: str = "auto",
                allow_untrained: bool = False) -> FaceFilter:
    """Build a filter by name; ``deid`` loads ``model``, ``pattern`` loads ``pattern_file(model)``
    (raises ``ModelError`` if unusable)."""
    if name == "off":
        return OffFilter()
    if name == "blur":
        return BlurFilter()
    if name == "pixelate":
        return PixelateFilter()
    if name == "pattern":
        return PatternFilter(load_pattern(pattern_file(model))[0])
    if name == "deid":
        if model is not None and Path(model).suffix == ".npz":
            raise ModelError(f"{model} is an identity pattern, not an AE model; use --filter pattern with it")
        if model is None or not Path(model).is_file():
            raise ModelError(f"filter 'deid' needs a trained model and none was found{f' at {model}' if model else ''}; train one with vcam-train, pass --model PATH, or use --filter blur")
        return DeidFilter(StreamingModel(choose_backend(backend, Path(model), threads, precision)), allow_untrained)
    raise ModelError(f"unknown filter {name!r}; choose one of {', '.join(FILTERS)}")
