"""A per-frame white-box attack on dlib's recogniser within a PSNR budget: the optimistic reference
a de-identification model is measured against (``benchmarks/attack_bound.py``).

    protected = attack_dlib(DlibFaceNet.from_file(), frames, chip_tf, masks, psnr_db=34.0)

L2 projected gradient ascent of the dlib port's descriptor distance to the original's, averaged
over random re-alignments of the chip (the attacker aligns the protected face itself), changing
only where ``masks`` allows and never more than the PSNR budget.
"""

from __future__ import annotations

import torch

from .dlib_resnet import DlibFaceNet
from .face_align import jitter_transforms, sample_chips


def attack_dlib(
    net: DlibFaceNet,
    frames: torch.Tensor,
    chip_tf: torch.Tensor,
    masks: torch.Tensor,
    psnr_db: float,
    steps: int = 20,
    jitter: float = 6.0,
    draws: int = 2,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Attacked ``frames``: ``[N, 3, H, W]`` RGB in [0, 1] -> the same, each changed by at most
    ``psnr_db`` (PSNR of the frame, before clipping to [0, 1]) and only where ``masks``
    ``[N, 1, H, W]`` (0..1 weights) is non-zero. ``chip_tf`` ``[N, 2, 3]``: dlib's chip -> image
    matrices of the original frames; each step re-draws ``draws`` alignments per frame up to
    ``jitter`` chip px away (``jitter_transforms``). ``net`` is not changed."""
    with torch.no_grad():
        reference = net(sample_chips(frames * 255, chip_tf))
    radius = (frames[0].numel() * 10 ** (-psnr_db / 10)) ** 0.5
    delta = torch.zeros_like(frames, requires_grad=True)

    def within_budget(d: torch.Tensor) -> torch.Tensor:
        norm = (masks * d).flatten(1).norm(dim=1).clamp_min(1e-12)
        return d * (radius / norm).clamp(max=1.0)[:, None, None, None]

    for _ in range(steps):
        attacked = (frames + masks * delta).clamp(0, 1) * 255
        tfs = jitter_transforms(chip_tf.repeat(draws, 1, 1), jitter, generator)
        emb = net(sample_chips(attacked.repeat(draws, 1, 1, 1), tfs))
        distance = (emb - reference.repeat(draws, 1)).norm(dim=1).mean()
        (grad,) = torch.autograd.grad(distance, delta)
        with torch.no_grad():
            g = masks * grad
            delta += 2.5 * radius / steps * g / g.flatten(1).norm(dim=1).clamp_min(1e-12)[:, None, None, None]
            delta.copy_(within_budget(delta))
    with torch.no_grad():
        return (frames + masks * delta).clamp(0, 1)
