"""Differentiable POS and CHROM (torch), the same maths as the runtime's numpy versions in
``vcam.engine.pulse.rppg`` with ``band=None`` (checked to agree to 1e-5), for rPPG-preservation losses.

``skin_means(video, mask)``: ``[B, 3, T, H, W]`` and a mask broadcastable to ``[B, 1, T, H, W]``
-> ``[B, T, 3]`` masked spatial means. ``pos`` / ``chrom``: ``[B, T, 3]`` -> ``[B, T]``, for any
batch and any T of at least one window (1.6 s).
"""

from __future__ import annotations

import math

import torch

_POS_PROJECTION = torch.tensor([[0.0, 1.0, -1.0], [-2.0, 1.0, 1.0]])


def skin_means(video: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Masked spatial mean colour per frame."""
    mask = mask.to(video.dtype)
    total = (video * mask).sum(dim=(3, 4))
    count = mask.expand_as(video[:, :1]).sum(dim=(3, 4)).clamp_min(1e-9)
    return (total / count).transpose(1, 2)


def _windows(rgb: torch.Tensor, fs: float, seconds: float) -> tuple[torch.Tensor, int]:
    length = math.ceil(seconds * fs)
    if rgb.shape[1] < length:
        raise ValueError(f"need at least {length} samples ({seconds} s) for POS/CHROM, got {rgb.shape[1]}")
    win = rgb.unfold(1, length, 1).transpose(2, 3)  # [B, N, L, 3]
    return win / (win.mean(dim=2, keepdim=True) + 1e-9), length


def _std(x: torch.Tensor) -> torch.Tensor:
    """Population std over the window axis of [B, N, L] window signals."""
    return x.std(dim=2, keepdim=True, unbiased=False)


def _overlap_add(parts: torch.Tensor, total: int) -> torch.Tensor:
    """[B, N, L] window signals, one sample apart -> [B, total]."""
    b, n, length = parts.shape
    out = parts.new_zeros(b, total)
    for j in range(length):
        out = out + torch.nn.functional.pad(parts[:, :, j], (j, total - n - j))
    return out


def pos(rgb: torch.Tensor, fs: float, window_s: float = 1.6) -> torch.Tensor:
    """Plane-Orthogonal-to-Skin pulse signal."""
    cn, _ = _windows(rgb, fs, window_s)
    s = cn @ _POS_PROJECTION.to(cn).T  # [B, N, L, 2]
    s0, s1 = s[..., 0], s[..., 1]
    h = s0 + _std(s0) / (_std(s1) + 1e-9) * s1
    return _overlap_add(h - h.mean(dim=2, keepdim=True), rgb.shape[1])


def chrom(rgb: torch.Tensor, fs: float, window_s: float = 1.6) -> torch.Tensor:
    """Chrominance pulse signal (Hann-weighted overlap-add of 1.6 s windows)."""
    cn, length = _windows(rgb, fs, window_s)
    x = 3.0 * cn[..., 0] - 2.0 * cn[..., 1]
    y = 1.5 * cn[..., 0] + cn[..., 1] - 1.5 * cn[..., 2]
    s = x - _std(x) / (_std(y) + 1e-9) * y
    hann = torch.hann_window(length, periodic=False, dtype=s.dtype, device=s.device)
    return _overlap_add((s - s.mean(dim=2, keepdim=True)) * hann, rgb.shape[1])
