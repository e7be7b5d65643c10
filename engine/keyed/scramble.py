"""The key's block scramble of a square around a face, and the marker ring that finds it again.

A protected square is ``BLOCKS`` x ``BLOCKS`` blocks of ``block`` pixels (a multiple of ``GRID``),
its corner on the ``GRID`` of the frame: every block is then whole 8 x 8 transform blocks of the
codec, so H.264 keeps each block's content apart from its new neighbours and undoing the
scramble after the codec costs about 1 dB over the codec's own loss. The key decides where each
block goes and how it is turned or flipped (one of the 8 symmetries of a square); the square's
mean colour, and with it the pulse's mean-colour signal, is unchanged. A ring of ``MARKER_RGB``,
a quarter block wide, around the square tells a restorer where it is: the ring's square hole,
refined to a fraction of a pixel, so a rescaled recording is found too; the ring's own pixels are
lost.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vcam.engine.keyed.keys import Key

BLOCKS = 12
GRID = 8
MIN_BLOCK = 2 * GRID  # the ring (a quarter block) stays at least 4 pixels wide, two I420 chroma samples
RING = 0.25  # the marker ring's width, in blocks
MARKER_RGB = (255, 0, 255)
MARGIN = 1.15  # the square's side over the face oval's larger side, while the frame has room
EDGE = 2 * GRID  # pixels: a marker nearer the frame's edge than this reaches it
_SNAP = 3  # pixels
_MOVE = 0.75 * GRID  # the face's centre moves this far before the square follows (fewer jumps)
_MARKER_CR = 232.0
_CR_MIN, _CB_MIN = 185, 170  # the marker's chroma (Cr 232, Cb 212) after I420 and H.264; skin is below 175, 130


class BlockScramble:
    """The permutation and symmetries ``key`` chooses for the ``BLOCKS``² blocks of a square."""

    def __init__(self, key: Key) -> None:
        rng = np.random.Generator(np.random.PCG64(int.from_bytes(key.derive("block-scramble v1"), "little")))
        self.order = rng.permutation(BLOCKS * BLOCKS)  # block i of the output is block order[i] of the input
        self.turns = rng.integers(0, 8, BLOCKS * BLOCKS)  # bit 2: transpose, bits 0-1: quarter turns

    def apply(self, square: np.ndarray) -> np.ndarray:
        """The scrambled copy of ``square`` ((S, S, C), S a multiple of ``BLOCKS``)."""
        blocks = _blocks(square)[self.order]
        for turn in range(8):
            sel = self.turns == turn
            part = blocks[sel]
            if turn & 4:
                part = part.transpose(0, 2, 1, 3)
            blocks[sel] = np.rot90(part, turn & 3, axes=(1, 2))
        return _square(blocks)

    def undo(self, square: np.ndarray) -> np.ndarray:
        """The inverse of ``apply``: ``undo(apply(x)) == x`` exactly."""
        blocks = _blocks(square).copy()
        for turn in range(8):
            sel = self.turns == turn
            part = np.rot90(blocks[sel], -(turn & 3), axes=(1, 2))
            blocks[sel] = part.transpose(0, 2, 1, 3) if turn & 4 else part
        out = np.empty_like(blocks)
        out[self.order] = blocks
        return _square(out)


def _blocks(square: np.ndarray) -> np.ndarray:
    s, c = square.shape[0], square.shape[2]
    b = s // BLOCKS
    return square.reshape(BLOCKS, b, BLOCKS, b, c).transpose(0, 2, 1, 3, 4).reshape(BLOCKS * BLOCKS, b, b, c)


def _square(blocks: np.ndarray) -> np.ndarray:
    b, c = blocks.shape[1], blocks.shape[3]
    return blocks.reshape(BLOCKS, BLOCKS, b, b, c).transpose(0, 2, 1, 3, 4).reshape(BLOCKS * b, BLOCKS * b, c)


@dataclass(frozen=True)
class Square:
    """A protected square: corner (x, y) and side in frame pixels (floats when found in a rescaled
    recording); its marker ring is ``ring`` wide around it."""

    x: float
    y: float
    side: float

    @property
    def block(self) -> float:
        return self.side / BLOCKS

    @property
    def ring(self) -> float:
        return self.block * RING

    def on_grid(self) -> bool:
        """Whole pixels and whole blocks: the scramble can be undone by copying pixels."""
        values = (self.x, self.y, self.side, self.ring)
        return all(float(v).is_integer() for v in values) and int(self.side) % BLOCKS == 0

    def slices(self) -> tuple[slice, slice]:
        x, y, s = int(self.x), int(self.y), int(self.side)
        return slice(y, y + s), slice(x, x + s)


def square_for(face: tuple[int, int, int, int], frame_shape: tuple[int, ...], previous: Square | None = None) -> Square:
    """The square, with its ring inside the frame, that covers the face oval's box ``face``
    (x0, y0, x1, y1; clipped to the frame) with ``MARGIN`` while the frame has room: ``previous``
    (the same face's square in the last frame) is kept while the face has not moved or shrunk far,
    so the square rarely jumps. A face at the frame's edge may reach past its square into the
    marker (``marker_box``), which hides it too; ``ValueError`` if the marked area cannot cover it."""
    h, w = frame_shape[:2]
    x0, y0, x1, y1 = max(0, face[0]), max(0, face[1]), min(w, face[2]), min(h, face[3])
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    step = BLOCKS * GRID
    largest = step * int(min(h, w) / (1 + 2 * RING / BLOCKS) // step)  # with its ring inside the frame
    face_side = max(x1 - x0, y1 - y0)
    smallest = BLOCKS * MIN_BLOCK
    side = min(max(step * int(np.ceil(MARGIN * face_side / step)), smallest), largest)  # a close face gets less margin
    if previous is not None and side <= previous.side <= min(side + step, largest):
        side = int(previous.side)  # a face that shrinks a little keeps its square
    if side < smallest:
        raise ValueError(f"the {w}x{h} frame is too small for a protected square")
    ring = int(side * RING) // BLOCKS

    def corner(centre: float, prev: float | None, limit: int) -> int:
        ideal = centre - side / 2
        value = prev if prev is not None and abs(prev - ideal) <= _MOVE else GRID * round(ideal / GRID)
        return int(min(max(value, GRID * -(-ring // GRID)), GRID * ((limit - side - ring) // GRID)))

    same = previous is not None and previous.side == side
    square = Square(corner(cx, previous.x if same and previous else None, w), corner(cy, previous.y if same and previous else None, h), side)
    mx0, my0, mx1, my1 = marker_box(square, frame_shape)
    if not (mx0 <= x0 and my0 <= y0 and x1 <= mx1 and y1 <= my1):
        raise ValueError(f"the face ({x1 - x0}x{y1 - y0} px) is too large for a protected square inside the {w}x{h} frame")
    return square


def marker_box(square: Square, frame_shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) the marker covers: the square and its ring, reaching the frame's edge on
    each side where less than ``EDGE`` pixels would be left (a face there is hidden by it)."""
    h, w = frame_shape[:2]
    x, y, s, r = int(square.x), int(square.y), int(square.side), int(square.ring)
    x0, y0, x1, y1 = x - r, y - r, x + s + r, y + s + r
    return (0 if x0 < EDGE else x0, 0 if y0 < EDGE else y0, w if w - x1 < EDGE else x1, h if h - y1 < EDGE else y1)


def draw(image: np.ndarray, square: Square, scramble: BlockScramble) -> None:
    """Scramble ``square`` of ``image`` (uint8 RGB, in place) and draw its marker around it."""
    rows, cols = square.slices()
    scrambled = scramble.apply(image[rows, cols])
    x0, y0, x1, y1 = marker_box(square, image.shape)
    image[y0:y1, x0:x1] = MARKER_RGB
    image[rows, cols] = scrambled


def marker_mask(image: np.ndarray) -> np.ndarray:
    """uint8 mask (1 = marker colour) of a decoded uint8 RGB frame."""
    return _marker(cv2.cvtColor(image, cv2.COLOR_RGB2YCrCb))


def _marker(ycc: np.ndarray) -> np.ndarray:
    return ((ycc[..., 1] > _CR_MIN) & (ycc[..., 2] > _CB_MIN)).astype(np.uint8)


def find_squares(image: np.ndarray) -> list[Square]:
    """The protected squares of a (decoded, possibly rescaled) uint8 RGB frame: the square holes
    of marker-coloured rings. A hole within a few pixels of a square on the grid (the recording at
    the size it was protected) is taken as that square exactly."""
    ycc = cv2.cvtColor(image, cv2.COLOR_RGB2YCrCb)
    contours, hierarchy = cv2.findContours(_marker(ycc), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    found = []
    for i, (_, _, child, parent) in enumerate(hierarchy[0] if hierarchy is not None else []):
        if parent != -1 or child == -1:
            continue
        hole = max(_children(hierarchy[0], child), key=lambda c: cv2.contourArea(contours[c]))
        x, y, w, h = cv2.boundingRect(contours[hole])
        ox, oy, ow, oh = cv2.boundingRect(contours[i])
        ring = min(x - ox, y - oy, ox + ow - x - w, oy + oh - y - h)
        if min(w, h) < BLOCKS * MIN_BLOCK / 2 or abs(w - h) > max(2, 0.03 * w) or ring < 0.5 * RING * max(w, h) / BLOCKS:
            continue
        found.append(_snapped(*_inner_edges(ycc[..., 1], x + 1, y + 1, w - 2, h - 2)))  # a hole's contour runs on the ring's innermost pixels
    return found


def _inner_edges(red: np.ndarray, x: int, y: int, w: int, h: int) -> tuple[float, float, float]:
    """(x, y, side) of the hole (x, y, w, h) to a fraction of a pixel: where the marker's redness
    (``red``: the frame's Cr plane) falls through half way, across the ring's inner edges (a
    rescaled recording blends them)."""
    cr = red.astype(np.float32)
    inside = float(np.median(cr[y + h // 4 : y + 3 * h // 4, x + w // 4 : x + 3 * w // 4]))
    half = (inside + _MARKER_CR) / 2
    rows, cols = slice(y + h // 4, y + 3 * h // 4), slice(x + w // 4, x + 3 * w // 4)

    def crossing(profile: np.ndarray) -> float:
        """Where ``profile`` (marker first, then inside) falls through ``half``."""
        for i in range(len(profile) - 1):
            a, b = profile[i], profile[i + 1]
            if a >= half > b:
                return i + (a - half) / (a - b) + 0.5  # edge between pixel centres
        return 1.0

    left = x - 2 + crossing(cr[rows, x - 2 : x + 3].mean(0))
    top = y - 2 + crossing(cr[y - 2 : y + 3, cols].mean(1))
    right = x + w + 2 - crossing(cr[rows, x + w - 3 : x + w + 2].mean(0)[::-1])
    bottom = y + h + 2 - crossing(cr[y + h - 3 : y + h + 2, cols].mean(1)[::-1])
    return left, top, ((right - left) + (bottom - top)) / 2


def _children(hierarchy: np.ndarray, first: int) -> list[int]:
    kids = [first]
    while (nxt := hierarchy[kids[-1]][0]) != -1:
        kids.append(int(nxt))
    return kids


def _snapped(x: float, y: float, side: float) -> Square:
    """The square whose hole was seen at (x, y, side): on the grid if one is within ``_SNAP``
    pixels (the codec's marker-coloured fringe eats into the hole), else as seen."""
    step = BLOCKS * GRID
    grid = Square(GRID * round(x / GRID), GRID * round(y / GRID), step * round(side / step))
    if grid.side and abs(grid.x - x) <= _SNAP and abs(grid.y - y) <= _SNAP and abs(grid.x + grid.side - x - side) <= _SNAP:
        return grid
    return Square(float(x), float(y), side)


def seam_ratio(square: np.ndarray) -> float:
    """How much larger the steps across block edges are than those inside blocks (about 1 for a
    natural image, well above 1 for a scrambled one); ``square`` as ``BLOCKS`` x ``BLOCKS`` blocks."""
    g = square.astype(np.float32).mean(axis=2)
    b = g.shape[0] // BLOCKS
    dx, dy = np.abs(np.diff(g, axis=1)), np.abs(np.diff(g, axis=0))
    edge = (np.arange(g.shape[0] - 1) + 1) % b == 0
    inner = float(dx[:, ~edge].mean() + dy[~edge].mean())
    return float(dx[:, edge].mean() + dy[edge].mean()) / max(inner, 1e-6)
