import numpy as np
import pytest

from vcam.engine.recognisers import DlibRecogniser
from vcam.engine.tracking import FaceTracker
from vcam.models.data.morph import morph_faces, morph_identities
from vcam.models.data.synthetic import photo_identities, split_identities
from vcam.models.train import TrainConfig, build_clips

from conftest import LFW, need, read_rgb


def _descriptor(embedder: DlibRecogniser, tracker: FaceTracker, image: np.ndarray) -> np.ndarray:
    (lm,) = tracker.detect(image)
    x0, y0 = lm.min(0)
    x1, y1 = lm.max(0)
    return embedder.describe(image, (int(x0), int(y0), int(x1), int(y1)))


def test_a_morph_is_a_face_unlike_either_parent() -> None:
    ids = photo_identities(need(LFW))
    names = sorted(ids)
    embedder = DlibRecogniser()
    with FaceTracker(max_faces=1, static=True) as tracker:
        for na, nb in ((names[0], names[3]), (names[2], names[6])):
            a, b = read_rgb(ids[na][1]), read_rgb(ids[nb][2])
            morph = morph_faces(a, b, tracker, 0.5)
            assert morph is not None and morph.shape == a.shape and morph.dtype == np.uint8
            # hair and background stay a's; the face changed
            assert np.abs(morph[:20].astype(int) - a[:20]).mean() < 1.0
            da, db, dm = (_descriptor(embedder, tracker, x) for x in (a, b, morph))
            # between the parents and far from both (the same photo re-aligned moves ~0.1)
            assert 0.3 < embedder.distance(dm, da) < embedder.distance(da, db)
            assert 0.3 < embedder.distance(dm, db) < embedder.distance(da, db)
        assert morph_faces(np.zeros_like(a), b, tracker) is None


@pytest.mark.slow
def test_morph_identities_pair_training_people_and_join_training_only() -> None:
    ids = photo_identities(need(LFW))
    train_ids, val_ids = split_identities(list(ids), 0.2, 0)
    morphs = morph_identities({i: ids[i] for i in train_ids}, 3, seed=1)
    assert len(morphs) == 3 and all(len(v) == 1 for v in morphs.values())
    for name in morphs:
        a, b = name.split("+")
        assert a != b and {a, b} <= set(train_ids)
    assert list(morph_identities({i: ids[i] for i in train_ids}, 3, seed=1)) == list(morphs)

    cfg = TrainConfig(photos=str(need(LFW)), clip_len=4, morph_identities=2)
    train, val, all_train_ids = build_clips(cfg)
    synthetic = [i for i in all_train_ids if "+" in i]
    assert len(synthetic) == 2 and {c.identity for c in train} >= set(synthetic)
    assert {c.identity for c in val} == set(val_ids)
    assert all("+" not in c.identity for c in val)
