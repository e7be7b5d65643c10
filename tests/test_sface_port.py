"""The torch port of SFace against the runtime's onnxruntime SFace, on LFW-10 photos."""

import dlib
import numpy as np
import pytest
import torch

from vcam.engine.recognisers import SFaceRecogniser
from vcam.models.face_align import sample_chips, sface_transform
from vcam.models.sface_torch import SFACE_SIZE, SFaceNet

from conftest import LFW, need, read_rgb


@pytest.fixture(scope="module")
def faces() -> list[tuple[str, np.ndarray, tuple[int, int, int, int]]]:
    """(identity, image, dlib face box) of the first two photos of each LFW-10 identity."""
    detector = dlib.get_frontal_face_detector()
    rows = []
    for person in sorted(p for p in need(LFW).iterdir() if p.is_dir()):
        for path in sorted(person.glob("*.jpg"))[:2]:
            img = read_rgb(path)
            r = max(detector(img, 1), key=lambda r: r.area())
            rows.append((person.name, img, (r.left(), r.top(), r.right(), r.bottom())))
    return rows


def test_port_matches_onnxruntime(faces) -> None:
    embedder, net = SFaceRecogniser(), SFaceNet.from_file()
    aligned = np.stack([embedder.aligned(img, box) for _, img, box in faces]).astype(np.float32).transpose(0, 3, 1, 2)
    with torch.no_grad():
        ours = net(torch.from_numpy(aligned)).numpy()
    theirs = np.stack([embedder.describe(img, box) for _, img, box in faces])
    assert np.abs(ours - theirs).max() < 1e-3 * np.abs(theirs).max()
    # and it still tells people apart: same person closer than the threshold, others farther
    same = [embedder.distance(ours[i], ours[i + 1]) for i in range(0, len(faces), 2)]
    other = [embedder.distance(ours[i], ours[j]) for i in range(0, len(faces), 2) for j in range(i + 2, len(faces), 2)]
    assert np.mean(np.array(same) < embedder.threshold) >= 0.8 and np.mean(np.array(other) > embedder.threshold) >= 0.95


def test_differentiable_alignment_gives_the_runtime_face(faces) -> None:
    """Sampling the face through ``sface_transform`` with grid_sample is what cv2.warpAffine
    gives, and gradients reach the image's pixels."""
    embedder, net = SFaceRecogniser(), SFaceNet.from_file()
    _, img, box = faces[0]
    image = torch.from_numpy(img).permute(2, 0, 1)[None].float().requires_grad_(True)
    tf = torch.from_numpy(sface_transform(embedder, img, box)).float()[None]
    face = sample_chips(image, tf, SFACE_SIZE)
    reference = embedder.aligned(img, box).astype(np.float32).transpose(2, 0, 1)
    assert np.abs(face[0].detach().numpy() - reference).mean() < 1.0  # grey levels; a wrong transform is off by tens
    net(face).norm().backward()
    assert image.grad is not None and float(image.grad.abs().sum()) > 0


def test_chip_pixels_beyond_the_crop_come_from_the_original() -> None:
    """The runtime perturbs only the face crop: where a chip reaches beyond it, the training
    attacker must see the original's pixels, not the protected crop's repeated edge."""
    protected = torch.full((1, 3, 32, 32), 200.0, requires_grad=True)
    original = torch.full((1, 3, 32, 32), 50.0)
    shifted = torch.tensor([[[1.0, 0.0, -8.0], [0.0, 1.0, 0.0]]])  # chip x -> image x - 8: 8 columns left of the image
    chip = sample_chips(protected, shifted, 32, outside=original)
    assert torch.all(chip[..., :8] == 50) and torch.all(chip[..., 9:] == 200)
    assert torch.all(sample_chips(protected, shifted, 32)[..., :8] == 200)  # without: the edge repeats
    chip.sum().backward()
    assert torch.equal(protected.grad[..., 0], protected.grad[..., 1])  # the edge column gets no gradient from beyond the edge
