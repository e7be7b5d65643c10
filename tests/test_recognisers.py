"""The runtime's face recognisers (dlib, SFace) behind one interface, on real LFW-10 photos."""
from itertools import combinations

import dlib
import numpy as np
import pytest

from conftest import FR_EXAMPLES, LFW, need, read_rgb
from vcam.engine.identity import Embedder, FaceEmbedder, SFaceEmbedder


@pytest.fixture(scope="module")
def lfw_faces() -> list[tuple[str, np.ndarray, tuple[int, int, int, int]]]:
    detector = dlib.get_frontal_face_detector()
    faces = []
    for path in sorted(need(LFW).glob("*/*_000[1-4].jpg")):  # 10 identities x 4 photos
        img = read_rgb(path)
        r = max(detector(img, 1), key=lambda r: r.area())
        faces.append((path.parent.name, img, (r.left(), r.top(), r.right(), r.bottom())))
    return faces


@pytest.mark.parametrize("make", [FaceEmbedder, SFaceEmbedder])
def test_recogniser_verifies_lfw10_pairs(make, lfw_faces) -> None:
    embedder: Embedder = make()
    desc = [embedder.describe(img, box) for _, img, box in lfw_faces]
    assert desc[0].shape == (128,)
    correct = total = 0
    for i, j in combinations(range(len(desc)), 2):
        correct += embedder.match(desc[i], desc[j]) == (lfw_faces[i][0] == lfw_faces[j][0])
        total += 1
    assert correct / total >= 0.97
    assert embedder.distance(desc[0], desc[0]) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("make", [FaceEmbedder, SFaceEmbedder])
def test_recogniser_takes_a_view_of_another_layout(make, lfw_faces) -> None:
    """A channels-first tensor's transposed view (not C-contiguous) is described like its copy."""
    embedder: Embedder = make()
    _, img, box = lfw_faces[0]
    view = np.ascontiguousarray(img.transpose(2, 0, 1)).transpose(1, 2, 0)
    assert not view.flags.c_contiguous
    assert embedder.distance(embedder.describe(view, box), embedder.describe(img, box)) == pytest.approx(0.0, abs=1e-6)


def test_sface_aligns_to_the_arcface_template() -> None:
    img = read_rgb(FR_EXAMPLES / "obama.jpg")
    r = max(dlib.get_frontal_face_detector()(img, 1), key=lambda r: r.area())
    sface = SFaceEmbedder()
    face = sface.aligned(img, (r.left(), r.top(), r.right(), r.bottom()))
    assert face.shape == (112, 112, 3) and face.dtype == np.uint8
    # The recogniser sees the same person in the full-resolution and the 240p photo.
    small = read_rgb(FR_EXAMPLES / "obama-240p.jpg")
    rs = max(dlib.get_frontal_face_detector()(small, 1), key=lambda r: r.area())
    a = sface.describe(img, (r.left(), r.top(), r.right(), r.bottom()))
    b = sface.describe(small, (rs.left(), rs.top(), rs.right(), rs.bottom()))
    assert sface.match(a, b)
