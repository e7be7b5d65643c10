"""Undoing the key's scramble in a decoded frame: find each marked square, put its blocks back,
and fill the marker ring from its surroundings (the ring's own pixels were never sent)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from vcam.engine.keyed.scramble import BLOCKS, GRID, BlockScramble, Square, find_squares, marker_mask, seam_ratio
from vcam.engine.video.sinks import Sink
from vcam.engine.video.sources import Source


@dataclass
class Restored:
    """A restored frame: ``image`` (uint8 RGB), the ``squares`` found, and if measured their
    ``seam_ratio`` before and after: the right key brings it down to a natural image's, a wrong one
    does not."""

    image: np.ndarray
    squares: list[Square] = field(default_factory=list)
    seams_before: list[float] = field(default_factory=list)
    seams_after: list[float] = field(default_factory=list)


def restore_frame(image: np.ndarray, scramble: BlockScramble, measure: bool = False) -> Restored:
    """``image`` with every marked square unscrambled by ``scramble`` and its ring filled in; with
    ``measure``, the squares' seam ratios before and after (for telling a wrong key)."""
    out = image.copy()
    result = Restored(out)
    for square in find_squares(image):
        if square.on_grid():
            rows, cols = square.slices()
            before = out[rows, cols].copy()
            after = scramble.undo(before)
            out[rows, cols] = after
        else:
            before, after = _undo_resampled(out, square, scramble)
        result.squares.append(square)
        if measure:
            result.seams_before.append(seam_ratio(before))
            result.seams_after.append(seam_ratio(after))
    if result.squares:
        fill_rings(out, result.squares)
    return result


def _undo_resampled(image: np.ndarray, square: Square, scramble: BlockScramble) -> tuple[np.ndarray, np.ndarray]:
    """Undo a square found at another scale: resample it onto whole blocks, undo, resample back."""
    block = max(GRID, round(square.block))
    size = block * BLOCKS
    scale = square.side / size
    # frame pixel i -> square pixel j, pixel centres matched: j + 0.5 = (i + 0.5 - x) / scale
    to_square = np.array([[1 / scale, 0, (0.5 - square.x) / scale - 0.5], [0, 1 / scale, (0.5 - square.y) / scale - 0.5]], np.float32)
    before = cv2.warpAffine(image, to_square, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    after = scramble.undo(before)
    h, w = image.shape[:2]
    x0, y0 = max(0, int(np.floor(square.x))), max(0, int(np.floor(square.y)))
    x1, y1 = min(w, int(np.ceil(square.x + square.side))), min(h, int(np.ceil(square.y + square.side)))
    back = to_square.copy()
    back[:, 2] += back[:, 0] * x0 + back[:, 1] * y0  # the ROI's (0, 0) is the frame's (x0, y0)
    image[y0:y1, x0:x1] = cv2.warpAffine(after, back, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
    return before, after


def fill_rings(image: np.ndarray, squares: list[Square]) -> None:
    """Fill the marker rings (and the codec's marker-coloured fringe) around ``squares`` from the
    pixels beside them (normalised Gaussian smoothing, as wide as the ring), in place."""
    h, w = image.shape[:2]
    for square in squares:
        pad = 3 * int(np.ceil(square.ring)) + 2
        x0, y0 = max(0, int(square.x) - pad), max(0, int(square.y) - pad)
        x1, y1 = min(w, int(np.ceil(square.x + square.side)) + pad), min(h, int(np.ceil(square.y + square.side)) + pad)
        roi = image[y0:y1, x0:x1]
        ring = cv2.dilate(marker_mask(roi), np.ones((3, 3), np.uint8)).astype(bool)
        inside = (slice(int(np.ceil(square.y)) - y0, int(square.y + square.side) - y0), slice(int(np.ceil(square.x)) - x0, int(square.x + square.side) - x0))
        ring[inside] = False  # the restored face keeps its own pixels
        masked = roi.copy()
        masked[ring] = 0
        step = max(1, int(square.ring) // 3)  # smoothed at a coarser scale: as wide, far cheaper
        size = (-(-roi.shape[1] // step), -(-roi.shape[0] // step))
        sigma = max(1.0, square.ring / step)
        sums = cv2.GaussianBlur(cv2.resize(masked, size, interpolation=cv2.INTER_AREA).astype(np.float32), (0, 0), sigma)
        weights = cv2.GaussianBlur(cv2.resize((~ring).astype(np.float32), size, interpolation=cv2.INTER_AREA), (0, 0), sigma)
        colour = np.clip(sums / np.maximum(weights, 1e-3)[..., None] + 0.5, 0, 255).astype(np.uint8)
        filled = cv2.resize(colour, roi.shape[1::-1], interpolation=cv2.INTER_LINEAR)
        roi[ring] = filled[ring]


KEY_OPENS = 0.5  # the right key at least halves the seam ratio of a scrambled square (it falls to ~1)


def key_opens(source: Source, scramble: BlockScramble, squares: int = 5) -> bool | None:
    """Whether ``scramble`` undoes the squares of the first frames of ``source`` that have any
    (up to ``squares`` of them): True, False, or None if the source has none. Reads ``source``."""
    before: list[float] = []
    after: list[float] = []
    while len(before) < squares and (image := source.read()) is not None:
        restored = restore_frame(image, scramble, measure=True)
        before += restored.seams_before
        after += restored.seams_after
    if not before:
        return None
    return float(np.median(after)) <= KEY_OPENS * float(np.median(before))


class RestoreJob:
    """Every frame of ``source`` restored by ``scramble`` into ``sink``; ``stop()`` (from a signal
    handler or another thread) ends it after the current frame."""

    def __init__(self, source: Source, sink: Sink, scramble: BlockScramble) -> None:
        self.source, self.sink, self.scramble = source, sink, scramble
        self._stop = False

    def stop(self, now: bool = False) -> None:
        self._stop = True

    def run(self, on_second: Callable[[dict], None] | None = None) -> dict:
        """Restore until the source ends or ``stop()``; returns {"frames", "faces", "fps", "stopped"}."""
        frames = faces = 0
        started = last = time.monotonic()
        while not self._stop and (image := self.source.read()) is not None:
            restored = restore_frame(image, self.scramble)
            self.sink.send(restored.image)
            frames += 1
            faces += len(restored.squares)
            if on_second is not None and (now := time.monotonic()) - last >= 1.0:
                last = now
                on_second({"frames": frames, "faces": faces, "fps": frames / (now - started)})
        elapsed = max(time.monotonic() - started, 1e-9)
        return {"frames": frames, "faces": faces, "fps": frames / elapsed, "stopped": self._stop}
