import json

import numpy as np
import pytest

from vcam.engine.errors import VcamError
from vcam.engine.pulse.rppg import pos
from vcam.engine.pulse.signals import heart_rate, pearson
from vcam.models.data.synthetic import make_clip, photo_identities, split_folds, split_identities
from vcam.models.train import TrainConfig, build_clips

from conftest import LFW, need


def test_lfw10_identities_and_disjoint_split() -> None:
    ids = photo_identities(need(LFW))
    assert len(ids) == 10 and all(len(v) == 10 for v in ids.values())
    train, val = split_identities(list(ids), 0.2, seed=3)
    assert len(val) == 2 and len(train) == 8 and not set(train) & set(val)
    assert split_identities(list(ids), 0.2, seed=3) == (train, val)


def test_validation_folds_partition_the_identities_and_fold_0_is_the_plain_split() -> None:
    ids = list(photo_identities(need(LFW)))
    assert split_folds(len(ids), 0.2) == 5 and split_folds(len(ids), 0.34) == 3
    folds = [split_identities(ids, 0.2, seed=3, fold=k) for k in range(5)]
    assert folds[0] == split_identities(ids, 0.2, seed=3)
    vals = [v for _, v in folds]
    assert sorted(i for v in vals for i in v) == sorted(ids) and all(len(v) == 2 for v in vals)
    assert all(sorted([*t, *v]) == sorted(ids) and not set(t) & set(v) for t, v in folds)
    with pytest.raises(ValueError, match="fold 5 out of range"):
        split_identities(ids, 0.2, seed=3, fold=5)
    with pytest.raises(VcamError, match="fold 5 out of range"):
        TrainConfig(photos="x", val_fold=5).split(ids)
    with pytest.raises(VcamError, match="val_fold must be a whole number >= 0"):
        TrainConfig(photos="x", val_fold=-1)
    assert split_folds(1, 0.2) == 1 and split_identities(ids[:1], 0.2) == (ids[:1], [])  # one identity: all of it trains


def test_clip_from_a_real_photo_carries_its_injected_pulse() -> None:
    ids = photo_identities(need(LFW))
    name = sorted(ids)[0]
    clip = make_clip(ids[name][0], name, length=300, seed=5)
    assert clip is not None and clip.identity == name
    assert clip.frames.shape == (300, 128, 128, 3) and clip.frames.dtype == np.float32
    assert clip.skin.shape == (300, 128, 128) and clip.skin[0].sum() > 1000
    assert clip.blend.shape == (300, 128, 128) and clip.blend[:, 64, 64].min() == 1 and clip.blend[:, 0, 0].max() == 0
    assert 45 <= clip.hr_bpm <= 180
    rgb = np.array([f[m].mean(0) for f, m in zip(clip.frames, clip.skin, strict=True)])
    recovered = pos(rgb, 30.0)
    assert heart_rate(recovered, 30.0) == pytest.approx(heart_rate(clip.bvp, 30.0), abs=1.5)
    assert pearson(recovered, clip.bvp) > 0.5


def test_bad_photo_folder_is_one_clear_error(tmp_path) -> None:
    with pytest.raises(VcamError, match="not found"):
        photo_identities(tmp_path / "none")
    (tmp_path / "empty_id").mkdir()
    with pytest.raises(VcamError, match="no identities with photos"):
        photo_identities(tmp_path)


def test_json_manifest_lists_identities_relative_to_itself(tmp_path) -> None:
    person = sorted(p for p in need(LFW).iterdir() if p.is_dir())[0]
    (tmp_path / "a").mkdir()
    for photo in sorted(person.glob("*.jpg"))[:2]:
        (tmp_path / "a" / photo.name).write_bytes(photo.read_bytes())
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    manifest = tmp_path / "ids.json"
    manifest.write_text(json.dumps({"_note": "ignored", "ann": [f"a/{names[0]}"], "bob": [f"a/{names[1]}", "a/notes.txt"], "video": {"x": "y"}}))
    assert photo_identities(manifest) == {"ann": [tmp_path / "a" / names[0]], "bob": [tmp_path / "a" / names[1]]}
    assert list(photo_identities(manifest, ["bob"])) == ["bob"]
    with pytest.raises(VcamError, match="no identity 'carl'"):
        photo_identities(manifest, ["carl"])
    manifest.write_text(json.dumps({"ann": ["a/missing.jpg"]}))
    with pytest.raises(VcamError, match="photo not found"):
        photo_identities(manifest)
    manifest.write_text("{not json")
    with pytest.raises(VcamError, match="cannot read photo manifest"):
        photo_identities(manifest)


def test_extra_identities_only_join_training(tmp_path) -> None:
    people = sorted(p for p in need(LFW).iterdir() if p.is_dir())
    photos = tmp_path / "photos"
    for person in people[:3]:
        (photos / person.name).mkdir(parents=True)
        (photos / person.name / "1.jpg").write_bytes(next(person.glob("*.jpg")).read_bytes())
    extra = tmp_path / "extra.json"
    extra.write_text(json.dumps({"guest": [str(next(people[3].glob("*.jpg")))]}))
    cfg = TrainConfig(photos=str(photos), extra_photos=str(extra), clip_len=4, val_fraction=0.34)
    train, val, train_ids = build_clips(cfg)
    _, val_ids = split_identities([p.name for p in people[:3]], 0.34, 0)
    assert "guest" in train_ids and {c.identity for c in val} == set(val_ids)
    assert {c.identity for c in train} == set(train_ids)
    extra.write_text(json.dumps({people[0].name: [str(next(people[0].glob("*.jpg")))]}))
    with pytest.raises(VcamError, match="is in both"):
        build_clips(cfg)
