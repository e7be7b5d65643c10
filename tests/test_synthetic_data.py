import numpy as np
import pytest

from conftest import LFW, need
from vcam.engine.errors import VcamError
from vcam.engine.rppg import pos
from vcam.engine.signals import heart_rate, pearson
from vcam.models.data.synthetic import make_clip, photo_identities, split_identities


def test_lfw10_identities_and_disjoint_split() -> None:
    ids = photo_identities(need(LFW))
    assert len(ids) == 10 and all(len(v) == 10 for v in ids.values())
    train, val = split_identities(list(ids), 0.2, seed=3)
    assert len(val) == 2 and len(train) == 8 and not set(train) & set(val)
    assert split_identities(list(ids), 0.2, seed=3) == (train, val)


def test_clip_from_a_real_photo_carries_its_injected_pulse() -> None:
    ids = photo_identities(need(LFW))
    name = sorted(ids)[0]
    clip = make_clip(ids[name][0], name, length=300, seed=5)
    assert clip is not None and clip.identity == name
    assert clip.frames.shape == (300, 128, 128, 3) and clip.frames.dtype == np.float32
    assert clip.skin.shape == (300, 128, 128) and clip.skin[0].sum() > 1000
    assert 45 <= clip.hr_bpm <= 180
    rgb = np.array([f[m].mean(0) for f, m in zip(clip.frames, clip.skin, strict=True)])
    recovered = pos(rgb, 30.0)
    assert heart_rate(recovered, 30.0) == pytest.approx(heart_rate(clip.bvp, 30.0), abs=1.5)
    assert pearson(recovered, clip.bvp) > 0.5


def test_bad_photo_folder_is_one_clear_error(tmp_path) -> None:
    with pytest.raises(VcamError, match="not found"):
        photo_identities(tmp_path / "none")
    (tmp_path / "empty_id").mkdir()
    with pytest.raises(VcamError, match="no identity sub-folders"):
        photo_identities(tmp_path)
