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

import ctypes
from collections.abc import Callable
from pathlib import Path
from typing import cast

import numpy as np
import onnx
import onnx.utils
import onnxruntime as ort

from vcam.engine.errors import ModelError
from vcam.engine.inference.backends import cpu_session, session_options
from vcam.engine.recognisers import CHIP_SIZE, face_models_dir
from vcam.engine.recognisers.dlib_weights import STAGES, DlibWeights, read_dlib_weights
from vcam.engine.recognisers.onnx_graph import Conv, Graph, Shape, backward_conv, conv_out, forward_conv


def build_gradient_graph(weights: DlibWeights) -> onnx.ModelProto:
    """ONNX model: ``chip`` [1, 3, 150, 150] RGB 0..255 and ``reference`` [1, 128] ->
    ``descriptor`` [1, 128] (dlib's), ``distance`` [1, 1] (Euclidean, to ``reference``) and
    ``gradient`` [1, 3, 150, 150] (d distance / d chip)."""
    g = Graph()
    convs, affines = iter(weights.convs), iter(weights.affines)
    tape: list[dict] = []  # what each residual block's backward pass needs, replayed in reverse

    def backward_affine_conv(grad: str, layer: tuple[Conv, np.ndarray]) -> str:
        conv, gamma = layer
        return backward_conv(g, g.channelwise("Mul", grad, gamma), conv)

    def conv_affine(x: str, shape: Shape, stride: int, pad: int) -> tuple[str, Shape, tuple[Conv, np.ndarray]]:
        out, shape, c = forward_conv(g, x, shape, *next(convs), stride, pad)
        gamma, beta = next(affines)
        return g.channelwise("Add", g.channelwise("Mul", out, gamma), beta), shape, (c, gamma)

    x = g.op("Mul", g.channelwise("Sub", "chip", weights.mean_rgb), g.const(np.float32(1 / 256)))
    pre, shape, stem = conv_affine(x, (3, CHIP_SIZE, CHIP_SIZE), 2, 0)
    relu = g.op("Relu", pre)
    x, indices = g.op_outputs("MaxPool", relu, outputs=2, kernel_shape=[3, 3], strides=[2, 2])
    pooled_from = shape
    shape = (shape[0], conv_out(shape[1], 3, 2, 0), conv_out(shape[2], 3, 2, 0))
    for _, down in STAGES:
        a1, s1, c1 = conv_affine(x, shape, 2 if down else 1, 0 if down else 1)
        r1 = g.op("Relu", a1)
        a2, s2, c2 = conv_affine(r1, s1, 1, 1)
        skip, s_skip = x, shape
        if down:
            skip, s_skip = g.op("AveragePool", x, kernel_shape=[2, 2], strides=[2, 2]), (shape[0], shape[1] // 2, shape[2] // 2)
        total = cast(Shape, tuple(max(a, b) for a, b in zip(s2, s_skip, strict=True)))
        summed = g.op("Add", g.pad_to(a2, s2, total), g.pad_to(skip, s_skip, total))
        tape.append({"c1": c1, "a1": a1, "c2": c2, "s2": s2, "summed": summed, "in": shape, "skip": s_skip, "down": down})
        x, shape = g.op("Relu", summed), total
    fc = g.const(weights.fc.astype(np.float32))
    descriptor = g.op("MatMul", g.op("ReduceMean", x, keepdims=0, axes=[2, 3]), fc)
    diff = g.op("Sub", descriptor, "reference")
    distance = g.op("Sqrt", g.op("ReduceSum", g.op("Mul", diff, diff), g.const(np.array([1], np.int64)), keepdims=1))

    # backward: d distance / d descriptor = diff / distance, then every layer in reverse
    grad = g.op("MatMul", g.op("Div", diff, distance), g.const(weights.fc.T.astype(np.float32).copy()))
    grad = g.op(
        "Mul",
        g.op("Reshape", grad, g.const(np.array([1, -1, 1, 1], np.int64))),
        g.const(np.full((1, 1, shape[1], shape[2]), 1 / (shape[1] * shape[2]), np.float32)),
    )
    for rec in reversed(tape):
        gs = g.relu_mask(grad, rec["summed"])
        g2 = g.crop(gs, rec["s2"]) if rec["s2"] != shape else gs
        g1 = g.relu_mask(backward_affine_conv(g2, rec["c2"]), rec["a1"])
        g_in = backward_affine_conv(g1, rec["c1"])
        g_skip = g.crop(gs, rec["skip"]) if rec["skip"] != shape else gs
        if rec["down"]:
            c = rec["in"][0]
            g_skip = g.op(
                "ConvTranspose",
                g_skip,
                g.const(np.full((c, 1, 2, 2), 0.25, np.float32)),
                strides=[2, 2],
                kernel_shape=[2, 2],
                group=c,
                output_padding=[rec["in"][1] - 2 * rec["skip"][1]] * 2,
            )
        grad, shape = g.op("Add", g_in, g_skip), rec["in"]
    flat = int(np.prod(pooled_from))
    grad = g.op(
        "ScatterElements",
        g.const(np.zeros(flat, np.float32)),
        g.op("Reshape", indices, g.const(np.array([-1], np.int64))),
        g.op("Reshape", grad, g.const(np.array([-1], np.int64))),
        axis=0,
        reduction="add",
    )
    grad = g.relu_mask(g.op("Reshape", grad, g.const(np.array([1, *pooled_from], np.int64))), pre)
    grad = g.op("Mul", backward_affine_conv(grad, stem), g.const(np.float32(1 / 256)))
    return g.model(
        "dlib_descriptor_gradient",
        {"chip": [1, 3, CHIP_SIZE, CHIP_SIZE], "reference": [1, 128]},
        {"descriptor": (descriptor, [1, 128]), "distance": (distance, [1, 1]), "gradient": (grad, [1, 3, CHIP_SIZE, CHIP_SIZE])},
    )


def _sessions(model: onnx.ModelProto, name: str, threads: int) -> tuple[str, ort.InferenceSession, ort.InferenceSession]:
    """(input name, session of the whole graph, session of its forward half)."""
    face = model.graph.input[0].name
    forward = onnx.utils.Extractor(model).extract_model([face], ["descriptor"])
    options = session_options(threads)
    options.enable_mem_pattern = False  # its one block for all of a gradient run's tensors: +64 MB for SFace, no faster
    try:
        return face, *(cpu_session(m, options) for m in (model, forward))
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own untyped errors
        raise ModelError(f"cannot build {name}'s descriptor gradient: {exc}") from None


def _release_freed_heap() -> None:
    """Return the heap that building a graph used and freed to the OS: glibc keeps it otherwise
    (benchmarks/gradient_graphs.py measures the difference)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


class IdentityGradient:
    """A recogniser's distance from an aligned face to a reference descriptor, the gradient of that
    distance with respect to the face, and the descriptor alone (the graph's forward half), on
    onnxruntime. ``build()`` gives the model: it reads the face (``[1, 3, S, S]`` RGB 0..255) and
    ``reference`` ``[1, 128]`` and gives ``descriptor``, ``distance`` and ``gradient``."""

    def __init__(self, build: Callable[[], onnx.ModelProto], name: str, threads: int = 1) -> None:
        """Raises ``ModelError`` if onnxruntime refuses the graph."""
        self._input, self._session, self._forward = _sessions(build(), name, threads)
        _release_freed_heap()

    def _face(self, face: np.ndarray) -> dict[str, np.ndarray]:
        return {self._input: np.ascontiguousarray(face.transpose(2, 0, 1)[None], np.float32)}

    def __call__(self, face: np.ndarray, reference: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """(distance, gradient, descriptor) of ``face`` (float32 (S, S, 3) RGB in 0..255, aligned as
        the recogniser aligns) to ``reference`` (128,): the gradient is float32 (S, S, 3), per 0..255
        pixel unit, pointing where the distance grows; the descriptor is float32 (128,)."""
        feed = {**self._face(face), "reference": np.asarray(reference, np.float32).reshape(1, 128)}
        descriptor, distance, gradient = self._session.run(["descriptor", "distance", "gradient"], feed)
        return float(distance[0, 0]), np.ascontiguousarray(gradient[0].transpose(1, 2, 0)), descriptor[0]

    def describe(self, face: np.ndarray) -> np.ndarray:
        """The recogniser's float32 (128,) descriptor of ``face`` (as for calling the gradient), forward pass only."""
        return self._forward.run(["descriptor"], self._face(face))[0][0]

    @staticmethod
    def metric(a: np.ndarray, b: np.ndarray) -> float:
        """The graph's distance between two descriptors (Euclidean unless a recogniser says otherwise)."""
        return float(np.linalg.norm(a - b))

    def distance(self, face: np.ndarray, reference: np.ndarray) -> float:
        """The distance ``__call__`` gives, forward pass only (about half the cost)."""
        return self.metric(self.describe(face), reference)


class DescriptorGradient(IdentityGradient):
    """dlib's Euclidean descriptor distance on its 150x150 chip (``DlibRecogniser.chip``) and its gradient."""

    def __init__(self, path: Path | None = None, threads: int = 1) -> None:
        """Build from dlib's model file (default: ``face_recognition_models``'); raises
        ``ModelError`` naming the fix if the file is missing or corrupt."""
        super().__init__(
            lambda: build_gradient_graph(read_dlib_weights(path or face_models_dir() / "dlib_face_recognition_resnet_model_v1.dat")), "dlib", threads
        )
