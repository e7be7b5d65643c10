"""The TensorFlow.js -> ONNX converter against a numpy reference of TensorFlow's ops, on a small graph
with every op kind the shipped recognisers use (padding, strides, depthwise multipliers, fused bias and
activations, float16-quantised weights), run by onnxruntime."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from vcam.export.tfjs_onnx import convert


def _s(text: str) -> dict:
    return {"s": base64.b64encode(text.encode()).decode()}


def _conv_attrs(stride: int, padding: str, fused: list[str] | None = None) -> dict:
    attrs = {
        "strides": {"list": {"i": ["1", str(stride), str(stride), "1"]}},
        "padding": _s(padding),
        "data_format": _s("NHWC"),
        "dilations": {"list": {"i": ["1", "1", "1", "1"]}},
    }
    if fused:
        attrs["fused_ops"] = {"list": {"s": [_s(op)["s"] for op in fused]}}
    return attrs


def _conv(x: np.ndarray, w: np.ndarray, stride: int, depthwise: bool = False) -> np.ndarray:
    """TensorFlow's NHWC convolution of an already padded ``x`` (VALID)."""
    kh, kw = w.shape[:2]
    h, wd = (x.shape[1] - kh) // stride + 1, (x.shape[2] - kw) // stride + 1
    out = []
    for i in range(h):
        row = []
        for j in range(wd):
            patch = x[:, i * stride : i * stride + kh, j * stride : j * stride + kw, :]
            if depthwise:  # [kh, kw, c, mult] -> output channel c * mult + m
                row.append(np.einsum("nhwc,hwcm->ncm", patch, w).reshape(len(x), -1))
            else:
                row.append(np.einsum("nhwc,hwco->no", patch, w))
        out.append(np.stack(row, 1))
    return np.stack(out, 1)


@pytest.fixture()
def model(tmp_path: Path) -> tuple[Path, dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    w = {
        "k1": rng.normal(0, 0.5, (3, 3, 3, 4)).astype(np.float32),
        "paddings": np.array([[0, 0], [1, 1], [1, 1], [0, 0]], np.int32),
        "dw": rng.normal(0, 0.5, (3, 3, 4, 2)).astype(np.float32),
        "dwb": rng.normal(0, 0.1, 8).astype(np.float32),
        "scale": rng.normal(1, 0.2, 8).astype(np.float32),
        "six": np.array(6.0, np.float32),
        "axes": np.array([1, 2], np.int32),
        "fc": rng.normal(0, 0.5, (8, 5)).astype(np.float32),
        "fcb": rng.normal(0, 0.1, 5).astype(np.float32),
    }
    w["fc"] = w["fc"].astype(np.float16).astype(np.float32)  # stored float16-quantised below: exactly these values
    nodes = [
        {"name": "x", "op": "Placeholder", "attr": {"shape": {"shape": {"dim": [{"size": "-1"}, {"size": "8"}, {"size": "8"}, {"size": "3"}]}}}},
        *({"name": k, "op": "Const"} for k in w),
        {"name": "pad", "op": "Pad", "input": ["x", "paddings"]},
        {"name": "c1", "op": "Conv2D", "input": ["pad", "k1"], "attr": _conv_attrs(2, "VALID")},
        {"name": "dwc", "op": "FusedDepthwiseConv2dNative", "input": ["c1", "dw", "dwb"], "attr": _conv_attrs(1, "SAME", ["BiasAdd", "Relu"])},
        {"name": "mul", "op": "Mul", "input": ["dwc", "scale"]},
        {"name": "clip", "op": "Minimum", "input": ["mul", "six"]},
        {"name": "mean", "op": "Mean", "input": ["clip", "axes"], "attr": {"keep_dims": {"b": False}}},
        {"name": "out", "op": "_FusedMatMul", "input": ["mean", "fc", "fcb"], "attr": {"fused_ops": {"list": {"s": [_s("BiasAdd")["s"]]}}}},
    ]
    specs, data = [], b""
    for name, value in w.items():
        spec = {"name": name, "shape": list(value.shape), "dtype": "int32" if value.dtype == np.int32 else "float32"}
        if name == "fc":
            spec["quantization"] = {"dtype": "float16", "original_dtype": "float32"}
            data += value.astype(np.float16).tobytes()
        else:
            data += value.tobytes()
        specs.append(spec)
    (tmp_path / "m.bin").write_bytes(data)
    (tmp_path / "m.json").write_text(
        json.dumps({"format": "graph-model", "modelTopology": {"node": nodes}, "weightsManifest": [{"paths": ["m.bin"], "weights": specs}]})
    )
    return tmp_path / "m.json", w


def test_converted_graph_computes_what_tensorflow_would(model) -> None:
    path, w = model
    session = ort.InferenceSession(convert(path, "out").SerializeToString(), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(1).uniform(0, 1, (2, 8, 8, 3)).astype(np.float32)
    got = session.run(None, {"x": x})[0]
    c1 = _conv(np.pad(x, w["paddings"]), w["k1"], 2)
    dwc = np.maximum(_conv(np.pad(c1, [(0, 0), (1, 1), (1, 1), (0, 0)]), w["dw"], 1, depthwise=True) + w["dwb"], 0)
    ref = np.minimum(dwc * w["scale"], 6.0).mean((1, 2)) @ w["fc"] + w["fcb"]
    assert got.shape == (2, 5)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5)


def test_an_unsupported_op_is_named(model) -> None:
    path, _ = model
    graph = json.loads(path.read_text())
    graph["modelTopology"]["node"][-1]["op"] = "Erf"
    path.write_text(json.dumps(graph))
    with pytest.raises(ValueError, match="'Erf'"):
        convert(path, "out")
