"""Building ONNX graphs by hand, forward and backward, for the runtime's identity gradients
(``identity_gradient`` for dlib, ``sface_gradient`` for SFace): a node/constant collector and the
layer pieces both need. A backward pass is written with forward operators (a convolution's input
gradient is the transposed convolution with the same weights, ReLU's is its mask), so the graphs
need no training runtime.

    g = Graph()
    y, shape, conv = forward_conv(g, "x", (3, 112, 112), weight, bias, stride=2, pad=1)
    dx = backward_conv(g, "dy", conv)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
Shape = tuple[int, int, int]  # (channels, height, width) of one activation


class Graph:
    """Collects the ONNX nodes and constants of one graph; every value has a fresh name."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.constants: list[onnx.TensorProto] = []
        self._n = 0

    def _name(self, stem: str) -> str:
        self._n += 1
        return f"{stem}_{self._n}"

    def const(self, value: np.ndarray | np.generic) -> str:
        name = self._name("c")
        self.constants.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(self, kind: str, *inputs: str, **attrs: Any) -> str:
        """A node with one output; returns that output's name."""
        return self.op_outputs(kind, *inputs, outputs=1, **attrs)[0]

    def op_outputs(self, kind: str, *inputs: str, outputs: int, **attrs: Any) -> list[str]:
        """A node with ``outputs`` outputs; returns their names."""
        names = [self._name(kind.lower()) for _ in range(outputs)]
        self.nodes.append(helper.make_node(kind, list(inputs), names, **attrs))
        return names

    def channelwise(self, kind: str, x: str, values: np.ndarray) -> str:
        return self.op(kind, x, self.const(values.astype(np.float32).reshape(-1, 1, 1)))

    def relu_mask(self, grad: str, pre: str) -> str:
        """``grad`` where ``pre`` > 0, else 0: ReLU's backward pass."""
        return self.op("Mul", grad, self.op("Cast", self.op("Greater", pre, self.const(np.float32(0))), to=TensorProto.FLOAT))

    def crop(self, x: str, shape: Shape) -> str:
        """The first ``shape`` channels, rows and columns of ``x`` (the backward pass of zero-padding)."""
        return self.op("Slice", x, self.const(np.zeros(3, np.int64)), self.const(np.array(shape, np.int64)), self.const(np.array([1, 2, 3], np.int64)))

    def pad_to(self, x: str, have: Shape, want: Shape) -> str:
        """``x`` zero-padded at the end of channels, rows and columns from ``have`` to ``want``."""
        if have == want:
            return x
        pads = np.array([0, 0, 0, 0, 0, *(w - h for w, h in zip(want, have, strict=True))], np.int64)
        return self.op("Pad", x, self.const(pads))

    def model(self, name: str, inputs: dict[str, list[int]], outputs: dict[str, tuple[str, list[int]]]) -> onnx.ModelProto:
        """The float32 model reading ``inputs`` (name: shape) and giving ``outputs`` (name: (value, shape))."""
        for out, (value, _) in outputs.items():
            self.nodes.append(helper.make_node("Identity", [value], [out]))
        graph = helper.make_graph(
            self.nodes,
            name,
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs.items()],
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, (_, s) in outputs.items()],
            self.constants,
        )
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="vcam")


@dataclass
class Conv:
    """What a convolution's backward pass needs."""

    weight: str  # the constant holding its OIHW weights
    values: np.ndarray  # those weights
    kernel: int
    stride: int
    pad: int
    group: int
    extra: int  # input rows (and columns) the strided convolution never reached


def conv_out(size: int, kernel: int, stride: int, pad: int) -> int:
    return (size + 2 * pad - kernel) // stride + 1


def forward_conv(
    g: Graph, x: str, shape: tuple[int, ...], weight: np.ndarray, bias: np.ndarray | None, stride: int, pad: int, group: int = 1
) -> tuple[str, Shape, Conv]:
    """Square convolution with symmetric padding: (output, its shape, what its backward pass needs)."""
    k = weight.shape[-1]
    w = g.const(weight.astype(np.float32))
    inputs = (x, w) if bias is None else (x, w, g.const(bias.astype(np.float32)))
    out = g.op("Conv", *inputs, strides=[stride] * 2, pads=[pad] * 4, kernel_shape=[k, k], group=group)
    size = conv_out(shape[1], k, stride, pad)
    extra = shape[1] - ((size - 1) * stride - 2 * pad + k)
    return out, (weight.shape[0], size, size), Conv(w, weight, k, stride, pad, group, extra)


def backward_conv(g: Graph, grad: str, c: Conv) -> str:
    """Gradient with respect to a convolution's input: the transposed convolution with its weights;
    for stride 1, the same as a convolution with the weights flipped and each group's in and out
    channels swapped, which onnxruntime runs several times faster (depthwise and 1x1 above all)."""
    if c.stride == 1:
        o, i, k, _ = c.values.shape
        swapped = c.values.reshape(c.group, o // c.group, i, k, k).transpose(0, 2, 1, 3, 4).reshape(i * c.group, o // c.group, k, k)
        return g.op(
            "Conv", grad, g.const(np.ascontiguousarray(swapped[..., ::-1, ::-1], np.float32)), pads=[k - 1 - c.pad] * 4, kernel_shape=[k, k], group=c.group
        )
    return g.op(
        "ConvTranspose", grad, c.weight, strides=[c.stride] * 2, pads=[c.pad] * 4, kernel_shape=[c.kernel] * 2, output_padding=[c.extra] * 2, group=c.group
    )
