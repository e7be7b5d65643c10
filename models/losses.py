"""Training losses of Savic & Zhao (BMVC 2023, Eqs. 1-5), plus an open-set identity term.

Clips are ``[B, 3, T, H, W]`` RGB in [0, 1].

* ``reconstruction``: L_rec = MSE + (1 - SSIM) (pytorch-msssim ``ssim``, frames flattened).
* ``deidentification``: L_id on ``k`` random frames: per frame, the negative cross-entropy of the
  closed-set classifier's softmax against the true identity (the "NCE" that pushes predictions
  away from the right person) plus ``lam`` x Reg_id, the normalised distance of the softmax from
  the uniform distribution (so the wrong predictions are also not confident).
* ``open_set_identity``: hinge on the dlib distance between each protected frame and its
  original, pushed above the verification threshold plus ``margin`` (real attackers are
  open-set recognisers; dlib descriptors of different people can still have cosine
  similarity near 1, so the hinge works on dlib's own Euclidean distance).
* ``negative_pearson``: 1 - Pearson r per sample, averaged (rPPG preservation against the frozen
  predictor's signal on the original clip).

``total = alpha * L_rec + beta * L_id + gamma * L_rppg (+ delta * L_open + delta_sface * L_open_sface)``; paper defaults
alpha 1.5, beta 0.3, gamma 0.1, lambda 0.1.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from pytorch_msssim import ssim


@dataclass(frozen=True)
class LossWeights:
    alpha: float = 1.5
    beta: float = 0.3
    gamma: float = 0.1
    lam: float = 0.1
    delta: float = 0.0  # open-set identity term on dlib (not in the paper)
    delta_sface: float = 0.0  # the same on SFace (a second recogniser, so the perturbation transfers)
    k_frames: int = 8
    open_set_margin: float = 0.1  # the open-set hinges push beyond each recogniser's threshold by this much


def frames(clip: torch.Tensor) -> torch.Tensor:
    """[B, 3, T, H, W] -> [B*T, 3, H, W]."""
    b, c, t, h, w = clip.shape
    return clip.transpose(1, 2).reshape(b * t, c, h, w)


def reconstruction(out: torch.Tensor, target: torch.Tensor, win_size: int = 7) -> torch.Tensor:
    """MSE + (1 - SSIM), both over all frames."""
    a, b = frames(out), frames(target)
    return F.mse_loss(a, b) + (1.0 - ssim(a.clamp(0, 1), b, data_range=1.0, size_average=True, win_size=win_size))


def deidentification(probs: torch.Tensor, labels: torch.Tensor, lam: float = 0.1) -> torch.Tensor:
    """Eq. 3 averaged over frames: ``probs`` [N, C] softmax outputs, ``labels`` [N] true ids.
    Lower is better for de-identification: -CE(p, y) + lam * ||p - u|| / (||p|| + ||u||)."""
    c = probs.shape[1]
    nce = -F.nll_loss(torch.log(probs.clamp_min(1e-12)), labels)
    uniform = torch.full_like(probs, 1.0 / c)
    reg = ((probs - uniform).norm(dim=1) / (probs.norm(dim=1) + uniform.norm(dim=1))).mean()
    return nce + lam * reg


def open_set_identity(emb_out: torch.Tensor, emb_ref: torch.Tensor, threshold: float = 0.6, margin: float = 0.1, cosine: bool = False) -> torch.Tensor:
    """mean(relu(threshold + margin - d(out, ref))): zero once every protected frame is farther
    from its original than the recogniser's threshold plus ``margin``; ``d`` is the Euclidean
    distance (dlib) or, with ``cosine``, 1 - cosine similarity (SFace)."""
    d = 1 - F.cosine_similarity(emb_out, emb_ref, dim=1) if cosine else (emb_out - emb_ref).norm(dim=1)
    return F.relu(threshold + margin - d).mean()


def negative_pearson(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 - Pearson r per row of [B, T], averaged over the batch."""
    p = pred - pred.mean(dim=1, keepdim=True)
    t = target - target.mean(dim=1, keepdim=True)
    r = (p * t).sum(1) / (p.norm(dim=1) * t.norm(dim=1) + 1e-8)
    return (1.0 - r).mean()


def sample_frames(t: int, k: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """``k`` distinct random frame indices out of ``t`` (the paper's K = 8 of 64)."""
    return torch.randperm(t, generator=generator)[: min(k, t)]
