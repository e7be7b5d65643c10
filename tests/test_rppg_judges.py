"""Frozen rPPG judges with real pretrained weights (fetched from PyPI's open-rppg wheel)."""
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from conftest import EVM_HR_BPM, EVM_VIDEO, read_video
from vcam.engine.crop import crop_face
from vcam.engine.errors import ModelError
from vcam.engine.signals import heart_rate
from vcam.engine.sources import DemoSource
from vcam.engine.tracking import FaceTracker
from vcam.models.physnet import PhysNet, convert_keras
from vcam.models.weights import ensure_weights


@pytest.fixture(scope="session")
def weight_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("weights")


@pytest.fixture(scope="session")
def physnet(weight_cache: Path) -> PhysNet:
    return PhysNet.pretrained("pure", cache=weight_cache)


def clip_32(frames: list[np.ndarray]) -> torch.Tensor:
    """Tracked face crops resized to PhysNet's 32x32: [1, 3, T, 32, 32] in [0, 1]."""
    with FaceTracker(max_faces=1) as tracker:
        crops = [cv2.resize(crop_face(f, tracker.update(f)[0]), (32, 32), interpolation=cv2.INTER_AREA) for f in frames]
    t = len(crops) // 4 * 4
    return torch.from_numpy(np.stack(crops[:t])).permute(3, 0, 1, 2)[None]


def test_physnet_reads_the_real_evm_pulse(physnet: PhysNet) -> None:
    with torch.no_grad():
        bvp = physnet(clip_32(read_video(EVM_VIDEO)))[0].numpy()
    assert abs(bvp.mean()) < 1e-4 and bvp.std() == pytest.approx(1.0, abs=1e-3)
    assert heart_rate(bvp, 30.0) == pytest.approx(EVM_HR_BPM, abs=2.0)


@pytest.mark.parametrize("hr", [66.0, 96.0])
def test_physnet_recovers_a_pulse_injected_into_a_real_face(physnet: PhysNet, hr: float) -> None:
    src = DemoSource(320, 240, hr_bpm=hr, frames=300)
    frames = []
    while (f := src.read()) is not None:
        frames.append(f)
    with torch.no_grad():
        bvp = physnet(clip_32(frames))[0].numpy()
    assert heart_rate(bvp, 30.0) == pytest.approx(hr, abs=1.0)


def test_cached_weights_are_reused_and_corrupt_cache_names_the_fix(weight_cache: Path, physnet: PhysNet) -> None:
    cached = weight_cache / "physnet.pure.pt"
    assert cached.is_file()
    state = ensure_weights("physnet.pure", convert_keras, weight_cache)
    assert torch.equal(state["head.weight"], physnet.head.weight)
    broken = weight_cache / "broken"
    broken.mkdir()
    (broken / "physnet.pure.pt").write_bytes(b"garbage")
    with pytest.raises(ModelError, match="delete the file and run vcam-weights"):
        ensure_weights("physnet.pure", convert_keras, broken)
    with pytest.raises(ModelError, match="unknown weight set"):
        ensure_weights("physnet.nope", convert_keras, weight_cache)
