"""The face tracker's models (MediaPipe's, on onnxruntime) against MediaPipe's own pipeline,
recorded in tests/reference/face_mesh_mediapipe.npz by export/face_mesh_reference.py."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

from vcam.engine.asset_files import asset
from vcam.engine.face_mesh import REGIONS, FaceMesh
from vcam.engine.face_mesh.detector import FaceDetector, anchors
from vcam.export import face_mesh_models

from conftest import DATA, EVM_VIDEO, need, read_rgb, read_video

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "reference" / "face_mesh_mediapipe.npz"


def _error(found: np.ndarray, ref: np.ndarray) -> float:
    """Mean landmark distance over the reference's inter-ocular distance (eye corners 33, 263)."""
    iod = float(np.linalg.norm(ref[33, :2] - ref[263, :2]))
    return float(np.linalg.norm(found[:, :2] - ref[:, :2], axis=1).mean()) / iod


def test_tracks_the_video_as_mediapipe_does() -> None:
    ref = np.load(REFERENCE)["evm"][:, 0].astype(np.float32)
    mesh = FaceMesh(max_faces=2)
    errors = []
    for frame, expected in zip(read_video(need(EVM_VIDEO)), ref, strict=True):
        (found,) = mesh.process(frame)
        errors.append(_error(found, expected))
        depth_gap = np.abs(found[:, 2] - expected[:, 2]).mean() / np.linalg.norm(expected[33, :2] - expected[263, :2])
        assert depth_gap < 0.02
    assert np.mean(errors) < 0.01 and np.max(errors) < 0.02, (np.mean(errors), np.max(errors))


def test_finds_the_same_faces_in_photos_as_mediapipe() -> None:
    ref = np.load(REFERENCE)
    mesh = FaceMesh(max_faces=4, static=True)
    photos = [key for key in ref.files if key.startswith("photo/")]
    assert len(photos) >= 20
    for key in photos:
        found = mesh.process(read_rgb(need(DATA / key.removeprefix("photo/"))))
        expected = ref[key][0].astype(np.float32)
        assert len(found) == len(expected), key
        for face in expected:
            assert min(_error(f, face) for f in found) < 0.01, key


def test_no_face_no_landmarks() -> None:
    """Noise can fool the detector (MediaPipe's finds a 0.52 "face" in this one too); the landmark
    model's presence score then turns it down."""
    grey = np.full((480, 640, 3), 128, np.uint8)
    noise = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    assert FaceDetector()(grey) == []
    mesh = FaceMesh()
    assert mesh.process(grey) == [] and mesh.process(noise) == []


def test_detector_anchor_grid_and_keypoints_on_a_face() -> None:
    assert anchors().shape == (896, 2) and 0 < anchors().min() and anchors().max() < 1
    frame = read_video(need(EVM_VIDEO), limit=1)[0]
    (face,) = FaceDetector()(frame)
    x0, y0, x1, y1 = face.box
    assert face.score > 0.9 and 0 <= x0 < x1 <= frame.shape[1] and 0 <= y0 < y1 <= frame.shape[0]
    right_eye, left_eye = face.keypoints[:2]
    assert right_eye[0] < left_eye[0]  # the person's right eye is on the image's left
    assert x0 < right_eye[0] and left_eye[0] < x1 and y0 < right_eye[1] < y1


def test_topology_regions_are_closed_outlines_of_distinct_points() -> None:
    assert set(face_mesh_models.REGIONS) == set(REGIONS)
    for name, edges in REGIONS.items():
        points = {i for edge in edges for i in edge}
        assert points and max(points) < 468, name
    assert len({i for edge in REGIONS["FACE_OVAL"] for i in edge}) == 36


def test_files_record_their_pinned_source_and_the_card_their_hashes() -> None:
    card = asset("face_mesh.md").read_text()
    for name, member in face_mesh_models.MODELS.items():
        path = asset("face_mesh", name)
        meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
        assert meta["vcam.source"] == f"pypi:{face_mesh_models.WHEEL}" and meta["vcam.source_sha256"] == face_mesh_models.WHEEL_SHA256
        assert meta["vcam.member"] == member
        assert re.search(rf"`{name}`.*{hashlib.sha256(path.read_bytes()).hexdigest()}", card), name
    topology = asset("face_mesh", "topology.json")
    assert hashlib.sha256(topology.read_bytes()).hexdigest() in card


def test_the_runtime_tracks_faces_without_mediapipe() -> None:
    """The whole pipeline on the demo source imports no mediapipe (it is not a runtime dependency)."""
    code = (
        "import sys\n"
        "sys.modules['mediapipe'] = None  # an import of it would fail\n"
        "from vcam.engine.tracking import FaceTracker\n"
        "from vcam.engine.video.sources import open_source\n"
        "src = open_source('demo', 640, 360, 30)\n"
        "with FaceTracker() as t:\n"
        "    print(sum(len(t.update(src.read())) for _ in range(5)))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.split()[-1] == "5"


@pytest.mark.parametrize("name", ["detector.onnx", "landmarks.onnx"])
def test_models_are_float32_nhwc_with_one_image_input(name: str) -> None:
    model = onnx.load(str(asset("face_mesh", name)))
    (inp,) = model.graph.input
    dims = [d.dim_value for d in inp.type.tensor_type.shape.dim]
    assert dims[-1] == 3 and dims[1] == dims[2] in (128, 192)
    assert inp.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
