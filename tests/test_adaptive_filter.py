"""The adaptive filter: the universal pattern adapted to each face at run time by dlib's (and
SFace's) descriptor gradient, on runtime tracker crops of real faces it was never learned on."""

import threading
import time

import numpy as np
import pytest

from vcam.engine.filters import AdaptivePatternFilter, PatternFilter, make_filter
from vcam.engine.filters.identity_pattern import ADAPTIVE_START, DEFAULT_PATTERN, load_pattern
from vcam.engine.recognisers import DLIB_THRESHOLD, DlibRecogniser, SFaceRecogniser
from vcam.engine.recognisers.dlib_gradient import DescriptorGradient
from vcam.engine.recognisers.sface_gradient import SFaceGradient
from vcam.models.data.synthetic import make_clip

from conftest import LFW, need

UNSEEN = ("George_W_Bush", "Hugo_Chavez")  # the shipped pattern's validation identities


@pytest.fixture(scope="module")
def clips() -> list:
    """Two 16-frame clips (head motion, lighting drift, pulse) of each unseen person's first photos."""
    out = []
    for person in UNSEEN:
        for photo in sorted((need(LFW) / person).glob("*.jpg"))[:2]:
            if (clip := make_clip(photo, person, 16)) is not None:
                out.append(clip)
    assert len(out) == 4
    return out


def _pasted(f, clip, track: int, strength: float = 1.0) -> list[np.ndarray]:
    """Each frame's crop as the compositor pastes a residual filter (inside the face-oval mask)."""
    return [crop + clip.blend[t].astype(np.float32)[..., None] * (f.process(crop, track, strength) - crop) for t, crop in enumerate(clip.frames)]


def _distance(dlib: DlibRecogniser, raw: np.ndarray, out: np.ndarray) -> float:
    raw_u8, out_u8 = ((x * 255).round().astype(np.uint8) for x in (raw, out))
    return dlib.distance(dlib.describe(raw_u8, (0, 0, 127, 127)), dlib.describe(out_u8, (0, 0, 127, 127)))


def test_adapts_each_unseen_face_past_dlib_within_the_budget(clips) -> None:
    """By the end of each clip dlib (aligning the face itself) is far past its threshold, further
    than the plain pattern at the same PSNR; no frame's change exceeds the budget."""
    pattern = load_pattern(DEFAULT_PATTERN)[0]
    dlib, gradient = DlibRecogniser(), DescriptorGradient()
    adaptive = AdaptivePatternFilter(pattern, gradient, dlib, psnr_db=34.5)
    ours, plain = [], []
    for track, clip in enumerate(clips):
        out = _pasted(adaptive, clip, track)
        for raw, prot in zip(clip.frames, out, strict=True):
            assert 10 * np.log10(1 / np.mean((prot - raw) ** 2)) >= 34.5
        ours.append(_distance(dlib, clip.frames[-1], out[-1]))
        change = adaptive._tracks[track].change  # the adapted change, as large as a pattern of this budget gets
        scaled = PatternFilter(pattern * np.float32(np.linalg.norm(change) / np.linalg.norm(pattern)), dlib)
        plain.append(_distance(dlib, clip.frames[-1], _pasted(scaled, clip, track)[-1]))
    assert min(ours) > DLIB_THRESHOLD + 0.1
    assert np.mean(ours) > np.mean(plain) + 0.1


def test_strength_scales_the_change_and_forget_drops_a_track(clips) -> None:
    f = make_filter("adaptive")
    assert isinstance(f, AdaptivePatternFilter)
    f.first_steps = 1  # one step on the first frame at either strength (more stop once past the target)
    clip = clips[0]
    full = f.process(clip.frames[0], 1) - clip.frames[0]
    half = f.process(clip.frames[0], 2, strength=0.5) - clip.frames[0]
    inside = (np.abs(full) > 0.01) & (clip.frames[0] > 0.05) & (clip.frames[0] < 0.95)  # unclipped
    assert inside.sum() > 100
    # the first frame of a track is the pattern plus one gradient step: about half at strength 0.5
    assert np.median(half[inside] / full[inside]) == pytest.approx(0.5, abs=0.1)
    f.forget({2})
    assert set(f._tracks) == {2} and set(f._placement) == {2}


def test_a_settled_face_is_checked_only_every_few_frames(clips) -> None:
    """A new face's first frame takes up to ``first_steps`` steps (it is what an attacker sees
    first); past the target, one forward pass on one frame in ``check_every`` reads the distance
    (or, once in ``reference_every`` frames, the raw face's descriptor instead), and a gradient runs
    only after a check found the face too close again: no frame of a settled face pays for two passes."""
    log: list[tuple[int, int, str, float]] = []
    where = [0, 0]  # track, frame

    class Logged(DescriptorGradient):
        def __call__(self, chip: np.ndarray, reference: np.ndarray):
            result = super().__call__(chip, reference)
            log.append((*where, "gradient", result[0]))
            return result

        def describe(self, chip: np.ndarray) -> np.ndarray:
            log.append((*where, "describe", 0.0))
            return super().describe(chip)

    f = AdaptivePatternFilter(load_pattern(ADAPTIVE_START)[0], Logged(), check_every=5, reference_every=10)
    for track, clip in enumerate(clips):
        for frame, crop in enumerate(clip.frames):
            where[:] = track, frame
            f.process(crop, track)
    settled_checks = 0
    for track in range(len(clips)):
        events = [(frame, kind, d) for t, frame, kind, d in log if t == track]
        assert events[0][:2] == (0, "describe") and events[1][:2] == (0, "gradient")
        grads = [(frame, d) for frame, kind, d in events if kind == "gradient"]
        first = [d for frame, d in grads if frame == 0]
        assert len(first) == f.first_steps or (1 <= len(first) < f.first_steps and first[-1] >= f.targets["dlib"])
        assert len(first) == 1 or first[-1] > first[0]
        settled = next(frame for frame, d in grads if d >= f.targets["dlib"])
        late = [(frame, kind) for frame, kind, _ in events if frame > settled]
        assert len(late) == len({frame for frame, _ in late})  # at most one pass per frame once settled
        assert all(frame % 5 == 0 for frame, kind in late if kind == "describe")  # checks and re-reads wait their turn
        settled_checks += sum(kind == "describe" for _, kind in late)
        assert any(kind == "describe" for frame, kind, _ in events if frame > 0)  # the reference is re-read
        assert len(late) <= (len(clips[track].frames) - settled) / 2
    assert settled_checks >= 4


@pytest.mark.slow
def test_stepping_against_sface_too_gets_each_unseen_face_past_sface(clips) -> None:
    """With SFace's gradient as a second judge, by the end of each clip SFace itself (onnxruntime,
    aligning the pasted face with its own landmarks) no longer matches the raw face, within the
    same budget; stepping against dlib alone leaves SFace matching."""
    pattern, dlib, gradient, sface = load_pattern(ADAPTIVE_START)[0], DlibRecogniser(), DescriptorGradient(), SFaceRecogniser()
    both = AdaptivePatternFilter(pattern, gradient, dlib, sface=SFaceGradient(), aligner=sface.aligner)
    alone = AdaptivePatternFilter(pattern, gradient, dlib)
    box = (0, 0, 127, 127)
    for track, clip in enumerate(clips):
        raw = sface.describe((clip.frames[-1] * 255).round().astype(np.uint8), box)
        last = {}
        for name, f in (("both", both), ("alone", alone)):
            out = _pasted(f, clip, track)
            assert all(10 * np.log10(1 / np.mean((o - c) ** 2)) >= f.psnr_db for o, c in zip(out, clip.frames, strict=True))
            last[name] = sface.distance(sface.describe((out[-1] * 255).round().astype(np.uint8), box), raw)
            if name == "both":
                assert _distance(dlib, clip.frames[-1], out[-1]) > DLIB_THRESHOLD + 0.1
        assert last["both"] > sface.threshold + 0.1
        assert last["alone"] < sface.threshold


@pytest.mark.slow
def test_in_the_background_sface_runs_beside_the_frame_loop_and_its_errors_surface(clips) -> None:
    """``background``: every SFace reading runs on the worker thread, never on the caller's, and
    its steps still get the face past SFace; a reading that fails raises from ``process`` on a
    later frame (so the pipeline pixelates that frame)."""
    threads: list[str] = []

    class Logged(SFaceGradient):
        def __call__(self, face: np.ndarray, reference: np.ndarray):
            threads.append(threading.current_thread().name)
            return super().__call__(face, reference)

        def describe(self, face: np.ndarray) -> np.ndarray:
            threads.append(threading.current_thread().name)
            return super().describe(face)

    sface = SFaceRecogniser()
    f = AdaptivePatternFilter(load_pattern(ADAPTIVE_START)[0], sface=Logged(), aligner=sface.aligner, background=True)
    clip = clips[1]

    def past_sface(i: int) -> bool:
        def describe(face: np.ndarray) -> np.ndarray:
            return sface.describe((face * 255).round().astype(np.uint8), (0, 0, 127, 127))

        return sface.distance(describe(out[i]), describe(frames[i])) > sface.threshold

    frames, out = list(clip.frames) * 60, []  # at most ~30 s
    for i, crop in enumerate(frames):  # paced like a 30 fps camera: the worker's readings land a few frames late
        if i >= len(clip.frames) * 4 and i % 30 == 0 and len(threads) >= 5 and past_sface(i - 1):
            break  # four passes; on a busy machine the worker reads less often, so on until it has read and the face is past
        start = time.monotonic()
        out.append(f.process(crop, 0))
        time.sleep(max(0.0, 1 / 30 - (time.monotonic() - start)))
    assert len(threads) >= 5 and all(name.startswith("vcam-sface") for name in threads)
    assert past_sface(len(out) - 1)

    class Broken(SFaceGradient):
        def __call__(self, face: np.ndarray, reference: np.ndarray):
            raise RuntimeError("reading failed")

    f = AdaptivePatternFilter(load_pattern(ADAPTIVE_START)[0], sface=Broken(), aligner=sface.aligner, background=True)
    errors = 0
    for crop in frames[:20]:
        try:
            f.process(crop, 0)
        except RuntimeError:
            errors += 1
        time.sleep(0.02)  # let the worker finish
    assert errors >= 1
