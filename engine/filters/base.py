"""The filter contract and the strength scale every filter shares."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from vcam.engine.frames import FaceTrack

MIN_STRENGTH = 0.2
MAX_STRENGTH = 1.5


def clamp_strength(strength: float) -> float:
    """``strength`` limited to MIN_STRENGTH..MAX_STRENGTH."""
    return min(MAX_STRENGTH, max(MIN_STRENGTH, float(strength)))


def between(weakest: float, strongest: float, strength: float) -> float:
    """Linear from ``weakest`` (at MIN_STRENGTH) through ``strongest`` (at 1), extended to MAX_STRENGTH."""
    return weakest + (strongest - weakest) * (clamp_strength(strength) - MIN_STRENGTH) / (1.0 - MIN_STRENGTH)


class FaceFilter(ABC):
    """A per-face image filter. ``protects`` is False only for ``off``; ``residual`` filters
    (the AE) are composited as a perturbation of the full-resolution face, the others replace it.
    ``recognisers`` names the recognisers (``vcam.engine.recognisers``) the filter was trained,
    learned or adapts against: they are *seen*, every other one is *unseen*, and only unseen ones may
    judge the filter's privacy."""

    name: str
    protects = True
    residual = False
    recognisers: frozenset[str] = frozenset()
    keyed = False  # a key decides the change, and the key's holder can undo it (vcam-restore)

    @abstractmethod
    def process(self, crop: np.ndarray, track_id: int, strength: float = 1.0, landmarks: np.ndarray | None = None) -> np.ndarray:
        """Filter one face crop of track ``track_id`` at ``strength`` (clamped to
        MIN_STRENGTH..MAX_STRENGTH); returns a new float32 (S, S, 3) array or ``crop`` itself (``off``, and
        filters that change the face in ``finish``).
        ``landmarks`` are the face's (468, 3) mesh in crop pixels (``FaceTrack.crop_mesh``); filters that
        use the geometry (``anonymise``) raise ``ValueError`` without them."""

    def finish(self, image: np.ndarray, tracks: list[FaceTrack]) -> bool:
        """After every face of the frame was composited: change ``image`` (uint8 RGB, in place)
        around ``tracks`` in frame pixels; True if it did. Raising hides the whole frame."""
        return False

    def forget(self, live_ids: set[int]) -> None:
        """Drop per-track state of tracks not in ``live_ids``."""
