"""A TensorFlow.js graph model (``model.json`` + weight shards) as an ONNX model, with numpy and onnx
only: no TensorFlow, no tf2onnx.

Covers the op set of the feed-forward face recognisers the project converts (convolutions, fused
convolutions and matmuls, element-wise arithmetic, reductions, pad, reshape, squeeze). The graph
stays in TensorFlow's NHWC layout; each convolution is wrapped in the two transposes ONNX's NCHW
``Conv`` needs, which onnxruntime's layout optimiser cancels. An op outside the set raises
``ValueError`` naming it, so a model is either converted whole or not at all.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 18
_STORED = {"float32": np.float32, "int32": np.int32, "float16": np.float16, "uint8": np.uint8}
_CONST_OPERANDS = {"Conv2D", "_FusedConv2D", "DepthwiseConv2dNative", "FusedDepthwiseConv2dNative", "Mean", "Sum", "Pad", "Reshape"}
_ELEMENTWISE = {
    "Add": "Add",
    "AddV2": "Add",
    "Sub": "Sub",
    "Mul": "Mul",
    "Maximum": "Max",
    "Minimum": "Min",
    "Relu": "Relu",
    "Abs": "Abs",
    "Sigmoid": "Sigmoid",
    "Identity": "Identity",
}


def read_weights(model: dict, folder: Path) -> dict[str, np.ndarray]:
    """Every tensor of the model's weight manifest, dequantised to its original dtype."""
    out: dict[str, np.ndarray] = {}
    for group in model["weightsManifest"]:
        data = b"".join((folder / p).read_bytes() for p in group["paths"])
        offset = 0
        for w in group["weights"]:
            q = w.get("quantization", {})
            stored = np.dtype(_STORED[q.get("dtype", w["dtype"])])
            count = int(np.prod(w["shape"], dtype=np.int64))
            raw = np.frombuffer(data, stored, count, offset).reshape(w["shape"])
            offset += count * stored.itemsize
            if q.get("dtype") == "uint8":
                raw = raw * np.float32(q["scale"]) + np.float32(q["min"])
            out[w["name"]] = raw.astype(_STORED[w["dtype"]])
        if offset != len(data):
            raise ValueError(f"weight shards of {group['paths']} hold {len(data)} bytes, the manifest {offset}")
    return out


def _attr(node: dict, key: str, default: Any = None) -> Any:
    """A node attribute as a Python value (strings decoded, lists as lists of int or str)."""
    value = node.get("attr", {}).get(key)
    if value is None:
        return default
    if "s" in value:
        return base64.b64decode(value["s"]).decode()
    if "list" in value:
        lst = value["list"]
        return [base64.b64decode(s).decode() for s in lst["s"]] if "s" in lst else [int(i) for i in lst.get("i", [])]
    for kind, cast in (("i", int), ("f", float), ("b", bool)):
        if kind in value:
            return cast(value[kind])
    return value


class _Builder:
    def __init__(self, consts: dict[str, np.ndarray]) -> None:
        self.consts = consts
        self.nodes: list[onnx.NodeProto] = []
        self.inits: dict[str, np.ndarray] = {}
        self.count = 0

    def const(self, value: np.ndarray | np.generic, hint: str) -> str:
        self.count += 1
        name = f"{hint}__c{self.count}"
        self.inits[name] = np.asarray(value)
        return name

    def tensor(self, ref: str) -> str:
        """A TF input reference (``name``, ``name:0``) as a tensor name, its constant registered."""
        name = ref.split(":")[0] if ref.endswith(":0") else ref
        if name in self.consts and name not in self.inits:
            self.inits[name] = self.consts[name]
        return name

    def add(self, op: str, inputs: list[str], output: str | None = None, **attrs: Any) -> str:
        self.count += 1
        out = output or f"t{self.count}_{op}"
        self.nodes.append(helper.make_node(op, inputs, [out], name=f"n{self.count}_{op}", **attrs))
        return out

    def conv(self, node: dict, depthwise: bool) -> str:
        x, kernel = self.tensor(node["input"][0]), self.consts[node["input"][1]]
        if depthwise:  # [kh, kw, cin, mult] -> [cin*mult, 1, kh, kw]
            kh, kw, cin, mult = kernel.shape
            weight, group = kernel.reshape(kh, kw, cin * mult).transpose(2, 0, 1)[:, None], cin
        else:  # [kh, kw, cin, cout] -> [cout, cin, kh, kw]
            weight, group = kernel.transpose(3, 2, 0, 1), 1
        padding = _attr(node, "padding")
        if padding not in ("SAME", "VALID") or _attr(node, "data_format", "NHWC") != "NHWC":
            raise ValueError(f"{node['name']}: padding {padding!r} / layout {_attr(node, 'data_format')!r} not supported")
        inputs = [self.add("Transpose", [x], perm=[0, 3, 1, 2]), self.const(np.ascontiguousarray(weight), node["name"])]
        fused = _attr(node, "fused_ops", [])
        if fused[:1] == ["BiasAdd"]:
            inputs.append(self.tensor(node["input"][2]))
        elif fused:
            raise ValueError(f"{node['name']}: fused ops {fused} not supported")
        y = self.add(
            "Conv",
            inputs,
            strides=_attr(node, "strides")[1:3],
            dilations=_attr(node, "dilations", [1, 1, 1, 1])[1:3],
            group=int(group),
            auto_pad="SAME_UPPER" if padding == "SAME" else "VALID",
        )
        return self.activation(node, self.add("Transpose", [y], perm=[0, 2, 3, 1]), fused[1:])

    def activation(self, node: dict, x: str, fused: list[str]) -> str:
        for op in fused:
            if op == "Relu":
                x = self.add("Relu", [x])
            elif op == "Relu6":
                x = self.add("Clip", [x, self.const(np.float32(0), "lo"), self.const(np.float32(6), "hi")])
            else:
                raise ValueError(f"{node['name']}: fused activation {op!r} not supported")
        return x

    def convert(self, node: dict) -> str:
        """Emit ``node``; its output tensor carries the TF node's name."""
        op, name = node["op"], node["name"]
        refs = [i for i in node.get("input", []) if not i.startswith("^")]
        ins = [self.tensor(i) for i in refs] if op not in _CONST_OPERANDS else [self.tensor(refs[0]), *refs[1:]]
        if op in ("Conv2D", "_FusedConv2D"):
            y = self.conv(node, depthwise=False)
        elif op in ("DepthwiseConv2dNative", "FusedDepthwiseConv2dNative"):
            y = self.conv(node, depthwise=True)
        elif op in ("MatMul", "_FusedMatMul"):
            if _attr(node, "transpose_a", False) or _attr(node, "transpose_b", False):
                raise ValueError(f"{name}: transposed MatMul not supported")
            y = self.add("MatMul", ins[:2])
            fused = _attr(node, "fused_ops", [])
            if fused[:1] == ["BiasAdd"]:
                y = self.add("Add", [y, ins[2]])
            y = self.activation(node, y, fused[1:])
        elif op == "Relu6":
            y = self.activation(node, ins[0], ["Relu6"])
        elif op in _ELEMENTWISE:
            y = self.add(_ELEMENTWISE[op], ins)
        elif op == "Square":
            y = self.add("Mul", [ins[0], ins[0]])
        elif op == "Rsqrt":
            y = self.add("Reciprocal", [self.add("Sqrt", ins)])
        elif op == "Softmax":
            y = self.add("Softmax", ins, axis=-1)
        elif op in ("Mean", "Sum"):
            axes = self.const(self.consts[ins[1]].astype(np.int64).reshape(-1), name)
            y = self.add("ReduceMean" if op == "Mean" else "ReduceSum", [ins[0], axes], keepdims=int(_attr(node, "keep_dims", False)))
        elif op == "Pad":
            pads = self.consts[ins[1]].astype(np.int64)
            y = self.add("Pad", [ins[0], self.const(np.concatenate([pads[:, 0], pads[:, 1]]), name)])
        elif op == "Reshape":
            y = self.add("Reshape", [ins[0], self.const(self.consts[ins[1]].astype(np.int64), name)])
        elif op == "Squeeze":
            y = self.add("Squeeze", [ins[0], self.const(np.array(_attr(node, "squeeze_dims"), np.int64), name)])
        else:
            raise ValueError(f"op {op!r} ({name}) is not supported by the converter")
        self.nodes[-1].output[0] = name
        return name


def convert(model_json: Path, output: str, producer: str = "vcam.export.tfjs_onnx") -> onnx.ModelProto:
    """The graph model at ``model_json`` (its shards beside it) as an ONNX model with one float32
    NHWC input (the TF placeholder's name and shape, batch dynamic) and the one output ``output``
    (a TF node name), holding only the nodes that output depends on."""
    model = json.loads(Path(model_json).read_text())
    consts = read_weights(model, Path(model_json).parent)
    nodes = {n["name"]: n for n in model["modelTopology"]["node"]}
    order: list[str] = []
    seen: set[str] = set()

    def visit(name: str) -> None:  # depth-first post-order: a node after its inputs
        stack = [(name, False)]
        while stack:
            n, done = stack.pop()
            if done:
                order.append(n)
                continue
            if n in seen:
                continue
            seen.add(n)
            stack.append((n, True))
            stack.extend((i.lstrip("^").split(":")[0], False) for i in nodes[n].get("input", []))

    visit(output)
    builder = _Builder(consts)
    placeholders = []
    for n in order:
        node = nodes[n]
        if node["op"] == "Placeholder":
            placeholders.append(node)
        elif node["op"] != "Const":
            builder.convert(node)
    if len(placeholders) != 1:
        raise ValueError(f"expected one input, found {[p['name'] for p in placeholders]}")
    dims = [int(d["size"]) for d in _attr(placeholders[0], "shape")["shape"]["dim"]]
    graph_input = helper.make_tensor_value_info(placeholders[0]["name"], TensorProto.FLOAT, ["batch", *dims[1:]])
    inits, casts = [], []
    for key, value in builder.inits.items():
        value = np.asarray(value)
        if value.dtype == np.float32 and value.size > 1024 and np.array_equal(value.astype(np.float16).astype(np.float32), value):
            # stored as float16 where that is exact (weights shipped float16-quantised): half the file
            inits.append(numpy_helper.from_array(value.astype(np.float16), key + "__f16"))
            casts.append(helper.make_node("Cast", [key + "__f16"], [key], to=TensorProto.FLOAT))
        else:
            inits.append(numpy_helper.from_array(value, key))
    graph = helper.make_graph(casts + builder.nodes, Path(model_json).stem, [graph_input], [], inits)
    onnx_model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name=producer)
    onnx_model.ir_version = 8
    inferred = {v.name: v for v in onnx.shape_inference.infer_shapes(onnx_model).graph.value_info}
    onnx_model.graph.output.append(inferred[output])
    onnx.checker.check_model(onnx_model)
    return onnx_model
