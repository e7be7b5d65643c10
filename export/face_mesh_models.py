"""Build the face tracker's ONNX models and landmark topology (``engine/assets/face_mesh/``) from the
MediaPipe wheel, pinned by version and sha256: ``python export/face_mesh_models.py [--wheel W] [--out DIR]``.

MediaPipe's short-range face detector (BlazeFace) and its 468-point face-mesh model are Apache-2.0
TFLite files inside the ``mediapipe`` wheel; tf2onnx converts them, and the topology (which landmark
indices outline the face oval, eyes, brows, nose and lips) is read from the wheel's
``face_mesh_connections.py`` as data, without importing it. Needs only ``tensorflow-cpu`` and
``tf2onnx`` (``make face-mesh-models`` makes a throw-away venv for them); the runtime needs neither,
nor mediapipe. Each ONNX file records its source in ``vcam.*`` metadata. Card: ``engine/assets/face_mesh.md``.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

WHEEL = "mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl"
WHEEL_SHA256 = "05dc4a9e593655a79558d05d6227d31018c2537a4bd3362b51e230cf22aecfe3"
MODELS = {
    "detector.onnx": "mediapipe/modules/face_detection/face_detection_short_range.tflite",
    "landmarks.onnx": "mediapipe/modules/face_landmark/face_landmark.tflite",
}
CONNECTIONS = "mediapipe/python/solutions/face_mesh_connections.py"
REGIONS = ("FACE_OVAL", "LEFT_EYE", "RIGHT_EYE", "LEFT_EYEBROW", "RIGHT_EYEBROW", "NOSE", "LIPS")
OPSET = 17
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "engine" / "assets" / "face_mesh"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch_wheel(folder: Path) -> Path:
    """Download the pinned wheel from the package registry into ``folder``."""
    version = WHEEL.split("-")[1]
    cmd = [sys.executable, "-m", "pip", "download", f"mediapipe=={version}", "--no-deps", "--only-binary=:all:"]
    cmd += ["--python-version", "3.11", "--platform", "manylinux_2_28_x86_64", "-d", str(folder)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return folder / WHEEL


def topology(source: str) -> dict[str, list[list[int]]]:
    """The ``FACEMESH_<region>`` edge sets of ``face_mesh_connections.py``, read as literals."""
    edges = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name) and isinstance(node.value, ast.Call):
            name = node.targets[0].id.removeprefix("FACEMESH_")
            if name in REGIONS:
                edges[name] = sorted([int(a), int(b)] for a, b in ast.literal_eval(node.value.args[0]))
    missing = set(REGIONS) - set(edges)
    if missing:
        raise SystemExit(f"error: {CONNECTIONS} lacks {sorted(missing)}")
    return edges


def canonical_names(model: Any) -> None:
    """Rename the graph's inner values and nodes in order of use (tf2onnx numbers them from a
    counter that differs between runs), so that two conversions give the same bytes."""
    graph = model.graph
    keep = {v.name for v in list(graph.input) + list(graph.output)}
    names: dict[str, str] = {}
    for node in graph.node:
        for value in list(node.input) + list(node.output):
            if value and value not in keep:
                names.setdefault(value, f"v{len(names)}")
    for i, node in enumerate(graph.node):
        node.name = f"{node.op_type}_{i}"
        node.input[:] = [names.get(v, v) for v in node.input]
        node.output[:] = [names.get(v, v) for v in node.output]
    for field in (graph.initializer, graph.value_info):
        for item in field:
            item.name = names.get(item.name, item.name)
        ordered = sorted(field, key=lambda item: int(item.name[1:]) if item.name[1:].isdigit() else -1)
        copies = [type(item).FromString(item.SerializeToString()) for item in ordered]
        del field[:]
        field.extend(copies)


def convert(tflite: Path, out: Path, member: str) -> None:
    """One TFLite file as ONNX, its provenance in the metadata."""
    import onnx
    import tf2onnx

    model, _ = tf2onnx.convert.from_tflite(str(tflite), opset=OPSET)
    canonical_names(model)
    onnx.checker.check_model(model)
    meta = {
        "vcam.source": f"pypi:{WHEEL}",
        "vcam.source_sha256": WHEEL_SHA256,
        "vcam.member": member,
        "vcam.member_sha256": sha256(tflite),
        "vcam.converter": f"tf2onnx {tf2onnx.__version__}, opset {OPSET}",
        "vcam.licence": "Apache-2.0 (MediaPipe)",
    }
    for key, value in meta.items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wheel", type=Path, help=f"a downloaded {WHEEL} (default: pip downloads it)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: %(default)s)")
    args = parser.parse_args()
    try:
        import tf2onnx  # noqa: F401
    except ImportError:
        parser.error("needs tf2onnx and tensorflow-cpu: run `make face-mesh-models`, which installs them in a throw-away venv")
    with tempfile.TemporaryDirectory(prefix="vcam-mediapipe-") as tmp:
        wheel = args.wheel or fetch_wheel(Path(tmp))
        if sha256(wheel) != WHEEL_SHA256:
            parser.error(f"{wheel}: sha256 is not the pinned {WHEEL_SHA256}")
        args.out.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(wheel) as zf:
            for name, member in MODELS.items():
                tflite = Path(tmp) / Path(member).name
                tflite.write_bytes(zf.read(member))
                convert(tflite, args.out / name, member)
            edges = topology(zf.read(CONNECTIONS).decode())
        (args.out / "topology.json").write_text(json.dumps({"source": f"pypi:{WHEEL}:{CONNECTIONS}", "edges": edges}) + "\n")
    for path in sorted(args.out.iterdir()):
        print(f"{path}  sha256 {sha256(path)}")


if __name__ == "__main__":
    main()
