"""The anonymise filter on real faces, run as the runtime runs it: every recogniser of the zoo loses
the person, the pulse and the expressions stay the user's, the virtual person is the seed's, and it
fails closed without a face mesh."""

from __future__ import annotations

import numpy as np
import pytest

from vcam.engine.crop import crop_face
from vcam.engine.face_regions import face_box, face_oval
from vcam.engine.filters import AnonymiseFilter, make_filter
from vcam.engine.frames import Frame
from vcam.engine.pipeline import Pipeline, PipelineConfig, obscure_frame
from vcam.engine.pulse.rppg import pos
from vcam.engine.pulse.signals import heart_rate, pearson
from vcam.engine.recognisers import RECOGNISERS
from vcam.engine.tracking import FaceTracker
from vcam.engine.video.sinks import NullSink
from vcam.engine.video.sources import ArraySource
from vcam.engine.virtual_face import draw_person
from vcam.models.evaluation.clips import photo_clips
from vcam.models.evaluation.privacy import gallery_template
from vcam.models.evaluation.protect import protect_clip

from conftest import EVM_VIDEO, lfw549_people, read_video


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> list:
    """Twelve lfw549 validation people, one animated second each, through anonymise as the runtime
    runs it; each person's gallery is their other photos."""
    clips = photo_clips(lfw549_people(tmp_path_factory.mktemp("anon"), 12), seconds=1.0, per_identity=1, other_photos=True)
    assert len(clips) == 12
    return [(clip, protect_clip(clip, lambda: make_filter("anonymise", identity_seed=7))) for clip in clips]


@pytest.mark.slow
@pytest.mark.parametrize("name", list(RECOGNISERS))
def test_no_recogniser_matches_the_person(runs, name: str) -> None:
    """Each zoo recogniser, given the face box, matches the anonymised face to the person's other
    photos in at most 10 % of frames (what the outline, hair and background alone give is about as
    much: benchmarks/unseen.py's context-floor), while it matches the raw frames in most."""
    judge = RECOGNISERS[name]()
    hits, raw_hits, frames = 0, 0, 0
    for clip, run in runs:
        template = gallery_template(judge, clip.gallery)
        for i in run.face_frames[::6]:
            box = face_box(run.tracks[i])
            hits += judge.match(judge.describe(run.out[i], box), template)
            raw_hits += judge.match(judge.describe(run.raw[i], box), template)
            frames += 1
    assert raw_hits / frames >= 0.7
    assert hits / frames <= 0.10


@pytest.mark.slow
def test_still_a_face_in_the_users_pose(runs) -> None:
    """MediaPipe finds a face in every anonymised frame, its outline (face-oval landmarks) within 6 %
    of the inter-ocular distance of the raw frame's on average: the head's pose and outline are kept
    while the features inside move to the virtual person's."""
    errors = []
    with FaceTracker(max_faces=1, static=True) as tracker:
        for _, run in runs:
            for i in run.face_frames[::5]:
                found = tracker.detect(run.out[i])
                assert found, "no face in an anonymised frame"
                raw = run.tracks[i].landmarks
                iod = np.linalg.norm(raw[33] - raw[263])
                errors.append(np.linalg.norm(found[0][face_oval()] - raw[face_oval()], axis=1).mean() / iod)
    assert np.mean(errors) <= 0.06


@pytest.mark.slow
def test_pulse_is_the_users() -> None:
    """The EVM video's heart rate read by POS from the anonymised face is within 1.5 bpm of the raw
    reading and the pulse waveforms correlate (r >= 0.9)."""
    frames = read_video(EVM_VIDEO, 300)
    pipe = Pipeline(ArraySource(frames, 30.0, "evm"), NullSink(), make_filter("anonymise", identity_seed=3), PipelineConfig(rppg=False, identity=False))
    raw_rgb, out_rgb = [], []
    for i, image in enumerate(frames):
        result = pipe.process(Frame(i, i / 30.0, image))
        track = result.faces[0]
        mask = track.skin_mask
        raw_rgb.append(crop_face(image, track)[mask].mean(0))
        out_rgb.append(crop_face(result.output, track)[mask].mean(0))
    raw_bvp, out_bvp = pos(np.array(raw_rgb), 30.0), pos(np.array(out_rgb), 30.0)
    raw_hr, out_hr = heart_rate(raw_bvp, 30.0), heart_rate(out_bvp, 30.0)
    assert abs(out_hr - raw_hr) <= 1.5, (raw_hr, out_hr)
    assert pearson(raw_bvp, out_bvp) >= 0.9


def test_same_seed_same_person_other_seed_other_person() -> None:
    a, b, c = draw_person(11), draw_person(11), draw_person(12)
    assert np.array_equal(a.albedo, b.albedo) and np.array_equal(a.shape, b.shape)
    assert np.abs(a.shape - c.shape).max() > 1.0 and np.abs(a.albedo - c.albedo).mean() > 0.01


def test_without_a_mesh_nothing_of_the_face_is_shown() -> None:
    """No mesh, no virtual face: the filter refuses to guess, and when the tracker loses the face
    the pipeline obscures the whole frame for the hold time."""
    with pytest.raises(ValueError, match="landmarks"):
        AnonymiseFilter(0).process(np.zeros((128, 128, 3), np.float32), 0)
    frames = read_video(EVM_VIDEO, 5)
    pipe = Pipeline(ArraySource(frames, 30.0, "evm"), NullSink(), make_filter("anonymise"), PipelineConfig(rppg=False, identity=False))
    for i, image in enumerate(frames):
        assert pipe.process(Frame(i, i / 30.0, image)).fallback is None
    covered = frames[-1].copy()
    covered[:, : covered.shape[1] // 2] = 0  # half the face hidden: the tracker loses it
    result = pipe.process(Frame(5, 5 / 30.0, covered))
    assert not result.faces and result.fallback == "face lost"
    assert np.array_equal(result.output, obscure_frame(covered))
