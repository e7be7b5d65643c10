"""The registered face recognisers (dlib, SFace and the judges no filter is tuned against) behind one
interface, on real LFW-10 photos; the judges' files and where they come from."""

import hashlib
import re
from itertools import combinations
from pathlib import Path

import dlib
import numpy as np
import onnx
import pytest

from vcam.app.config import DEFAULT_MODEL
from vcam.engine.filters import FILTERS, make_filter
from vcam.engine.keyed.keys import random_key
from vcam.engine.recognisers import RECOGNISERS, Recogniser, SFaceRecogniser, live_recognisers, unseen
from vcam.engine.recognisers.zoo import ASSETS
from vcam.export.recogniser_zoo import SOURCES

from conftest import FR_EXAMPLES, LFW, need, read_rgb


@pytest.fixture(scope="module")
def lfw_faces() -> list[tuple[str, np.ndarray, tuple[int, int, int, int]]]:
    detector = dlib.get_frontal_face_detector()
    faces = []
    for path in sorted(need(LFW).glob("*/*_000[1-4].jpg")):  # 10 identities x 4 photos
        img = read_rgb(path)
        r = max(detector(img, 1), key=lambda r: r.area())
        faces.append((path.parent.name, img, (r.left(), r.top(), r.right(), r.bottom())))
    return faces


@pytest.mark.parametrize("name", list(RECOGNISERS))
def test_recogniser_verifies_lfw10_pairs(name, lfw_faces) -> None:
    """Each recogniser, at its own threshold, tells LFW-10's 780 pairs apart: a judge below 97 % is no judge."""
    embedder: Recogniser = RECOGNISERS[name]()
    assert embedder.name == name
    desc = [embedder.describe(img, box) for _, img, box in lfw_faces]
    assert desc[0].ndim == 1 and len(desc[0]) >= 128
    correct = total = 0
    for i, j in combinations(range(len(desc)), 2):
        correct += embedder.match(desc[i], desc[j]) == (lfw_faces[i][0] == lfw_faces[j][0])
        total += 1
    assert correct / total >= 0.97
    assert embedder.distance(desc[0], desc[0]) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("name", list(RECOGNISERS))
def test_recogniser_takes_a_view_of_another_layout(name, lfw_faces) -> None:
    """A channels-first tensor's transposed view (not C-contiguous) is described like its copy."""
    embedder: Recogniser = RECOGNISERS[name]()
    _, img, box = lfw_faces[0]
    view = np.ascontiguousarray(img.transpose(2, 0, 1)).transpose(1, 2, 0)
    assert not view.flags.c_contiguous
    assert embedder.distance(embedder.describe(view, box), embedder.describe(img, box)) == pytest.approx(0.0, abs=1e-6)


def test_sface_aligns_to_the_arcface_template() -> None:
    img = read_rgb(FR_EXAMPLES / "obama.jpg")
    r = max(dlib.get_frontal_face_detector()(img, 1), key=lambda r: r.area())
    sface = SFaceRecogniser()
    face = sface.aligned(img, (r.left(), r.top(), r.right(), r.bottom()))
    assert face.shape == (112, 112, 3) and face.dtype == np.uint8
    # The recogniser sees the same person in the full-resolution and the 240p photo.
    small = read_rgb(FR_EXAMPLES / "obama-240p.jpg")
    rs = max(dlib.get_frontal_face_detector()(small, 1), key=lambda r: r.area())
    a = sface.describe(img, (r.left(), r.top(), r.right(), r.bottom()))
    b = sface.describe(small, (rs.left(), rs.top(), rs.right(), rs.bottom()))
    assert sface.match(a, b)


def test_judges_files_record_their_pinned_source_and_the_card_their_hashes() -> None:
    """Each shipped judge file names the npm package, tarball sha256 and member it was built from (as
    the build script pins them), and the card lists the file's own sha256."""
    card = (Path(__file__).resolve().parents[1] / "engine" / "assets" / "recognisers.md").read_text()
    for name, source in SOURCES.items():
        path = ASSETS / f"{name}.onnx"
        meta = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
        assert meta == {
            "vcam.recogniser": name,
            "vcam.source_package": source.package.spec,
            "vcam.source_sha256": source.package.sha256,
            "vcam.source_member": source.member,
        }
        assert re.search(rf"`{name}.onnx`.*{hashlib.sha256(path.read_bytes()).hexdigest()}", card), name


@pytest.mark.parametrize("name", FILTERS)
def test_every_filter_is_watched_live_by_a_recogniser_it_never_used(name) -> None:
    """The filters declare what they were tuned against; the live monitor's first (gauge) recogniser
    is never one of them, and the rest of the zoo is the unseen set the evaluation claims over."""
    seen = make_filter(name, DEFAULT_MODEL, background=False, key=random_key()).recognisers
    expected = {
        "off": set(),
        "blur": set(),
        "pixelate": set(),
        "anonymise": set(),
        "scramble": set(),
        "pattern": {"dlib"},
        "deid": {"dlib"},
        "adaptive": {"dlib", "sface"},
    }
    assert seen == expected[name]
    live = live_recognisers(seen)
    assert live[0] not in seen and live[0] in unseen(seen) and set(unseen(seen)) | seen == set(RECOGNISERS)
