import numpy as np
import pytest

from vcam.app.config import DEFAULT_MODEL
from vcam.engine.compositor import paste
from vcam.engine.crop import crop_face
from vcam.engine.filters import MAX_STRENGTH, MIN_STRENGTH, make_filter
from vcam.engine.tracking import FaceTracker

from conftest import FR_EXAMPLES, LFW, read_rgb


@pytest.fixture(scope="module")
def face():
    img = read_rgb(FR_EXAMPLES / "obama.jpg")
    with FaceTracker(static=True) as tracker:
        (track,) = tracker.update(img)
    return img, track


def _face_region(img: np.ndarray, track) -> np.ndarray:
    x0, y0, x1, y1 = track.box
    return img[y0:y1, x0:x1].astype(np.float32)


def test_residual_paste_of_an_unchanged_crop_keeps_full_resolution(face) -> None:
    img, track = face  # a ~500 px face: far more detail than the 128 px crop holds
    raw = crop_face(img, track)
    replaced, residual = img.copy(), img.copy()
    paste(replaced, track, raw)
    paste(residual, track, raw, base=raw)
    assert np.array_equal(residual, img)
    assert np.abs(_face_region(replaced, track) - _face_region(img, track)).mean() > 1.0


def test_residual_paste_adds_the_perturbation(face) -> None:
    img, track = face
    raw = crop_face(img, track)
    out = img.copy()
    paste(out, track, np.clip(raw + 0.1, 0, 1), base=raw)
    diff = _face_region(out, track) - _face_region(img, track)
    assert 10 < diff.max() <= 26 and diff.min() >= 0


def test_replace_paste_round_trip_on_a_crop_sized_face() -> None:
    img = read_rgb(LFW / "George_W_Bush" / "George_W_Bush_0001.jpg")  # face ~ 110 px
    with FaceTracker(static=True) as tracker:
        (track,) = tracker.update(img)
    out = img.copy()
    paste(out, track, crop_face(img, track))
    assert np.abs(_face_region(out, track) - _face_region(img, track)).mean() < 2.0


def test_paste_changes_only_the_face_box(face) -> None:
    img, track = face
    out = img.copy()
    paste(out, track, np.zeros((128, 128, 3), np.float32))
    x0, y0, x1, y1 = track.box
    outside = np.ones(img.shape[:2], bool)
    outside[y0:y1, x0:x1] = False
    assert np.array_equal(out[outside], img[outside])
    assert _face_region(out, track).mean() < _face_region(img, track).mean() - 40


def test_strength_scales_the_ae_perturbation_between_floor_and_ceiling(face) -> None:
    img, track = face
    raw = crop_face(img, track)
    full = make_filter("deid", DEFAULT_MODEL).process(raw, 0)
    for strength, expected in ((0.5, 0.5), (0.0, MIN_STRENGTH), (-1.0, MIN_STRENGTH), (1.5, 1.5), (9.0, MAX_STRENGTH)):
        mixed = make_filter("deid", DEFAULT_MODEL).process(raw, 0, strength)  # fresh temporal state
        np.testing.assert_allclose(mixed - raw, expected * (full - raw), atol=1e-5)


@pytest.mark.parametrize("name", ["blur", "pixelate"])
def test_weaker_baselines_keep_less_blur_but_never_the_raw_detail(face, name: str) -> None:
    img, track = face
    raw = crop_face(img, track)
    f = make_filter(name)
    strongest, strong, weak, floor = (f.process(raw, 0, s) for s in (MAX_STRENGTH, 1.0, 0.5, 0.0))
    err = [np.abs(x - raw).mean() for x in (strongest, strong, weak, floor)]
    assert err[0] > err[1] > err[2] > err[3] > 0.01
    assert np.array_equal(floor, f.process(raw, 0, MIN_STRENGTH))


def test_blur_and_pixelate_baselines(face) -> None:
    img, track = face
    raw = crop_face(img, track)
    pix = make_filter("pixelate").process(raw, 0)
    assert len(np.unique(pix.reshape(-1, 3), axis=0)) <= 100  # 10x10 blocks
    blur = make_filter("blur").process(raw, 0)
    assert np.abs(np.diff(blur, axis=0)).mean() < 0.3 * np.abs(np.diff(raw, axis=0)).mean()
    assert make_filter("off").process(raw, 0) is raw
