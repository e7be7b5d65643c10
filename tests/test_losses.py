import pytest
import torch

from vcam.models.losses import deidentification, negative_pearson, open_set_identity, reconstruction, sample_frames


def test_reconstruction_is_zero_for_identical_clips_and_grows_with_noise() -> None:
    torch.manual_seed(0)
    clip = torch.rand(2, 3, 4, 32, 32)
    assert reconstruction(clip, clip).item() < 1e-6
    small = reconstruction((clip + 0.01 * torch.randn_like(clip)).clamp(0, 1), clip)
    large = reconstruction((clip + 0.1 * torch.randn_like(clip)).clamp(0, 1), clip)
    assert 0 < small < large


def test_deidentification_prefers_wrong_and_unconfident_predictions() -> None:
    labels = torch.tensor([0, 1])
    right = torch.tensor([[0.98, 0.01, 0.01], [0.01, 0.98, 0.01]])
    wrong_confident = torch.tensor([[0.01, 0.98, 0.01], [0.98, 0.01, 0.01]])
    wrong_flat = torch.tensor([[0.2, 0.4, 0.4], [0.4, 0.2, 0.4]])
    l_right, l_conf, l_flat = (deidentification(p, labels) for p in (right, wrong_confident, wrong_flat))
    assert l_right > l_conf and l_right > l_flat
    # Reg_id: among wrong predictions with the same NCE, the flatter one scores better.
    same_nce_conf = torch.tensor([[0.2, 0.79, 0.01]])
    same_nce_flat = torch.tensor([[0.2, 0.4, 0.4]])
    assert deidentification(same_nce_flat, torch.tensor([0])) < deidentification(same_nce_conf, torch.tensor([0]))


def test_open_set_hinge_and_negative_pearson() -> None:
    a = torch.randn(4, 128)
    assert open_set_identity(a, a).item() == torch.tensor(0.7).item()
    far = a + torch.nn.functional.normalize(torch.randn(4, 128), dim=1) * 0.75
    assert open_set_identity(a, far).item() == 0.0
    assert open_set_identity(a, far, margin=0.3).item() == pytest.approx(0.15, abs=1e-5)  # 0.6 + 0.3 - 0.75
    t = torch.linspace(0, 10, 300)
    s = torch.sin(2 * torch.pi * 1.2 * t)[None]
    assert negative_pearson(3 * s + 1, s).item() < 1e-6
    assert abs(negative_pearson(-s, s).item() - 2.0) < 1e-6


def test_sample_frames_are_distinct() -> None:
    idx = sample_frames(64, 8, torch.Generator().manual_seed(1))
    assert len(idx) == 8 and len(set(idx.tolist())) == 8 and idx.max() < 64


def test_cosine_hinge_and_centroid_references() -> None:
    from vcam.models.train import _per_label_mean, _with_centroids

    a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert float(open_set_identity(a, a, threshold=0.6, margin=0.1, cosine=True)) == pytest.approx(0.7)
    assert float(open_set_identity(a, -a, threshold=0.6, margin=0.1, cosine=True)) == 0.0  # cosine distance 2
    labels = torch.tensor([0, 0, 1])
    emb = torch.tensor([[1.0, 0.0], [3.0, 0.0], [0.0, 5.0]])
    centroids = _per_label_mean(emb, labels)
    assert torch.equal(centroids, torch.tensor([[2.0, 0.0], [0.0, 5.0]]))
    out, ref = _with_centroids(emb + 10, emb, centroids, labels)
    assert torch.equal(out, torch.cat([emb + 10, emb + 10])) and torch.equal(ref, torch.cat([emb, centroids[labels]]))
    out, ref = _with_centroids(emb, emb * 2, None, labels)
    assert out is emb and torch.equal(ref, emb * 2)
