"""How to move a face away from dlib's recognition of it, at run time and without torch: dlib's
ResNet and the gradient of its descriptor distance with respect to the input chip, built as one
ONNX graph straight from dlib's own model file (``dlib_weights``) and run by onnxruntime.

    gradient = DescriptorGradient()
    distance, grad = gradient(chip, reference)   # chip: float32 (150, 150, 3) RGB 0..255

The forward pass is dlib's (``vcam.models.dlib_resnet`` documents the layers); the backward pass
is written out layer by layer with forward operators (a convolution's input gradient is the
transposed convolution with the same weights, ReLU's is its mask, max pooling routes through its
indices, average pooling spreads evenly), so the graph needs no training runtime and nothing is
stored: the ~22 MB of weights stay in ``face_recognition_models``. Per chip on one core it costs
about two forward passes (``benchmarks/pipeline.py`` measures it in the ``adaptive`` filter).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnx.utils
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from .dlib_weights import STAGES, DlibWeights, read_dlib_weights
from .errors import ModelError
from .identity import CHIP_SIZE, face_models_dir

OPSET = 17
Shape = tuple[int, int, int]  # (channels, height, width) of one activation


class _Graph:
    """Collects the ONNX nodes and constants of one graph; every value has a fresh name."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.constants: list[onnx.TensorProto] = []
        self._n = 0

    def _name(self, stem: str) -> str:
        self._n += 1
        return f"{stem}_{self._n}"

    def const(self, value: np.ndarray) -> str:
        name = self._name("c")
        self.constants.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(self, kind: str, *inputs: str, outputs: int = 1, **attrs: object) -> str | list[str]:
        names = [self._name(kind.lower()) for _ in range(outputs)]
        self.nodes.append(helper.make_node(kind, list(inputs), names, **attrs))
        return names[0] if outputs == 1 else names

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


def _conv_out(size: int, kernel: int, stride: int, pad: int) -> int:
    return (size + 2 * pad - kernel) // stride + 1


def _conv(g: _Graph, x: str, shape: Shape, weight: np.ndarray, bias: np.ndarray, stride: int, pad: int) -> tuple[str, Shape, dict]:
    """Convolution forward: (output, its shape, what its backward pass needs)."""
    k = weight.shape[-1]
    w = g.const(weight)
    out = g.op("Conv", x, w, g.const(bias), strides=[stride] * 2, pads=[pad] * 4, kernel_shape=[k, k])
    size = _conv_out(shape[1], k, stride, pad)
    extra = shape[1] - ((size - 1) * stride - 2 * pad + k)  # rows the strided convolution never reached
    return out, (weight.shape[0], size, size), {"w": w, "k": k, "stride": stride, "pad": pad, "extra": extra}


def _conv_back(g: _Graph, grad: str, c: dict) -> str:
    """Gradient with respect to a convolution's input: the transposed convolution with its weights."""
    return g.op("ConvTranspose", grad, c["w"], strides=[c["stride"]] * 2, pads=[c["pad"]] * 4, kernel_shape=[c["k"]] * 2,
                output_padding=[c["extra"]] * 2)


def build_gradient_graph(weights: DlibWeights) -> onnx.ModelProto:
    """ONNX model: ``chip`` [1, 3, 150, 150] RGB 0..255 and ``reference`` [1, 128] ->
    ``descriptor`` [1, 128] (dlib's), ``distance`` [1, 1] (Euclidean, to ``reference``) and
    ``gradient`` [1, 3, 150, 150] (d distance / d chip)."""
    g = _Graph()
    convs, affines = iter(weights.convs), iter(weights.affines)
    tape: list[dict] = []  # what each residual block's backward pass needs, replayed in reverse

    def conv_affine(x: str, shape: Shape, stride: int, pad: int) -> tuple[str, Shape, dict]:
        out, shape, c = _conv(g, x, shape, *next(convs), stride, pad)
        gamma, beta = next(affines)
        return g.channelwise("Add", g.channelwise("Mul", out, gamma), beta), shape, {**c, "gamma": gamma}

    x = g.op("Mul", g.channelwise("Sub", "chip", weights.mean_rgb), g.const(np.float32(1 / 256)))
    pre, shape, stem = conv_affine(x, (3, CHIP_SIZE, CHIP_SIZE), 2, 0)
    relu = g.op("Relu", pre)
    x, indices = g.op("MaxPool", relu, outputs=2, kernel_shape=[3, 3], strides=[2, 2])
    pooled_from = shape
    shape = (shape[0], _conv_out(shape[1], 3, 2, 0), _conv_out(shape[2], 3, 2, 0))
    for _, down in STAGES:
        a1, s1, c1 = conv_affine(x, shape, 2 if down else 1, 0 if down else 1)
        r1 = g.op("Relu", a1)
        a2, s2, c2 = conv_affine(r1, s1, 1, 1)
        skip, s_skip = x, shape
        if down:
            skip, s_skip = g.op("AveragePool", x, kernel_shape=[2, 2], strides=[2, 2]), (shape[0], shape[1] // 2, shape[2] // 2)
        total = tuple(max(a, b) for a, b in zip(s2, s_skip, strict=True))
        summed = g.op("Add", g.pad_to(a2, s2, total), g.pad_to(skip, s_skip, total))
        tape.append({"c1": c1, "a1": a1, "c2": c2, "s2": s2, "summed": summed, "in": shape, "skip": s_skip, "down": down})
        x, shape = g.op("Relu", summed), total
    fc = g.const(weights.fc.astype(np.float32))
    descriptor = g.op("MatMul", g.op("ReduceMean", x, keepdims=0, axes=[2, 3]), fc)
    diff = g.op("Sub", descriptor, "reference")
    distance = g.op("Sqrt", g.op("ReduceSum", g.op("Mul", diff, diff), g.const(np.array([1], np.int64)), keepdims=1))

    # backward: d distance / d descriptor = diff / distance, then every layer in reverse
    grad = g.op("MatMul", g.op("Div", diff, distance), g.const(weights.fc.T.astype(np.float32).copy()))
    grad = g.op("Mul", g.op("Reshape", grad, g.const(np.array([1, -1, 1, 1], np.int64))),
                g.const(np.full((1, 1, shape[1], shape[2]), 1 / (shape[1] * shape[2]), np.float32)))
    for rec in reversed(tape):
        gs = g.relu_mask(grad, rec["summed"])
        g2 = g.crop(gs, rec["s2"]) if rec["s2"] != shape else gs
        g1 = g.relu_mask(_conv_back(g, g.channelwise("Mul", g2, rec["c2"]["gamma"]), rec["c2"]), rec["a1"])
        g_in = _conv_back(g, g.channelwise("Mul", g1, rec["c1"]["gamma"]), rec["c1"])
        g_skip = g.crop(gs, rec["skip"]) if rec["skip"] != shape else gs
        if rec["down"]:
            c = rec["in"][0]
            g_skip = g.op("ConvTranspose", g_skip, g.const(np.full((c, 1, 2, 2), 0.25, np.float32)), strides=[2, 2], kernel_shape=[2, 2],
                          group=c, output_padding=[rec["in"][1] - 2 * rec["skip"][1]] * 2)
        grad, shape = g.op("Add", g_in, g_skip), rec["in"]
    flat = int(np.prod(pooled_from))
    grad = g.op("ScatterElements", g.const(np.zeros(flat, np.float32)), g.op("Reshape", indices, g.const(np.array([-1], np.int64))),
                g.op("Reshape", grad, g.const(np.array([-1], np.int64))), axis=0, reduction="add")
    grad = g.relu_mask(g.op("Reshape", grad, g.const(np.array([1, *pooled_from], np.int64))), pre)
    grad = _conv_back(g, g.channelwise("Mul", grad, stem["gamma"]), stem)
    g.nodes.append(helper.make_node("Mul", [grad, g.const(np.float32(1 / 256))], ["gradient"]))
    g.nodes.append(helper.make_node("Identity", [descriptor], ["descriptor"]))
    g.nodes.append(helper.make_node("Identity", [distance], ["distance"]))
    chip = helper.make_tensor_value_info("chip", TensorProto.FLOAT, [1, 3, CHIP_SIZE, CHIP_SIZE])
    ref = helper.make_tensor_value_info("reference", TensorProto.FLOAT, [1, 128])
    outs = [helper.make_tensor_value_info("descriptor", TensorProto.FLOAT, [1, 128]),
            helper.make_tensor_value_info("distance", TensorProto.FLOAT, [1, 1]),
            helper.make_tensor_value_info("gradient", TensorProto.FLOAT, [1, 3, CHIP_SIZE, CHIP_SIZE])]
    graph = helper.make_graph(g.nodes, "dlib_descriptor_gradient", [chip, ref], outs, g.constants)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="vcam")


class DescriptorGradient:
    """dlib's descriptor distance of a face chip to a reference descriptor and its gradient, and
    dlib's descriptor alone (the forward half of the same graph)."""

    def __init__(self, path: Path | None = None, threads: int = 1) -> None:
        """Build from dlib's model file (default: ``face_recognition_models``'); raises
        ``ModelError`` naming the fix if the file is missing or corrupt."""
        model = build_gradient_graph(read_dlib_weights(path or face_models_dir() / "dlib_face_recognition_resnet_model_v1.dat"))
        forward = onnx.utils.Extractor(model).extract_model(["chip"], ["descriptor"])
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = opts.inter_op_num_threads = threads
        try:
            self._session, self._forward = (ort.InferenceSession(m.SerializeToString(), opts, providers=["CPUExecutionProvider"])
                                            for m in (model, forward))
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own untyped errors
            raise ModelError(f"cannot build dlib's descriptor gradient: {exc}") from None

    @staticmethod
    def _chip(chip: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(chip.transpose(2, 0, 1)[None], np.float32)

    def __call__(self, chip: np.ndarray, reference: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """(distance, gradient, descriptor) of ``chip`` (float32 (150, 150, 3) RGB in 0..255, dlib's
        aligned face chip) to ``reference`` (128,): the gradient is float32 (150, 150, 3), per 0..255
        pixel unit, pointing where the distance grows; the descriptor is float32 (128,)."""
        feed = {"chip": self._chip(chip), "reference": np.asarray(reference, np.float32).reshape(1, 128)}
        descriptor, distance, gradient = self._session.run(["descriptor", "distance", "gradient"], feed)
        return float(distance[0, 0]), np.ascontiguousarray(gradient[0].transpose(1, 2, 0)), descriptor[0]

    def describe(self, chip: np.ndarray) -> np.ndarray:
        """dlib's float32 (128,) descriptor of ``chip`` (as for calling the gradient), forward pass only."""
        return self._forward.run(["descriptor"], {"chip": self._chip(chip)})[0][0]
