"""dlib's ResNet face recogniser (``dlib_face_recognition_resnet_model_v1.dat``) as a
differentiable torch module, its weights read from dlib's serialised file by
``vcam.engine.recognisers.dlib_weights`` (no pickle, no dlib).

Network (dlib ``dnn_face_recognition_ex.cpp``): input (RGB - mean) / 256, 150x150;
con 32 7x7/2 -> affine -> relu -> max_pool 3x3/2 -> 3 x res(32) -> res_down(64) + 3 x res(64)
-> res_down(128) + 2 x res(128) -> res_down(256) + 2 x res(256) -> res_down(256) -> global
average -> fc 256->128 (no bias). res: con3x3 -> affine -> relu -> con3x3 -> affine, + input,
relu. res_down: the first con has stride 2 and no padding; the skip is avg_pool 2x2/2; where
shapes differ the smaller tensor is zero-padded (bottom/right, extra channels), as dlib's
``add_prev`` does. The output is dlib's 128-d descriptor (same person: distance < 0.6).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from vcam.engine.errors import ModelError
from vcam.engine.recognisers.dlib_weights import STAGES, DlibWeights, read_dlib_weights


def _pad_add(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """dlib add_prev: sum over the larger shape, zero-padding the smaller (bottom/right, channels)."""
    if a.shape == b.shape:
        return a + b
    c, h, w = (max(x, y) for x, y in zip(a.shape[1:], b.shape[1:], strict=True))
    a = F.pad(a, (0, w - a.shape[3], 0, h - a.shape[2], 0, c - a.shape[1]))
    b = F.pad(b, (0, w - b.shape[3], 0, h - b.shape[2], 0, c - b.shape[1]))
    return a + b


class _Affine(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(c))
        self.bias = nn.Parameter(torch.zeros(c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight[:, None, None] + self.bias[:, None, None]


class _Residual(nn.Module):
    def __init__(self, cin: int, cout: int, down: bool) -> None:
        super().__init__()
        self.down = down
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=2 if down else 1, padding=0 if down else 1)
        self.aff1 = _Affine(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.aff2 = _Affine(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.aff2(self.conv2(F.relu(self.aff1(self.conv1(x)))))
        skip = F.avg_pool2d(x, 2, 2) if self.down else x
        return F.relu(_pad_add(y, skip))


class DlibFaceNet(nn.Module):
    """Differentiable dlib ResNet: ``[B, 3, 150, 150]`` RGB in [0, 255] -> ``[B, 128]``."""

    mean: torch.Tensor  # a buffer: dlib's input channel means

    def __init__(self, weights: DlibWeights | None = None) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(1, 3, 1, 1))
        self.stem = nn.Conv2d(3, 32, 7, stride=2)
        self.stem_aff = _Affine(32)
        blocks, cin = [], 32
        for cout, down in STAGES:
            blocks.append(_Residual(cin, cout, down))
            cin = cout
        self.blocks = nn.ModuleList(blocks)
        self.fc = nn.Linear(256, 128, bias=False)
        if weights is not None:
            self.load_dlib(weights)

    @classmethod
    def from_file(cls, path: Path | None = None) -> DlibFaceNet:
        """Load from ``face_recognition_models`` (or ``path``), frozen and in eval mode."""
        from vcam.engine.recognisers import face_models_dir

        net = cls(read_dlib_weights(path or face_models_dir() / "dlib_face_recognition_resnet_model_v1.dat")).eval()
        return net.requires_grad_(False)

    def load_dlib(self, w: DlibWeights) -> None:
        blocks = [b for b in self.blocks if isinstance(b, _Residual)]
        convs = [self.stem] + [c for b in blocks for c in (b.conv1, b.conv2)]
        affs = [self.stem_aff] + [a for b in blocks for a in (b.aff1, b.aff2)]
        with torch.no_grad():
            self.mean.copy_(torch.from_numpy(w.mean_rgb).view(1, 3, 1, 1))
            for conv, (weight, bias) in zip(convs, w.convs, strict=True):
                if tuple(conv.weight.shape) != weight.shape:
                    raise ModelError(f"dlib layer shape {weight.shape} does not match {tuple(conv.weight.shape)}")
                conv.weight.copy_(torch.from_numpy(weight))
                assert conv.bias is not None  # every dlib convolution has one
                conv.bias.copy_(torch.from_numpy(bias))
            for aff, (gamma, beta) in zip(affs, w.affines, strict=True):
                aff.weight.copy_(torch.from_numpy(gamma))
                aff.bias.copy_(torch.from_numpy(beta))
            self.fc.weight.copy_(torch.from_numpy(w.fc.T))

    def forward(self, chips: torch.Tensor) -> torch.Tensor:
        x = (chips - self.mean) / 256.0
        x = F.max_pool2d(F.relu(self.stem_aff(self.stem(x))), 3, 2)
        for block in self.blocks:
            x = block(x)
        return self.fc(x.mean(dim=(2, 3)))
