"""Privacy-Phys (seed 001, Sun & Li): rewrite the pulse a face video shows by projected gradient
descent against a frozen rPPG network, offline. The reference the live ``--pulse replace`` is
measured against (``vcam-pulse-edit``, benchmarks/pulse_privacy.py).

As the seed: minimise ``-Pearson(PhysNet(x), y) + lambda * Lf(x, z)`` over the video ``x``, with
``y`` the target pulse and ``z`` the original, by Adam (learning rate 0.1, 20 iterations, lambda
0.1), projecting after every step so only skin pixels change. Here ``x`` is the 128x128 face crop
in grey levels (0-255; the seed does not state its scale, and this one makes 20 steps of 0.1 a
change of at most 2 levels), ``Lf`` the mean squared change, ``PhysNet`` this project's (PURE
weights, its 32x32 input made by 4x4 averaging inside the graph), and the video is edited in
pieces of at most ``CHUNK`` frames (the seed used 15 s clips).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from vcam.engine.pulse.synth import ppg_waveform

from .physnet import INPUT_SIZE, PhysNet

LAMBDA = 0.1
STEPS = 20
LR = 0.1  # grey levels per Adam step
CHUNK = 160  # frames per optimised piece (a multiple of 4, PhysNet's temporal stride)
MIN_PIECE = 32


def target_pulse(frames: int, fps: float, hr_bpm: float, seed: int = 0) -> np.ndarray:
    """The pulse to embed: the live editor's waveform (beat shape, respiratory HRV) at ``hr_bpm``."""
    return ppg_waveform(np.arange(frames) / fps, hr_bpm, rng=np.random.default_rng(seed)).astype(np.float32)


def neg_pearson(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    a, b = a - a.mean(), b - b.mean()
    return -(a * b).sum() / (a.norm() * b.norm() + 1e-8)


def pieces(frames: int, chunk: int = CHUNK) -> list[tuple[int, int]]:
    """[start, stop) pieces of at most ``chunk`` frames, each a multiple of 4 and at least
    ``MIN_PIECE`` long (a short tail joins the piece before); frames past the last multiple of 4
    are left out."""
    usable = frames // 4 * 4
    bounds = list(range(0, usable, chunk)) + [usable]
    spans = list(zip(bounds[:-1], bounds[1:], strict=True))
    if len(spans) > 1 and spans[-1][1] - spans[-1][0] < MIN_PIECE:
        spans[-2:] = [(spans[-2][0], usable)]
    return [s for s in spans if s[1] - s[0] >= MIN_PIECE]


def privacy_phys(crops: np.ndarray, skin: np.ndarray, target: np.ndarray, net: PhysNet, lam: float = LAMBDA, steps: int = STEPS, lr: float = LR) -> np.ndarray:
    """``crops`` (float32 [T, S, S, 3] RGB in [0, 1], S a multiple of 32) edited to show ``target``
    ([T]) to ``net``; only pixels in ``skin`` ([T, S, S] bool) change. Returns a new array."""
    if crops.shape[1] % INPUT_SIZE:
        raise ValueError(f"crop size {crops.shape[1]} is not a multiple of {INPUT_SIZE}")
    out = crops.copy()
    pool = crops.shape[1] // INPUT_SIZE
    for start, stop in pieces(len(crops)):
        z = torch.from_numpy(crops[start:stop] * 255.0)
        mask = torch.from_numpy(skin[start:stop])[..., None]
        y = torch.from_numpy(target[start:stop])
        x = z.clone().requires_grad_(True)
        opt = torch.optim.Adam([x], lr=lr)
        for _ in range(steps):
            opt.zero_grad()
            small = F.avg_pool2d(x.permute(0, 3, 1, 2) / 255.0, pool)  # [t, 3, 32, 32]
            loss = neg_pearson(net(small.permute(1, 0, 2, 3)[None])[0], y) + lam * ((x - z) ** 2).mean()
            loss.backward()
            opt.step()
            with torch.no_grad():
                x.copy_(torch.where(mask, x, z).clamp(0.0, 255.0))  # the projection: skin only
        out[start:stop] = x.detach().numpy() / 255.0
    return out


class PrivacyPhysEditor:
    """A video's frames, block by block, with the first face's pulse rewritten to ``hr_bpm`` by
    ``privacy_phys`` (one face tracker for the whole video; the target pulse runs on across blocks
    at ``fps``); frames without a face, and a block's frames past its last multiple of 4, pass
    unchanged."""

    def __init__(self, fps: float, hr_bpm: float, net: PhysNet | None = None, lam: float = LAMBDA, steps: int = STEPS) -> None:
        from vcam.engine.tracking import FaceTracker

        self.fps, self.hr_bpm, self.lam, self.steps = fps, hr_bpm, lam, steps
        self.net = net or PhysNet.pretrained("pure")
        self.tracker = FaceTracker(max_faces=1)
        self._faces = 0  # face frames so far: where the target pulse goes on

    def edit(self, frames: list[np.ndarray]) -> list[np.ndarray]:
        """The block ``frames`` (uint8 RGB), edited (new arrays)."""
        from vcam.engine.compositor import paste
        from vcam.engine.crop import crop_face

        found = [(i, tracks[0]) for i, f in enumerate(frames) if (tracks := self.tracker.update(f))]
        out = [f.copy() for f in frames]
        if not found:
            return out
        raw = np.stack([crop_face(frames[i], t) for i, t in found])
        skin = np.stack([t.skin_mask for _, t in found])
        target = target_pulse(self._faces + len(found), self.fps, self.hr_bpm)[self._faces :]
        self._faces += len(found)
        edited = privacy_phys(raw, skin, target, self.net, self.lam, self.steps)
        for (i, track), new, old in zip(found, edited, raw, strict=True):
            paste(out[i], track, new, old, dither=True)
        return out

    def close(self) -> None:
        self.tracker.close()
