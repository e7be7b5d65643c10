"""PhysNet (Yu et al. 2019) in the layout of open-rppg 0.1.1, loading its PURE/RLAP-trained
weights; a frozen rPPG predictor for training and evaluation (notes/models.md §3).

Input ``[B, 3, T, 32, 32]`` RGB in [0, 1] (face crops resized to 32x32 with area averaging),
T divisible by 4; output ``[B, T]`` blood-volume pulse, z-scored over time. As in the original,
the input is z-scored per sample and channel over (T, H, W), which makes the network blind to
per-channel affine colour changes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .weights import load_frozen

BN_EPS = 1e-3  # Keras default
INPUT_SIZE = 32


def zscore(x: torch.Tensor, dims: tuple[int, ...], eps: float = 1e-6) -> torch.Tensor:
    """Per-sample standardisation over ``dims`` (population std)."""
    mean = x.mean(dim=dims, keepdim=True)
    std = x.std(dim=dims, keepdim=True, unbiased=False)
    return (x - mean) / (std + eps)


def _block(cin: int, cout: int, k: tuple[int, int, int]) -> nn.Sequential:
    return nn.Sequential(nn.Conv3d(cin, cout, k, padding=(k[0] // 2, k[1] // 2, k[2] // 2)), nn.BatchNorm3d(cout, eps=BN_EPS), nn.ReLU())


def _upsample() -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose3d(64, 64, (4, 1, 1), (2, 1, 1), (1, 0, 0)), nn.BatchNorm3d(64, eps=BN_EPS), nn.ELU())


class PhysNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        spec = [(3, 16, (1, 5, 5)), (16, 32, (3, 3, 3)), (32, 64, (3, 3, 3))] + [(64, 64, (3, 3, 3))] * 6
        self.blocks = nn.ModuleList(_block(*s) for s in spec)
        self.upsample = _upsample()
        self.upsample2 = _upsample()
        self.head = nn.Conv3d(64, 1, 1)

    @classmethod
    def pretrained(cls, dataset: str = "pure", cache: Path | None = None) -> PhysNet:
        """Frozen, eval-mode PhysNet with open-rppg's ``dataset`` ("pure" or "rlap") weights."""
        return load_frozen(cls(), f"physnet.{dataset}", convert_keras, cache)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = zscore(x, (2, 3, 4))
        b = self.blocks
        x = F.max_pool3d(b[0](x), (1, 2, 2))
        x = F.max_pool3d(b[2](b[1](x)), 2)
        x = F.max_pool3d(b[4](b[3](x)), 2)
        x = F.max_pool3d(b[6](b[5](x)), (1, 2, 2))
        x = self.upsample2(self.upsample(b[8](b[7](x))))
        x = self.head(F.avg_pool3d(x, (1, 2, 2)))
        return zscore(zscore(x.flatten(1), (1,)), (1,))


def _conv(kernel: np.ndarray) -> torch.Tensor:
    """Keras Conv3D kernel (D, H, W, in, out) -> torch (out, in, D, H, W); the same permutation
    turns a Conv3DTranspose kernel (D, H, W, out, in) into torch's (in, out, D, H, W)."""
    return torch.from_numpy(np.ascontiguousarray(kernel.transpose(4, 3, 0, 1, 2)))


def _bn(prefix: str, h5: dict[str, np.ndarray], module: str) -> dict[str, torch.Tensor]:
    names = ("weight", "bias", "running_mean", "running_var")
    return {f"{module}.{n}": torch.from_numpy(h5[f"{prefix}/batch_normalization/vars/{i}"]) for i, n in enumerate(names)}


def convert_keras(h5: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """open-rppg's PhysNet h5 tensors -> this module's state dict. ``sequential_9/_10`` are
    upsample/upsample2 (the nine conv blocks use sequential..sequential_8)."""
    state: dict[str, torch.Tensor] = {}
    for i in range(9):
        p = f"ConvBlock{i + 1}/layers"
        state[f"blocks.{i}.0.weight"] = _conv(h5[f"{p}/conv3d/vars/0"])
        state[f"blocks.{i}.0.bias"] = torch.from_numpy(h5[f"{p}/conv3d/vars/1"])
        state.update(_bn(p, h5, f"blocks.{i}.1"))
    for name, seq in (("upsample", "sequential_9"), ("upsample2", "sequential_10")):
        p = f"layers/{seq}/layers"
        state[f"{name}.0.weight"] = _conv(h5[f"{p}/conv3d_transpose/vars/0"])
        state[f"{name}.0.bias"] = torch.from_numpy(h5[f"{p}/conv3d_transpose/vars/1"])
        state.update(_bn(p, h5, f"{name}.1"))
    state["head.weight"] = _conv(h5["convBlock10/vars/0"])
    state["head.bias"] = torch.from_numpy(h5["convBlock10/vars/1"])
    for key in [k for k in state if k.endswith("running_var")]:
        state[key.replace("running_var", "num_batches_tracked")] = torch.tensor(0)
    return state
