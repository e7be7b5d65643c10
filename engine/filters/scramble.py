"""``scramble``: the key's block scramble of a square around each face, marked by a ring, so
``vcam-restore`` with the same key puts the face back (:mod:`vcam.engine.keyed`)."""

from __future__ import annotations

import numpy as np

from vcam.engine.errors import ModelError
from vcam.engine.face_regions import face_box
from vcam.engine.filters.base import FaceFilter
from vcam.engine.frames import FaceTrack
from vcam.engine.keyed.keys import Key
from vcam.engine.keyed.scramble import BlockScramble, Square, draw, square_for


class ScrambleFilter(FaceFilter):
    """The face is left to ``finish``, which scrambles each face's square in the frame; strength
    does not change it (the key does). Squares follow their faces but jump only on the pixel grid."""

    name = "scramble"
    keyed = True

    def __init__(self, key: Key) -> None:
        self.scramble = BlockScramble(key)
        self._squares: dict[int, Square] = {}

    def process(self, crop: np.ndarray, track_id: int, strength: float = 1.0, landmarks: np.ndarray | None = None) -> np.ndarray:
        return crop

    def finish(self, image: np.ndarray, tracks: list[FaceTrack]) -> bool:
        squares = [square_for(face_box(t), image.shape, self._squares.get(t.track_id)) for t in tracks]
        for track, square in zip(tracks, squares, strict=True):
            self._squares[track.track_id] = square
            draw(image, square, self.scramble)
        return bool(tracks)

    def forget(self, live_ids: set[int]) -> None:
        self._squares = {i: s for i, s in self._squares.items() if i in live_ids}


def build(key: Key | None) -> ScrambleFilter:
    """The filter for ``key``; ``ModelError`` with the fix without one."""
    if key is None:
        raise ModelError("filter scramble needs a key: --key-file PATH (make one with: vcam-key new PATH)")
    return ScrambleFilter(key)
