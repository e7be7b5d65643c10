"""dlib-style face chips, differentiable: the aligning transform is found once on the raw frame
(dlib's 5-point shape predictor and ``get_face_chip_details``), then chips are sampled from any
image tensor (e.g. the AE's output) with ``grid_sample``, so gradients flow to the pixels.

``chip_transform`` returns the 2x3 matrix mapping chip pixel coordinates to image pixel
coordinates; ``sample_chips`` applies it to ``[B, 3, H, W]`` images; ``jitter_transforms``
perturbs the alignment slightly, as dlib's own landmarks would on a changed image;
``chip_shift`` measures how far one alignment is from another, in chip pixels.
``sface_transform`` is the same for SFace's 112x112 ArcFace-template faces.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from vcam.engine.recognisers import CHIP_SIZE, DlibRecogniser, SFaceRecogniser


def chip_transform(embedder: DlibRecogniser, image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """2x3 chip -> image matrix of the face in ``box`` of ``image`` (uint8 RGB): ``DlibRecogniser.chip_matrix``."""
    return embedder.chip_matrix(image, box)


def sface_transform(embedder: SFaceRecogniser, image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """2x3 face -> image matrix of SFace's aligned 112x112 face in ``box`` of ``image`` (uint8 RGB)."""
    return cv2.invertAffineTransform(embedder.alignment(image, box))


def sample_chips(images: torch.Tensor, transforms: torch.Tensor, size: int = CHIP_SIZE, outside: torch.Tensor | None = None) -> torch.Tensor:
    """Bilinear chips ``[B, C, size, size]`` from ``images`` ``[B, C, H, W]`` with per-image
    chip -> image matrices ``transforms`` ``[B, 2, 3]`` (pixel units); differentiable. Beyond
    the image's edge the edge is repeated, taken from ``outside`` (same shape) if given: the
    runtime protects only the face crop, so there an attacker sees the original frame (SFace's
    112x112 face reached 18 % beyond a 128x128 crop on a measured frame, mostly above the forehead)."""
    b, _, h, w = images.shape
    ys, xs = torch.meshgrid(torch.arange(size, dtype=images.dtype), torch.arange(size, dtype=images.dtype), indexing="ij")
    chip = torch.stack([xs, ys, torch.ones_like(xs)], -1).reshape(1, -1, 3).to(images.device)
    pix = chip @ transforms.to(images.dtype).transpose(1, 2)  # [B, size*size, 2] image pixels
    norm = torch.stack([pix[..., 0] * 2 / (w - 1) - 1, pix[..., 1] * 2 / (h - 1) - 1], -1)
    grid = norm.reshape(b, size, size, 2)
    chips = F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=True)
    if outside is None:
        return chips
    inside = (grid.abs() <= 1).all(-1)[:, None].to(chips.dtype)
    return inside * chips + (1 - inside) * F.grid_sample(outside, grid, mode="bilinear", padding_mode="border", align_corners=True)


def jitter_transforms(transforms: torch.Tensor, px: float, generator: torch.Generator | None = None, size: int = CHIP_SIZE) -> torch.Tensor:
    """``[B, 2, 3]`` chip -> image matrices re-aligned at random about the chip centre: shift up to
    ``px`` chip pixels, scale up to ``1 ± px / (size / 2)``, rotation up to ``px / (size / 2)`` rad."""
    b = transforms.shape[0]
    u = torch.rand(b, 4, generator=generator, dtype=transforms.dtype) * 2 - 1
    rel = px / (size / 2)
    scale, angle, shift = 1 + rel * u[:, 0], rel * u[:, 1], px * u[:, 2:]
    c, s = torch.cos(angle) * scale, torch.sin(angle) * scale
    rot = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], 1)  # [B, 2, 2]
    centre = torch.full((b, 2), (size - 1) / 2, dtype=transforms.dtype)
    offset = centre + shift - (rot @ centre[:, :, None])[:, :, 0]
    jitter = torch.cat([rot, offset[:, :, None]], 2)  # chip -> chip
    a = transforms[:, :, :2]
    return torch.cat([a @ jitter[:, :, :2], (a @ jitter[:, :, 2:] + transforms[:, :, 2:])], 2)


def chip_shift(reference: np.ndarray, other: np.ndarray, size: int = CHIP_SIZE) -> float:
    """How far the chip ``other`` (2x3 chip -> image) is from ``reference``: the largest
    displacement, in ``reference``'s chip pixels, of a 3x3 grid of chip points (corners, edge
    midpoints, centre), so shifts, scalings and rotations all count."""
    grid = np.array([[x, y, 1.0] for x in (0, (size - 1) / 2, size - 1) for y in (0, (size - 1) / 2, size - 1)]).T
    back = np.linalg.inv(np.vstack([reference, [0.0, 0.0, 1.0]]))
    moved = back @ np.vstack([other @ grid, np.ones(grid.shape[1])])
    return float(np.abs(moved[:2] - grid[:2]).max())
