"""Differentiable POS/CHROM agree with the runtime's numpy versions and pass gradients."""

import numpy as np
import pytest
import torch

from vcam.engine.crop import crop_face
from vcam.engine.pulse import rppg as np_rppg
from vcam.engine.tracking import FaceTracker
from vcam.models import rppg_torch

from conftest import EVM_VIDEO, read_video


@pytest.fixture(scope="module")
def evm_clip() -> tuple[torch.Tensor, torch.Tensor]:
    """[1, 3, T, 128, 128] real face crops and their [1, 1, T, 128, 128] skin masks."""
    frames = read_video(EVM_VIDEO, limit=150)
    crops, masks = [], []
    with FaceTracker(max_faces=1) as tracker:
        for f in frames:
            (t,) = tracker.update(f)
            crops.append(crop_face(f, t))
            masks.append(t.skin_mask)
    video = torch.from_numpy(np.stack(crops)).permute(3, 0, 1, 2)[None].double()
    return video, torch.from_numpy(np.stack(masks))[None, None]


@pytest.mark.parametrize("name", ["pos", "chrom"])
def test_torch_matches_numpy_on_a_real_clip(evm_clip, name: str) -> None:
    video, mask = evm_clip
    rgb = rppg_torch.skin_means(video, mask)
    expected_rgb = np.stack([video[0, :, t].permute(1, 2, 0).numpy()[mask[0, 0, t].numpy()].mean(0) for t in range(video.shape[2])])
    np.testing.assert_allclose(rgb[0].numpy(), expected_rgb, atol=1e-9)
    ours = getattr(rppg_torch, name)(rgb, 30.0)[0].numpy()
    theirs = getattr(np_rppg, name)(expected_rgb, 30.0, band=None)
    assert np.abs(ours - theirs).max() <= 1e-5


@pytest.mark.parametrize("name", ["pos", "chrom"])
def test_batches_and_any_length(name: str) -> None:
    rgb = torch.rand(3, 77, 3, dtype=torch.float64) + 0.5
    out = getattr(rppg_torch, name)(rgb, 30.0)
    assert out.shape == (3, 77)
    single = getattr(rppg_torch, name)(rgb[1:2], 30.0)
    assert torch.allclose(out[1:2], single)
    with pytest.raises(ValueError, match="at least 48 samples"):
        getattr(rppg_torch, name)(rgb[:, :40], 30.0)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["pos", "chrom"])
def test_gradients_match_finite_differences(name: str) -> None:
    torch.manual_seed(0)
    video = (torch.rand(2, 3, 52, 4, 4, dtype=torch.float64) * 0.2 + 0.4).requires_grad_(True)
    mask = torch.ones(1, 1, 1, 4, 4, dtype=torch.float64)
    mask[..., 0, 0] = 0
    fn = getattr(rppg_torch, name)
    assert torch.autograd.gradcheck(lambda v: fn(rppg_torch.skin_means(v, mask), 30.0), (video,), eps=1e-6, atol=1e-4)
