"""Evaluation metrics on cases with known answers, and the runtime-faithful protect/transport path."""

import cv2
import numpy as np
import pytest

from vcam.app.config import DEFAULT_MODEL
from vcam.engine.face_regions import landmark_box
from vcam.engine.filters import OffFilter, PixelateFilter, make_filter
from vcam.engine.pulse.signals import heart_rate
from vcam.engine.pulse.synth import ppg_waveform
from vcam.engine.recognisers import DlibRecogniser
from vcam.engine.tracking import FaceTracker
from vcam.models.evaluation import fidelity, privacy
from vcam.models.evaluation.clips import load_clips, photo_clips, video_clip
from vcam.models.evaluation.evaluate import ClipResult, evaluate_clip, parrot_accuracy, privacy_summary, templates_for
from vcam.models.evaluation.protect import h264_roundtrip, protect_clip, track_clip, transport
from vcam.models.evaluation.utility import PulseJudges, agreement

from conftest import EVM_VIDEO, LFW, need


def test_eer_known_answers() -> None:
    genuine, impostor = np.array([0.1, 0.2, 0.3]), np.array([0.7, 0.8, 0.9])
    assert privacy.eer(genuine, impostor) == 0.0  # separable
    same = np.linspace(0, 1, 101)
    assert privacy.eer(same, same) == pytest.approx(0.5, abs=0.02)  # indistinguishable
    assert privacy.eer(impostor, genuine) == 1.0  # inverted: every decision wrong
    _, far, tar = privacy.roc(genuine, impostor)
    assert far[0] == tar[0] == 0.0 and far[-1] == tar[-1] == 1.0 and np.all(np.diff(far) >= 0)


@pytest.mark.parametrize("clips_per_identity", [1, 2])
def test_parrot_attacker_learns_protected_identities_and_not_noise(clips_per_identity: int) -> None:
    rng = np.random.default_rng(1)

    def result(ident: str, emb: np.ndarray) -> ClipResult:
        r = ClipResult(ident, ident, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        r.emb_out["dlib"] = emb
        return r

    centres = {k: rng.standard_normal(16) for k in "abc"}
    separable = [result(k, c + 0.05 * rng.standard_normal((20, 16))) for k, c in centres.items() for _ in range(clips_per_identity)]
    noise = [result(k, rng.standard_normal((20, 16))) for k in centres for _ in range(clips_per_identity)]
    assert parrot_accuracy(separable, "dlib") == 1.0
    assert parrot_accuracy(noise, "dlib") < 0.7  # chance is 1/3
    assert parrot_accuracy(separable[:clips_per_identity], "dlib") is None  # one identity: nothing to tell apart


def test_classifier_and_rank1_on_separable_embeddings() -> None:
    rng = np.random.default_rng(0)
    centres = {"a": np.zeros(8), "b": np.ones(8)}
    x = np.concatenate([c + 0.05 * rng.standard_normal((20, 8)) for c in centres.values()])
    y = ["a"] * 20 + ["b"] * 20
    assert privacy.EmbeddingClassifier(x, y).accuracy(x, y) == 1.0
    emb = DlibRecogniser.__new__(DlibRecogniser)  # distance() needs no model
    assert privacy.rank1(emb, x, y, centres) == 1.0
    assert privacy.rank1(emb, x, y[::-1], centres) == 0.0


def test_the_attacker_with_its_own_detector_counts_a_face_it_cannot_find_as_a_miss() -> None:
    """Real LFW photos and dlib: a face found in its own second photo matches and is identified;
    the same photo with no face found counts against both rates, not as a smaller sample."""
    people = sorted(p for p in need(LFW).iterdir() if p.is_dir())[:2]
    photos = [[cv2.cvtColor(cv2.imread(str(f)), cv2.COLOR_BGR2RGB) for f in sorted(p.glob("*.jpg"))[:2]] for p in people]
    dlib = DlibRecogniser()
    with FaceTracker(max_faces=1, static=True) as finder:
        box = [[landmark_box(finder.detect(img)[0]) for img in pair] for pair in photos]
    templates = {p.name: dlib.describe(pair[0], b[0]) for p, pair, b in zip(people, photos, box, strict=True)}
    probes = [(pair[1], b[1], p.name) for p, pair, b in zip(people, photos, box, strict=True)]
    assert privacy.found_face_rates(dlib, probes, templates) == {"found": 1.0, "match_rate": 1.0, "rank1": 1.0}
    lost = probes + [(photos[0][1], None, people[0].name)]
    rates = privacy.found_face_rates(dlib, lost, templates)
    assert rates["found"] == pytest.approx(2 / 3) and rates["match_rate"] == pytest.approx(2 / 3) and rates["rank1"] == pytest.approx(2 / 3)


def test_pulse_agreement_of_a_known_72_bpm_pulse() -> None:
    fs = 30.0
    bvp = ppg_waveform(np.arange(600) / fs, 72.0, hrv_bpm=0.0)
    same = agreement(bvp, bvp, fs, truth=bvp)
    assert same.hr_raw == pytest.approx(72.0, abs=0.5) and same.dhr == 0.0
    assert same.bvp_r == pytest.approx(1.0) and same.ss == pytest.approx(1.0)
    shifted = agreement(bvp, ppg_waveform(np.arange(600) / fs, 90.0, hrv_bpm=0.0), fs)
    assert shifted.dhr == pytest.approx(18.0, abs=1.0) and shifted.ss < 0.5


def test_fidelity_known_answers() -> None:
    a = np.full((4, 16, 16, 3), 100, np.uint8)
    assert fidelity.psnr(a, a) == float("inf") and fidelity.ssim(a, a) == pytest.approx(1.0)
    b = a + 1
    assert fidelity.psnr(a, b) == pytest.approx(20 * np.log10(255.0), abs=0.01)
    flick = a.copy()
    flick[1::2] += 10
    assert fidelity.flicker(a, flick) == pytest.approx(10.0)


@pytest.fixture(scope="module")
def evm_clip():
    return video_clip(need(EVM_VIDEO), max_seconds=4)


def test_protect_clip_off_is_identity_and_pixelate_changes_the_face(evm_clip) -> None:
    off = protect_clip(evm_clip, OffFilter)
    assert all(np.array_equal(a, b) for a, b in zip(off.raw, off.out, strict=True))
    assert len(off.face_frames) == len(evm_clip.frames)
    pix = protect_clip(evm_clip, PixelateFilter)
    raw, out, skin = pix.crops()
    assert fidelity.psnr(raw, out) < 30.0 and skin.dtype == bool
    shared = protect_clip(evm_clip, PixelateFilter, analyses=track_clip(evm_clip))  # one tracking pass for all filters
    assert all(np.array_equal(a, b) for a, b in zip(pix.out, shared.out, strict=True))


@pytest.mark.slow
def test_protect_clip_auto_strength_acts_once_enrolled(evm_clip) -> None:
    # At 0.2 dlib still matches the EVM face: after the 3 enrolment readings (one per second) the
    # first verdict raises the strength from the next frame on, gliding, as the runtime's loop does.
    run = protect_clip(evm_clip, lambda: make_filter("deid", DEFAULT_MODEL, "cpu"), strength=0.2, auto_strength=True)
    first = 3 * round(evm_clip.fps)
    assert run.strengths[: first + 1] == [0.2] * (first + 1)
    rising = run.strengths[first + 1 :]
    assert rising == sorted(rising) and 0.2 < rising[0] < 0.21 and rising[-1] == pytest.approx(0.3, abs=0.01)
    assert protect_clip(evm_clip, PixelateFilter).strengths == [1.0] * len(evm_clip.frames)


def test_transport_path_keeps_frames_close_and_the_pulse(evm_clip) -> None:
    """The path converts to I420 once, as a virtual camera delivers it: at a bitrate too high to
    matter it gives OpenCV's I420 round trip (54 dB; RGB -> I420 -> RGB before the encoder's own
    conversion gave 45 dB), and at a call's 1.5 Mbit/s it keeps the frames and the pulse."""
    frames = evm_clip.frames[:10]
    once = [cv2.cvtColor(cv2.cvtColor(f, cv2.COLOR_RGB2YUV_I420), cv2.COLOR_YUV2RGB_I420) for f in frames]
    assert fidelity.psnr(np.stack(once), np.stack(h264_roundtrip(frames, evm_clip.fps, 100_000_000))) > 50.0
    decoded = h264_roundtrip(evm_clip.frames[:30], evm_clip.fps)
    assert len(decoded) == 30 and decoded[0].shape == frames[0].shape
    assert fidelity.psnr(np.stack(evm_clip.frames[:30]), np.stack(decoded)) > 28.0
    run = transport(protect_clip(evm_clip, OffFilter), evm_clip.fps)
    raw, out, skin = run.crops()
    judges = PulseJudges()
    a = agreement(judges.pulse("pos", raw, skin, evm_clip.fps), judges.pulse("pos", out, skin, evm_clip.fps), evm_clip.fps)
    assert a.bvp_r > 0.8


@pytest.mark.slow
def test_evaluate_photo_clips_off_matches_and_pixelate_hides() -> None:
    root = need(LFW)
    clips = photo_clips(root, ["George_W_Bush", "Tony_Blair"], seconds=6.0, size=256)[::4]
    assert {c.identity for c in clips} == {"George_W_Bush", "Tony_Blair"} and all(c.bvp is not None for c in clips)
    attackers, judges = {"dlib": DlibRecogniser()}, PulseJudges()
    off = [evaluate_clip(c, OffFilter, attackers, judges, ("pos",))["direct"] for c in clips]
    pix = [evaluate_clip(c, PixelateFilter, attackers, judges, ("pos",))["direct"] for c in clips]
    templates = templates_for(clips, off, attackers)
    s_off, s_pix = (privacy_summary(r, templates, attackers, off)["dlib"] for r in (off, pix))
    assert s_off["match_rate"] > 0.9 and s_off["eer"] < 0.1 and s_off["rank1"] > 0.9
    assert s_pix["match_rate"] < s_off["match_rate"]
    assert all(r.crop_psnr == float("inf") for r in off) and all(r.crop_psnr < 30 for r in pix)
    # POS on 6 s clips: measured 4 of 5 within 2.1 bpm of the injected pulse, one on its harmonic.
    close = [abs(r.pulse["pos"]["hr_raw"] - heart_rate(c.bvp, c.fps)) < 3.0 for r, c in zip(off, clips, strict=True)]
    assert np.mean(close) >= 0.8


def test_load_clips_names_the_expected_layouts(tmp_path) -> None:
    from vcam.engine.errors import VcamError

    with pytest.raises(VcamError, match="dataset not found"):
        load_clips(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(VcamError, match="photo folder"):
        load_clips(tmp_path / "empty")
