"""The torch port of dlib's face recogniser against dlib itself, on all 100 LFW-10 photos."""

from itertools import combinations

import dlib
import numpy as np
import pytest
import torch

from vcam.engine.errors import ModelError
from vcam.engine.recognisers import DLIB_THRESHOLD, DlibRecogniser
from vcam.engine.recognisers.dlib_weights import read_dlib_weights
from vcam.models.attack import attack_dlib
from vcam.models.dlib_resnet import DlibFaceNet
from vcam.models.face_align import CHIP_SIZE, chip_shift, chip_transform, jitter_transforms, sample_chips

from conftest import LFW, need, read_rgb

pytestmark = pytest.mark.slow  # the torch port against dlib on every LFW-10 photo: make test-fast leaves it out


@pytest.fixture(scope="module")
def lfw() -> dict:
    """Per photo: identity, image, dlib's face box, dlib's chip and dlib's own descriptor."""
    embedder, detector = DlibRecogniser(), dlib.get_frontal_face_detector()
    rows = []
    for path in sorted(need(LFW).glob("*/*.jpg")):
        img = read_rgb(path)
        rects = detector(img, 1)
        r = max(rects, key=lambda r: r.area()) if rects else dlib.rectangle(70, 70, 180, 180)  # LFW faces are centred
        box = (r.left(), r.top(), r.right(), r.bottom())
        chip = embedder.chip(img, box)
        rows.append((path.parent.name, img, box, chip, embedder.describe_chip(chip)))
    return {"rows": rows, "embedder": embedder}


@pytest.fixture(scope="module")
def net() -> DlibFaceNet:
    return DlibFaceNet.from_file()


def _describe(net: DlibFaceNet, chips: list[np.ndarray]) -> np.ndarray:
    with torch.no_grad():
        return net(torch.from_numpy(np.stack(chips)).permute(0, 3, 1, 2).float()).numpy()


@pytest.mark.slow
def test_port_matches_dlib_on_all_lfw10_photos(lfw, net) -> None:
    rows = lfw["rows"]
    assert len(rows) == 100
    ours = _describe(net, [r[3] for r in rows])
    theirs = np.stack([r[4] for r in rows])
    assert np.abs(ours - theirs).max() <= 1e-3
    correct = 0
    for i, j in combinations(range(len(rows)), 2):
        d_ours = np.linalg.norm(ours[i] - ours[j]) < DLIB_THRESHOLD
        d_theirs = np.linalg.norm(theirs[i] - theirs[j]) < DLIB_THRESHOLD
        assert d_ours == d_theirs, (rows[i][0], rows[j][0])
        correct += d_ours == (rows[i][0] == rows[j][0])
    accuracy = correct / (len(rows) * (len(rows) - 1) / 2)
    assert accuracy >= 0.97


def test_differentiable_chips_give_dlibs_descriptor_and_gradients(lfw, net) -> None:
    embedder = lfw["embedder"]
    worst = 0.0
    for _, img, box, _, ref in lfw["rows"][::10]:
        transform = torch.from_numpy(chip_transform(embedder, img, box)).float()[None]
        image = torch.from_numpy(img).permute(2, 0, 1)[None].float().requires_grad_(True)
        desc = net(sample_chips(image, transform))[0]
        worst = max(worst, float(np.linalg.norm(desc.detach().numpy() - ref)))
        desc.sum().backward()
        assert image.grad is not None and image.grad.abs().sum() > 0
    assert worst < 0.05  # vs. 0.6 decision threshold: uint8 rounding of dlib's chip only


def test_jittered_alignment_stays_the_same_face(lfw, net) -> None:
    """Re-aligned chips (the training's robustness to the attacker's own alignment) move the
    chip by at most the bound and keep the descriptor well inside dlib's match threshold."""
    embedder = lfw["embedder"]
    _, img, box, _, ref = lfw["rows"][0]
    tf = torch.from_numpy(chip_transform(embedder, img, box)).float()[None].repeat(16, 1, 1)
    assert torch.equal(jitter_transforms(tf, 0.0), tf)
    moved = jitter_transforms(tf, 3.0, torch.Generator().manual_seed(0))
    centre = torch.tensor([74.5, 74.5, 1.0])
    shift_img = (moved @ centre - tf @ centre).norm(dim=1)
    px_per_chip = float(tf[0, :, :2].norm(dim=0).mean())
    assert 0 < shift_img.max() <= 3.0 * 2**0.5 * px_per_chip + 1e-4
    image = torch.from_numpy(img).permute(2, 0, 1)[None].float().repeat(16, 1, 1, 1)
    with torch.no_grad():
        d = (net(sample_chips(image, moved)) - torch.from_numpy(ref)).norm(dim=1)
    assert d.max() < DLIB_THRESHOLD / 2 and d.min() > 0.0


def test_chip_shift_is_the_largest_move_of_the_chip_grid(lfw) -> None:
    """``chip_shift`` (benchmarks/alignment_shift.py): zero for the same alignment, the offset for a
    shifted chip, the corners' move for a scaled one, on a real face's chip transform."""
    _, img, box, _, _ = lfw["rows"][0]
    tf = chip_transform(lfw["embedder"], img, box)

    def moved(chip_to_chip: np.ndarray) -> np.ndarray:
        return tf @ np.vstack([chip_to_chip, [0.0, 0.0, 1.0]])

    assert chip_shift(tf, tf) == pytest.approx(0.0, abs=1e-9)
    assert chip_shift(tf, moved(np.array([[1.0, 0.0, 2.0], [0.0, 1.0, -1.0]]))) == pytest.approx(2.0)
    c = (CHIP_SIZE - 1) / 2
    assert chip_shift(tf, moved(np.array([[1.04, 0.0, -0.04 * c], [0.0, 1.04, -0.04 * c]]))) == pytest.approx(0.04 * c)


def test_attack_stays_in_budget_and_mask_and_fools_dlibs_own_alignment(lfw, net) -> None:
    """``attack_dlib`` (benchmarks/attack_bound.py) at 34 dB: PSNR at least the budget, nothing
    changed outside the mask, and dlib itself (own landmarks) no longer matches the original."""
    rows, embedder = lfw["rows"][::50], lfw["embedder"]
    frames = torch.stack([torch.from_numpy(img).permute(2, 0, 1).float() / 255 for _, img, *_ in rows])
    tf = torch.from_numpy(np.stack([chip_transform(embedder, img, box) for _, img, box, *_ in rows])).float()
    masks = torch.zeros_like(frames[:, :1])
    masks[..., 40:210, 40:210] = 1.0
    attacked = attack_dlib(net, frames, tf, masks, psnr_db=34.0, steps=10, draws=1, generator=torch.Generator().manual_seed(0))
    mse = ((attacked - frames) ** 2).flatten(1).mean(1)
    assert (10 * torch.log10(1 / mse) >= 34.0 - 1e-3).all()
    assert torch.equal(attacked * (1 - masks), frames * (1 - masks))
    for (_, _, box, _, own), out in zip(rows, attacked, strict=True):
        protected = (out.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        assert embedder.distance(embedder.describe(protected, box), own) > DLIB_THRESHOLD


def test_missing_or_corrupt_weights_name_the_fix(tmp_path) -> None:
    with pytest.raises(ModelError, match="reinstall face_recognition_models"):
        read_dlib_weights(tmp_path / "none.dat")
    bad = tmp_path / "bad.dat"
    bad.write_bytes(b"\x01\x05con_4" + b"\x00" * 1000)
    with pytest.raises(ModelError, match="reinstall face_recognition_models"):
        read_dlib_weights(bad)


def test_closed_set_classifier_learns_lfw10_identities(lfw, net) -> None:
    from vcam.models.identity_classifier import train_head

    rows = lfw["rows"]
    ids = sorted({r[0] for r in rows})
    chips = torch.from_numpy(np.stack([r[3] for r in rows])).permute(0, 3, 1, 2).float()
    labels = torch.tensor([ids.index(r[0]) for r in rows])
    position = [sum(r[0] == rows[k][0] for k in range(i)) for i, r in enumerate(rows)]
    test = torch.tensor([p >= 7 for p in position])  # the last 3 photos of every identity
    model = train_head(net, chips[~test], labels[~test])
    with torch.no_grad():
        accuracy = (model(chips[test]).argmax(1) == labels[test]).float().mean().item()
    assert test.sum() == 30 and accuracy >= 0.9
    # The frozen embedder passes gradients to the pixels (needed by the de-identification loss).
    x = chips[:2].clone().requires_grad_(True)
    torch.nn.functional.cross_entropy(model(x), labels[:2]).backward()
    assert x.grad.abs().sum() > 0 and all(p.grad is None for p in model.embedder.parameters())
