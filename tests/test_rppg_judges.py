"""Frozen rPPG judges with real pretrained weights (fetched from PyPI's open-rppg wheel)."""

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from vcam.engine.crop import crop_face
from vcam.engine.errors import ModelError
from vcam.engine.pulse.signals import heart_rate
from vcam.engine.tracking import FaceTracker
from vcam.engine.video.sources import DemoSource
from vcam.models.physformer import PhysFormer
from vcam.models.physnet import PhysNet, convert_keras
from vcam.models.weights import ensure_weights

from conftest import EVM_HR_BPM, EVM_VIDEO, read_video


@pytest.fixture(scope="session")
def weight_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("weights")


@pytest.fixture(scope="session")
def physnet(weight_cache: Path) -> PhysNet:
    return PhysNet.pretrained("pure", cache=weight_cache)


@pytest.fixture(scope="session")
def physformer(weight_cache: Path) -> PhysFormer:
    return PhysFormer.pretrained("pure", cache=weight_cache)


def face_clip(frames: list[np.ndarray], size: int = 128) -> torch.Tensor:
    """Tracked face crops at ``size``² (area-resized): [1, 3, T, size, size] in [0, 1], T % 4 == 0."""
    with FaceTracker(max_faces=1) as tracker:
        crops = [cv2.resize(crop_face(f, tracker.update(f)[0]), (size, size), interpolation=cv2.INTER_AREA) for f in frames]
    t = len(crops) // 4 * 4
    return torch.from_numpy(np.stack(crops[:t])).permute(3, 0, 1, 2)[None]


def demo_frames(hr: float, n: int = 300) -> tuple[list[np.ndarray], float]:
    """The demo source (a real face photo with an injected pulse) and the HR of the injected
    waveform itself over those frames (HRV makes it differ slightly from the nominal ``hr``)."""
    src, frames = DemoSource(320, 240, hr_bpm=hr, frames=n), []
    while (f := src.read()) is not None:
        frames.append(f)
    return frames, heart_rate(src.bvp[:n], src.fps)


def test_physnet_reads_the_real_evm_pulse(physnet: PhysNet) -> None:
    with torch.no_grad():
        bvp = physnet(face_clip(read_video(EVM_VIDEO), 32))[0].numpy()
    assert abs(bvp.mean()) < 1e-4 and bvp.std() == pytest.approx(1.0, abs=1e-3)
    assert heart_rate(bvp, 30.0) == pytest.approx(EVM_HR_BPM, abs=2.0)


@pytest.mark.parametrize("hr", [66.0, 96.0])
def test_physnet_recovers_a_pulse_injected_into_a_real_face(physnet: PhysNet, hr: float) -> None:
    frames, truth = demo_frames(hr)
    with torch.no_grad():
        bvp = physnet(face_clip(frames, 32))[0].numpy()
    assert heart_rate(bvp, 30.0) == pytest.approx(truth, abs=1.0)


@pytest.mark.slow
def test_physformer_reads_the_real_evm_pulse(physformer: PhysFormer) -> None:
    with torch.no_grad():
        bvp = physformer(face_clip(read_video(EVM_VIDEO)))[0].numpy()
    assert heart_rate(bvp, 30.0) == pytest.approx(EVM_HR_BPM, abs=2.0)


@pytest.mark.slow
def test_physformer_recovers_a_pulse_injected_into_a_real_face(physformer: PhysFormer) -> None:
    # 20 s: on 10 s clips PhysFormer was within 1 bpm in 8 of 9 measured cases (worst 1.27).
    frames, truth = demo_frames(84.0, 600)
    with torch.no_grad():
        bvp = physformer(face_clip(frames))[0].numpy()
    assert heart_rate(bvp, 30.0) == pytest.approx(truth, abs=1.0)


def test_physformer_has_every_tensor_of_the_h5(physformer: PhysFormer) -> None:
    tensors = sum(v.numel() for k, v in physformer.state_dict().items() if not k.endswith("num_batches_tracked"))
    assert tensors == 7_395_313  # all 418 datasets of PhysFormer.pure.weights.h5


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
