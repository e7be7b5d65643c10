"""The runtime's ONNX descriptor gradient against dlib itself and the torch port's autograd, on
real LFW-10 faces."""

import numpy as np
import pytest
import torch

from vcam.engine.errors import ModelError
from vcam.engine.recognisers import DLIB_THRESHOLD, DlibRecogniser
from vcam.engine.recognisers.dlib_gradient import DescriptorGradient
from vcam.models.dlib_resnet import DlibFaceNet

from conftest import LFW, ascent_and_noise, need, read_rgb


@pytest.fixture(scope="module")
def chips() -> list[tuple[np.ndarray, np.ndarray]]:
    """(dlib's uint8 chip, dlib's own descriptor) of one photo of each LFW-10 person (LFW faces are centred)."""
    embedder = DlibRecogniser()
    rows = []
    for person in sorted(p for p in need(LFW).iterdir() if p.is_dir()):
        chip = embedder.chip(read_rgb(sorted(person.glob("*.jpg"))[0]), (70, 70, 180, 180))
        rows.append((chip, embedder.describe_chip(chip)))
    return rows


@pytest.fixture(scope="module")
def gradient() -> DescriptorGradient:
    return DescriptorGradient()


@pytest.mark.slow
def test_descriptors_are_dlibs_and_gradient_is_the_ports_autograd(chips, gradient) -> None:
    net = DlibFaceNet.from_file()
    for (chip, own), (_, other) in zip(chips, chips[1:] + chips[:1], strict=True):
        distance, grad, descriptor = gradient(chip.astype(np.float32), other)
        assert np.abs(descriptor - own).max() <= 1e-3
        assert np.abs(gradient.describe(chip.astype(np.float32)) - own).max() <= 1e-3
        assert distance == pytest.approx(float(np.linalg.norm(own - other)), abs=1e-3)
        x = torch.from_numpy(chip).permute(2, 0, 1)[None].float().requires_grad_(True)
        (net(x)[0] - torch.from_numpy(other).float()).norm().backward()
        expected = x.grad[0].permute(1, 2, 0).numpy()
        assert grad.shape == (150, 150, 3) and grad.dtype == np.float32
        # float32 round-off may flip a ReLU or max-pool choice where values (nearly) tie: ~1e-6 on
        # nine of these faces, 1.5e-3 on one
        assert np.linalg.norm(grad - expected) <= 5e-3 * np.linalg.norm(expected)


def test_gradient_steps_move_a_face_past_dlibs_threshold(chips, gradient) -> None:
    """Five normalised steps of 2 levels RMS each (42 dB per step) take every face past dlib's
    own match threshold; a random change as large does not."""
    embedder = DlibRecogniser()
    rng = np.random.default_rng(0)
    for chip, own in chips:
        moved, noisy = ascent_and_noise(gradient, chip, own, lambda f, r: embedder.distance(embedder.describe_chip(f), r), rng)
        assert moved > DLIB_THRESHOLD
        assert noisy < DLIB_THRESHOLD


def test_missing_weights_name_the_fix(tmp_path) -> None:
    with pytest.raises(ModelError, match="reinstall face_recognition_models"):
        DescriptorGradient(tmp_path / "none.dat")
