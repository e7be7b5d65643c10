"""Learning a universal identity pattern (``vcam.engine.filters.identity_pattern``): one change in dlib's
150x150 face-chip frame that, warped onto every training face by its own alignment and kept
within a PSNR budget on the crop, pushes dlib's descriptor of each as far as possible from the
original's (the mean distance, under random re-alignment as an attacker's own landmarks give),
optionally keeping the patterned faces' SSIM high and pushing SFace's descriptors away too.

    pattern, record = learn_pattern(cfg, psnr_db=30.0, steps=300, ssim_weight=3.0, sface_weight=1.0)

The faces are every 8th frame of ``cfg``'s training clips (its split, extra identities,
``clips_per_photo``, ``chip_jitter``, ``composite_mask``, ``seed``); validation identities are
never seen.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from pytorch_msssim import ssim

from vcam.engine.recognisers import CHIP_SIZE, DlibRecogniser, SFaceRecogniser

from .dlib_resnet import DlibFaceNet
from .face_align import jitter_transforms, sample_chips
from .sface_torch import SFACE_SIZE, SFaceNet
from .train import TrainConfig, _prepare, build_clips, source_commit

SFACE_BATCH = 8  # faces per step for SFace's term: its torch port takes ~0.1 s per face and step on one core, dlib's ~0.014


def _inverse(chip_to_image: torch.Tensor) -> torch.Tensor:
    """[B, 2, 3] chip -> image matrices -> image -> chip."""
    full = torch.cat([chip_to_image, torch.tensor([[[0.0, 0.0, 1.0]]], dtype=chip_to_image.dtype).expand(len(chip_to_image), 1, 3)], 1)
    return torch.linalg.inv(full)[:, :2]


def paste(pattern: torch.Tensor, chip_to_image: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """``pattern`` [1, 3, 150, 150] warped onto crops by their chip -> crop matrices [B, 2, 3],
    zero beyond the chip, times ``masks`` [B, 1, H, W]: the change [B, 3, H, W] (differentiable)."""
    p = pattern.expand(len(chip_to_image), -1, -1, -1)
    return masks * sample_chips(p, _inverse(chip_to_image), masks.shape[-1], outside=torch.zeros_like(p))


def _describe_all(net: torch.nn.Module, frames: torch.Tensor, transforms: torch.Tensor, size: int = CHIP_SIZE) -> torch.Tensor:
    """``net``'s descriptors of the aligned faces of ``frames`` [N, 3, H, W] (0..1) with their face ->
    frame matrices ``transforms`` [N, 2, 3], 64 at a time, without gradients."""
    with torch.no_grad():
        return torch.cat([net(sample_chips(frames[i : i + 64] * 255, transforms[i : i + 64], size)) for i in range(0, len(frames), 64)])


def learn_pattern(
    cfg: TrainConfig,
    psnr_db: float,
    steps: int = 300,
    batch: int = 32,
    lr: float = 2e-3,
    ssim_weight: float = 0.0,
    sface_weight: float = 0.0,
    log: Callable[[dict], None] | None = None,
) -> tuple[np.ndarray, dict]:
    """(float32 (150, 150, 3) RGB pattern, record): Adam on the pattern, ``batch`` random training
    faces per step, rescaled after each step so the mean squared change of a batch's crops stays
    within ``psnr_db``. The loss is minus the mean dlib distance, minus ``sface_weight`` times the
    mean SFace cosine distance (1 - cos) of the batch's first ``SFACE_BATCH`` faces (on the ArcFace
    template, re-aligned at random like dlib's chips), plus ``ssim_weight`` times (1 - SSIM) of the
    patterned crops (the budget then goes where SSIM tolerates it). ``log`` gets {step, distance,
    psnr_db} (and ``sface_distance``) every 25 steps."""
    t0 = time.monotonic()
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    clips, _, ids = build_clips(cfg)
    train = _prepare(clips, ids, DlibRecogniser(), SFaceRecogniser() if sface_weight else None)
    faces = [(c, t) for c in train for t in range(0, c.video.shape[1], 8)]
    frames = torch.stack([c.video[:, t] for c, t in faces])
    masks = torch.stack([c.paste_mask(t, cfg.composite_mask) for c, t in faces])
    chip_tf = torch.stack([c.transforms("dlib")[t] for c, t in faces])
    net = DlibFaceNet.from_file().eval()
    reference = _describe_all(net, frames, chip_tf)
    if sface_weight:
        sface = SFaceNet.from_file()
        sface_tf = torch.stack([c.transforms("sface")[t] for c, t in faces])
        sface_ref = F.normalize(_describe_all(sface, frames, sface_tf, SFACE_SIZE), dim=1)
    budget = frames[0].numel() * 10 ** (-psnr_db / 10)  # squared L2 norm of a crop's change
    pattern = torch.zeros(1, 3, CHIP_SIZE, CHIP_SIZE, requires_grad=True)
    opt = torch.optim.Adam([pattern], lr=lr)
    for step in range(steps):
        idx = torch.randint(len(frames), (batch,), generator=gen)
        change = paste(pattern, chip_tf[idx], masks[idx])
        out = (frames[idx] + change).clamp(0, 1)
        distance = (net(sample_chips(out * 255, jitter_transforms(chip_tf[idx], cfg.chip_jitter, gen))) - reference[idx]).norm(dim=1).mean()
        loss = -distance if not ssim_weight else ssim_weight * (1 - ssim(out, frames[idx], data_range=1.0)) - distance
        if sface_weight:
            few = idx[:SFACE_BATCH]
            faces_out = sample_chips(
                out[:SFACE_BATCH] * 255, jitter_transforms(sface_tf[few], cfg.chip_jitter, gen, SFACE_SIZE), SFACE_SIZE, outside=frames[few] * 255
            )
            sface_distance = 1 - (F.normalize(sface(faces_out), dim=1) * sface_ref[few]).sum(1).mean()
            loss = loss - sface_weight * sface_distance
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            energy = float((change**2).flatten(1).sum(1).mean())
            if energy > budget:
                pattern *= (budget / energy) ** 0.5
        if log is not None and step % 25 == 0:
            log(
                {"step": step, "distance": distance.item(), "psnr_db": float(10 * np.log10(frames[0].numel() / max(energy, 1e-12)))}
                | ({"sface_distance": sface_distance.item()} if sface_weight else {})
            )
    record = {
        "psnr_db": psnr_db,
        "steps": steps,
        "batch": batch,
        "lr": lr,
        "ssim_weight": ssim_weight,
        "sface_weight": sface_weight,
        "train_faces": len(frames),
        "train_identities": len(ids),
        "minutes": round((time.monotonic() - t0) / 60, 1),
        "commit": source_commit(),
    }
    return pattern.detach()[0].permute(1, 2, 0).numpy().copy(), record
