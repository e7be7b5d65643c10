"""Face filters: float32 (S, S, 3) RGB crop in [0, 1] -> crop of the same layout.

``deid`` runs the streaming AE with one temporal state per face track; ``blur`` (Gaussian
sigma 12 px on the 128 px crop) and ``pixelate`` (10x10 blocks) are the paper's baselines;
``pattern`` adds a learned universal identity pattern, warped onto each crop by dlib's 5-point
alignment of that crop, smoothed per track (``identity_pattern``; no change over time of its own);
``adaptive`` (the runtime's default) starts each face from that pattern and adapts it to the face
while it is on screen (steps of dlib's descriptor gradient, ``identity_gradient``, within a PSNR
budget, until dlib's distance to the raw face reaches 1.2);
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
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .backends import choose_backend
from .errors import ModelError
from .identity import CHIP_SIZE, FaceEmbedder
from .identity_gradient import DescriptorGradient
from .identity_pattern import ADAPTIVE_START, DEFAULT_PATTERN, load_pattern, warp_pattern
from .streaming_model import StreamingModel

FILTERS = ("adaptive", "deid", "pattern", "blur", "pixelate", "off")
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


def _local_contrast(chip: np.ndarray, window: int = 7) -> np.ndarray:
    """float32 (H, W) local standard deviation of ``chip``'s grey level in ``window`` px, scaled
    to mean 1: where a face has texture, SSIM tolerates change; on smooth skin it does not."""
    grey = chip.mean(axis=2)
    mean = cv2.blur(grey, (window, window))
    std = np.sqrt(np.maximum(cv2.blur(grey * grey, (window, window)) - mean * mean, 0.0))
    return std / max(float(std.mean()), 1e-6)


@dataclass
class _AdaptiveTrack:
    change: np.ndarray  # float32 (150, 150, 3): the track's change at strength 1, in the chip frame
    reference: np.ndarray | None = None  # dlib's descriptor of the raw face
    referenced_at: int = 0  # the frame it was read on
    adapting: bool = True  # dlib's distance was below the target at the last check
    frames: int = 0


class AdaptivePatternFilter(PatternFilter):
    """The universal pattern as each face's starting point, then adapted to that face while it is
    on screen: on every frame on which dlib's distance between the protected and the raw face is
    below ``target`` one step of its gradient (``identity_gradient``; up to ``first_steps`` on a
    face's first frame, the one an attacker sees first) moves the track's change further away
    (``step``: a tenth of the budget's norm), and the change is kept within ``psnr_db``
    on the crop (times the strength). Once a face is that far, the change stays still. The step is
    weighted by the face's local contrast (SSIM tolerates change in texture, not on smooth skin)
    and has zero mean per colour channel, so it does not move the face's mean colour, which is
    what rPPG reads.
    Once a face is past ``target``, the distance is checked only every ``check_every`` frames (the
    frames between only warp the change), and one of those checks in every ``reference_every``
    frames re-reads the raw face's descriptor instead (by the same ONNX graph's forward half:
    ~10 ms, where dlib's own took ~120 ms and stalled the frame). So a frame costs at most one
    descriptor gradient (~14 ms, ~2 dlib passes; a face's first frame up to ``first_steps``), paid
    on every frame only while the face adapts (its first frames, and after a check that found it
    too close again) and on one in ``check_every`` otherwise."""

    name = "adaptive"

    def __init__(self, pattern: np.ndarray, gradient: DescriptorGradient | None = None, embedder: FaceEmbedder | None = None,
                 psnr_db: float = 34.0, step: float = 0.1, target: float = 1.2, first_steps: int = 4, check_every: int = 5,
                 reference_every: int = 30, smoothing: float = 0.8) -> None:
        super().__init__(pattern, embedder, smoothing)
        self.gradient = gradient or DescriptorGradient()
        self.psnr_db, self.step, self.target, self.first_steps = psnr_db, step, target, first_steps
        self.check_every, self.reference_every = check_every, reference_every
        self._tracks: dict[int, _AdaptiveTrack] = {}

    def process(self, crop: np.ndarray, track_id: int, strength: float = 1.0) -> np.ndarray:
        h, w = crop.shape[:2]
        placement = self._place(crop, track_id)
        track = self._tracks.setdefault(track_id, _AdaptiveTrack(self.pattern.copy()))
        s = np.float32(clamp_strength(strength))
        budget = h * w * 3 * 10 ** (-self.psnr_db / 10)  # squared L2 norm of the crop's change at strength 1
        chip = cv2.warpAffine(crop, placement, (CHIP_SIZE, CHIP_SIZE), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_REPLICATE)
        if track.adapting or track.frames % self.check_every == 0:
            if reread := track.reference is None or track.frames - track.referenced_at >= self.reference_every:
                track.reference, track.referenced_at = self.gradient.describe(np.clip(chip, 0.0, 1.0) * 255), track.frames
            if track.adapting or not reread:  # a settled face's check waits for its next turn
                contrast = _local_contrast(chip)[..., None]
                for _ in range(self.first_steps if track.frames == 0 else 1):
                    distance, grad, _ = self.gradient(np.clip(chip + s * track.change, 0.0, 1.0) * 255, track.reference)
                    track.adapting = distance < self.target
                    if not track.adapting:
                        break
                    grad *= contrast
                    grad -= grad.mean(axis=(0, 1))
                    track.change += np.float32(self.step * budget ** 0.5) * grad / max(float(np.linalg.norm(grad)), 1e-12)
                    self._bound(track, placement, (w, h), budget)
        change = self._bound(track, placement, (w, h), budget)
        track.frames += 1
        return np.clip(crop + s * change, 0.0, 1.0)

    @staticmethod
    def _bound(track: _AdaptiveTrack, placement: np.ndarray, size: tuple[int, int], budget: float) -> np.ndarray:
        """The track's change warped onto the crop, the change first scaled down to fit ``budget`` there."""
        change = warp_pattern(track.change, placement, size)
        if (energy := float(np.sum(change**2))) > budget:
            scale = np.float32((budget / energy) ** 0.5)
            track.change *= scale
            change *= scale
        return change

    def forget(self, live_ids: set[int]) -> None:
        super().forget(live_ids)
        for tid in set(self._tracks) - live_ids:
            del self._tracks[tid]


def pattern_file(model: Path | None, name: str = "pattern") -> Path:
    """The pattern file ``make_filter(name, model)`` uses (``pattern`` or ``adaptive``): ``model``
    if it is a ``.npz``, else the shipped one for that filter."""
    if model is not None and Path(model).suffix == ".npz":
        return Path(model)
    return ADAPTIVE_START if name == "adaptive" else DEFAULT_PATTERN


def make_filter(name: str, model: Path | None = None, backend: str = "auto", threads: int = 1, precision: str = "auto",
                allow_untrained: bool = False) -> FaceFilter:
    """Build a filter by name; ``deid`` loads ``model``, ``pattern`` and ``adaptive`` load
    ``pattern_file(model, name)`` (raises ``ModelError`` if unusable); ``threads`` go to the AE's
    backend. The adaptive filter's descriptor gradient runs on one thread: it shares the cores with
    tracking and the monitors, and live at 720p two threads dropped 3-6 of 300 frames where one
    dropped none (benchmarks/pipeline.py, one run each)."""
    if name == "off":
        return OffFilter()
    if name == "blur":
        return BlurFilter()
    if name == "pixelate":
        return PixelateFilter()
    if name == "pattern":
        return PatternFilter(load_pattern(pattern_file(model))[0])
    if name == "adaptive":
        return AdaptivePatternFilter(load_pattern(pattern_file(model, name))[0], DescriptorGradient(threads=1))
    if name == "deid":
        if model is not None and Path(model).suffix == ".npz":
            raise ModelError(f"{model} is an identity pattern, not an AE model; use --filter pattern with it")
        if model is None or not Path(model).is_file():
            raise ModelError(f"filter 'deid' needs a trained model and none was found{f' at {model}' if model else ''}; train one with vcam-train, pass --model PATH, or use --filter blur")
        return DeidFilter(StreamingModel(choose_backend(backend, Path(model), threads, precision)), allow_untrained)
    raise ModelError(f"unknown filter {name!r}; choose one of {', '.join(FILTERS)}")
