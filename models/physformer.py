"""PhysFormer (Yu et al. 2022, ``ViT_ST_ST_Compact3_TDC_gra_sharp``) in the layout of open-rppg
0.1.1, loading its PURE/RLAP-trained weights; a frozen rPPG predictor (notes/models.md §2.2, §3).

Input ``[B, 3, T, 128, 128]`` RGB in [0, 1], T divisible by 4 (trained with T = 160); output
``[B, T]`` blood-volume pulse, z-scored over time. Three conv stems (each BN-ReLU-maxpool 1x2x2),
4x4x4 patches (dim 96), 3 x 4 transformer blocks with temporal-difference-convolution (CDC-T,
theta 0.7) query/key projections, 12 heads, attention ``softmax(q k^T / 2.0)``, a spatio-temporal
feed-forward (1x1 conv 96->144, depthwise 3x3x3, 1x1 144->96), then two temporal x2 upsamplings
and a 1-D head on the spatial mean.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .physnet import BN_EPS, _bn, _conv, zscore
from .weights import load_frozen

DIM, FF, HEADS, THETA, GRA_SHARP = 96, 144, 12, 0.7, 2.0


def _conv_bn(cin: int, cout: int, k: tuple[int, int, int], bias: bool = True, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv3d(cin, cout, k, padding=(k[0] // 2, k[1] // 2, k[2] // 2), bias=bias, groups=groups), nn.BatchNorm3d(cout, eps=BN_EPS))


class CDCT(nn.Module):
    """Temporal central-difference conv: conv(x) - theta * conv1x1(x, sum of the kernel's first
    and last temporal slices)."""

    def __init__(self, c: int, theta: float = THETA) -> None:
        super().__init__()
        self.conv = nn.Conv3d(c, c, 3, padding=1, bias=False)
        self.theta = theta

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.conv.weight
        diff = (w[:, :, 0] + w[:, :, 2]).sum(dim=(2, 3))[:, :, None, None, None]
        return self.conv(x) - self.theta * F.conv3d(x, diff)


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(DIM, eps=1e-6)
        self.q = nn.Sequential(CDCT(DIM), nn.BatchNorm3d(DIM, eps=BN_EPS))
        self.k = nn.Sequential(CDCT(DIM), nn.BatchNorm3d(DIM, eps=BN_EPS))
        self.v = nn.Conv3d(DIM, DIM, 1, bias=False)
        self.proj = nn.Linear(DIM, DIM)
        self.norm2 = nn.LayerNorm(DIM, eps=1e-6)
        self.fc1 = _conv_bn(DIM, FF, (1, 1, 1), bias=False)
        self.st = _conv_bn(FF, FF, (3, 3, 3), bias=False, groups=FF)
        self.fc2 = _conv_bn(FF, DIM, (1, 1, 1), bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` [B, C, T, H, W] token grid."""
        b, c, t, h, w = x.shape
        tokens = x.flatten(2).transpose(1, 2)  # [B, P, C]
        grid = self.norm1(tokens).transpose(1, 2).reshape(b, c, t, h, w)
        q, k, v = (m(grid).flatten(2).transpose(1, 2).reshape(b, -1, HEADS, c // HEADS).transpose(1, 2) for m in (self.q, self.k, self.v))
        attended = F.scaled_dot_product_attention(q, k, v, scale=1.0 / GRA_SHARP)  # softmax(q k^T / 2) v, fused
        tokens = tokens + self.proj(attended.transpose(1, 2).reshape(b, -1, c))
        grid = self.norm2(tokens).transpose(1, 2).reshape(b, c, t, h, w)
        ff = self.fc2(F.elu(self.st(F.elu(self.fc1(grid)))))
        return (tokens.transpose(1, 2).reshape(b, c, t, h, w)) + ff


class PhysFormer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stems = nn.ModuleList([_conv_bn(3, 24, (1, 5, 5)), _conv_bn(24, 48, (3, 3, 3)), _conv_bn(48, DIM, (3, 3, 3))])
        self.patch = nn.Conv3d(DIM, DIM, 4, stride=4)
        self.blocks = nn.ModuleList(Block() for _ in range(12))
        self.up1 = _conv_bn(DIM, DIM, (3, 1, 1))
        self.up2 = _conv_bn(DIM, DIM // 2, (3, 1, 1))
        self.head = nn.Conv1d(DIM // 2, 1, 1)

    @classmethod
    def pretrained(cls, dataset: str = "pure", cache: Path | None = None) -> PhysFormer:
        """Frozen, eval-mode PhysFormer with open-rppg's ``dataset`` ("pure" or "rlap") weights."""
        return load_frozen(cls(), f"physformer.{dataset}", convert_keras, cache)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = zscore(x, (2, 3, 4))
        for stem in self.stems:
            x = F.max_pool3d(F.relu(stem(x)), (1, 2, 2))
        x = self.patch(x)
        for block in self.blocks:
            x = block(x)
        for up in (self.up1, self.up2):
            x = F.elu(up(F.interpolate(x, scale_factor=(2, 1, 1), mode="nearest")))
        return zscore(self.head(x.mean(dim=(3, 4))).squeeze(1), (1,))


def convert_keras(h5: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """open-rppg's PhysFormer h5 tensors -> this module's state dict."""
    t = torch.from_numpy
    state: dict[str, torch.Tensor] = {}

    def conv_bn(prefix: str, module: str, bias: bool = True, kind: str = "conv3d") -> None:
        state[f"{module}.0.weight"] = _conv(h5[f"{prefix}/{kind}/vars/0"])
        if bias:
            state[f"{module}.0.bias"] = t(h5[f"{prefix}/{kind}/vars/1"])
        state.update(_bn(prefix, h5, f"{module}.1"))

    for i, seq in enumerate(("sequential", "sequential_1", "sequential_2")):
        conv_bn(f"layers/{seq}/layers", f"stems.{i}")
    conv_bn("layers/sequential_3/layers", "up1")
    conv_bn("layers/sequential_4/layers", "up2")
    state["patch.weight"] = _conv(h5["layers/conv3d/vars/0"])
    state["patch.bias"] = t(h5["layers/conv3d/vars/1"])
    for n in range(12):
        tr, bl = divmod(n, 4)
        p = f"layers/transformer_st_tdc_gra_sharp{'_' + str(tr) if tr else ''}/blocks/block_st_tdc_gra_sharp{'_' + str(bl) if bl else ''}"
        m = f"blocks.{n}"
        for name in ("q", "k"):
            state[f"{m}.{name}.0.conv.weight"] = _conv(h5[f"{p}/attn/proj_{name}/layers/cdc/vars/0"])
            state.update(_bn(f"{p}/attn/proj_{name}/layers", h5, f"{m}.{name}.1"))
        state[f"{m}.v.weight"] = _conv(h5[f"{p}/attn/proj_v/layers/conv3d/vars/0"])
        state[f"{m}.proj.weight"] = t(np.ascontiguousarray(h5[f"{p}/proj/vars/0"].T))
        state[f"{m}.proj.bias"] = t(h5[f"{p}/proj/vars/1"])
        for norm in ("norm1", "norm2"):
            state[f"{m}.{norm}.weight"] = t(h5[f"{p}/{norm}/vars/0"])
            state[f"{m}.{norm}.bias"] = t(h5[f"{p}/{norm}/vars/1"])
        for name, sub in (("fc1", "fc1"), ("st", "STConv"), ("fc2", "fc2")):
            conv_bn(f"{p}/pwff/{sub}/layers", f"{m}.{name}", bias=False)
    state["head.weight"] = t(np.ascontiguousarray(h5["ConvBlockLast/vars/0"].transpose(2, 1, 0)))
    state["head.bias"] = t(h5["ConvBlockLast/vars/1"])
    for key in [k for k in state if k.endswith("running_var")]:
        state[key.replace("running_var", "num_batches_tracked")] = torch.tensor(0)
    return state
