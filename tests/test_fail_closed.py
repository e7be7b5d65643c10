"""While protection is on, no raw identifiable face reaches the sink: not on tracker loss, an
extra face, a filter exception, a missed deadline or a crash inside the frame's processing.

A raw face "reached the sink" when its fine detail is still in the output: the correlation of
the high-pass (Laplacian) content of the raw and the output face box is ~1 for a leak and near 0
for blurred or pixelated faces. (dlib distance is no use here: a plain grey square is already
only 0.63 from some real faces, so the 0.6 threshold cannot separate "obscured" from "leaked".)"""

import time

import cv2
import numpy as np
import pytest

from vcam.engine.fail_closed import FailClosed
from vcam.engine.filters import BlurFilter, FaceFilter, OffFilter, make_filter
from vcam.engine.frames import Frame
from vcam.engine.pipeline import Pipeline, PipelineConfig, obscure_frame
from vcam.engine.video.sinks import NullSink
from vcam.engine.video.sources import DemoSource, VideoFileSource
from vcam.models.evaluation.fidelity import raw_detail

from conftest import EVM_VIDEO, FR_EXAMPLES, need, read_rgb, read_video


class BrokenFilter(FaceFilter):
    """Fault injection: a filter whose inference always fails."""

    name = "broken"

    def process(self, crop: np.ndarray, track_id: int, strength: float = 1.0, landmarks: np.ndarray | None = None) -> np.ndarray:
        raise RuntimeError("inference exploded")


class SlowBlur(BlurFilter):
    """Fault injection: a filter slower than the frame budget."""

    def process(self, crop: np.ndarray, track_id: int, strength: float = 1.0, landmarks: np.ndarray | None = None) -> np.ndarray:
        time.sleep(0.12)
        return super().process(crop, track_id, strength, landmarks)


def pipeline(face_filter: FaceFilter, **cfg) -> Pipeline:
    config = PipelineConfig(rppg=False, identity=False, **cfg)
    return Pipeline(VideoFileSource(need(EVM_VIDEO)), NullSink(), face_filter, config)


def assert_not_identifiable(raw: np.ndarray, out: np.ndarray, track) -> None:
    kept = raw_detail(raw, out, track)
    assert kept < 0.3, f"raw face detail reached the output (correlation {kept:.2f})"


def test_the_policy_sends_late_extra_and_failing_faces_to_the_fallback_only_while_protecting() -> None:
    rules = FailClosed(max_faces=2, hold_s=1.0)
    assert [rules.skip_filter(True, i, late=False) for i in range(3)] == [None, None, "too many faces"]
    assert rules.skip_filter(True, 0, late=True) == "deadline"
    assert rules.skip_filter(False, 5, late=True) is None  # off: nothing to fall back to
    assert rules.filter_failed(True, RuntimeError("x")) == "filter error"
    with pytest.raises(RuntimeError):
        rules.filter_failed(False, RuntimeError("x"))


def test_the_policy_hides_a_frame_only_within_the_hold_after_a_face() -> None:
    rules = FailClosed(max_faces=2, hold_s=1.0)
    assert not rules.hide_frame(True, 0.0, faces=0)  # no face seen yet: nothing to hide
    assert not rules.hide_frame(True, 1.0, faces=1)
    assert rules.hide_frame(True, 1.5, faces=0) and rules.hide_frame(True, 1.99, faces=0)
    assert not rules.hide_frame(True, 2.01, faces=0)  # the hold is over
    assert not rules.hide_frame(False, 1.5, faces=0)  # off never hides


def test_the_leak_measure_detects_a_raw_face() -> None:
    img = read_video(EVM_VIDEO, limit=1)[0]
    with pipeline(OffFilter()) as p:
        result = p.process(Frame(0, 0.0, img))
    assert raw_detail(img, result.output, result.faces[0]) > 0.99


@pytest.mark.parametrize("name", ["blur", "pixelate"])
def test_strength_zero_does_not_hand_back_the_raw_face(name: str) -> None:
    frames = read_video(EVM_VIDEO, limit=1)
    with pipeline(make_filter(name), strength=0.0) as p:
        result = p.process(Frame(0, 0.0, frames[0]))
    assert result.fallback is None
    assert_not_identifiable(frames[0], result.output, result.faces[0])


def test_extra_faces_beyond_max_faces_get_the_fallback() -> None:
    img = read_rgb(FR_EXAMPLES / "two_people.jpg")
    with pipeline(OffFilter(), max_faces=1) as off, pipeline(BlurFilter(), max_faces=1) as on:
        assert off.process(Frame(0, 0.0, img)).fallback is None  # protection off: nothing to do
        result = on.process(Frame(0, 0.0, img))
    assert len(result.faces) == 2 and result.fallback == "too many faces"
    for track in result.faces:
        assert_not_identifiable(img, result.output, track)


def test_a_new_face_is_protected_from_its_first_frame() -> None:
    img = read_rgb(FR_EXAMPLES / "two_people.jpg")
    with pipeline(BlurFilter(), max_faces=2) as p:
        result = p.process(Frame(0, 0.0, img))
    assert result.fallback is None and all(t.age == 0 for t in result.faces)
    for track in result.faces:
        assert_not_identifiable(img, result.output, track)


def test_filter_exception_falls_back_per_face() -> None:
    frames = read_video(EVM_VIDEO, limit=1)
    with pipeline(BrokenFilter()) as p:
        result = p.process(Frame(0, 0.0, frames[0]))
    assert result.fallback == "filter error"
    assert_not_identifiable(frames[0], result.output, result.faces[0])


def test_missed_deadline_uses_the_fast_fallback() -> None:
    frames = read_video(EVM_VIDEO, limit=1)
    with pipeline(BlurFilter()) as p:
        result = p.process(Frame(0, 0.0, frames[0]), late=True)
    assert result.fallback == "deadline"
    assert_not_identifiable(frames[0], result.output, result.faces[0])


def test_tracker_loss_obscures_the_whole_frame_then_releases() -> None:
    frames = read_video(EVM_VIDEO, limit=10)
    with pipeline(BlurFilter(), hold_s=1.0) as p:
        for i, img in enumerate(frames):
            track = p.process(Frame(i, i / 30, img)).faces[0]
        # The face is still there but the tracker cannot see it (upside down).
        lost = cv2.rotate(frames[-1], cv2.ROTATE_180)
        result = p.process(Frame(10, 10 / 30, lost))
        assert result.faces == [] and result.fallback == "face lost"
        assert np.array_equal(result.output, obscure_frame(lost))
        upright = cv2.rotate(result.output, cv2.ROTATE_180)
        assert_not_identifiable(frames[-1], upright, track)
        # Long after the last face (hold_s passed), an empty scene passes unchanged.
        empty = np.full_like(lost, 90)
        later = p.process(Frame(200, 200 / 30, empty))
        assert later.fallback is None and np.array_equal(later.output, empty)


def test_crash_inside_processing_obscures_the_frame() -> None:
    class ExplodingTracker:
        def update(self, image: np.ndarray) -> list:
            raise RuntimeError("mediapipe died")

        def close(self) -> None:
            pass

    frames = read_video(EVM_VIDEO, limit=1)
    with pipeline(BlurFilter()) as p:
        p.tracker = ExplodingTracker()
        result = p.process(Frame(0, 0.0, frames[0]))
    assert result.fallback == "error: RuntimeError"
    assert np.array_equal(result.output, obscure_frame(frames[0]))


def test_live_run_with_a_slow_filter_never_sends_a_raw_face() -> None:
    """End to end: a live source and a filter 4x slower than the frame budget: frames are
    dropped (the newest one is always processed), and every one sent is protected."""
    source = DemoSource(320, 240, frames=45)
    config = PipelineConfig(rppg=False, identity=False, realtime=True, deadline_ms=60)
    kept: list[float] = []

    def check(result) -> None:
        kept.extend(raw_detail(result.frame.image, result.output, t) for t in result.faces)

    with Pipeline(source, NullSink(), SlowBlur(), config) as p:
        summary = p.run(on_frame=check)
    assert summary["dropped_frames"] > 0
    assert kept and max(kept) < 0.3


class PacedSink(NullSink):
    """A virtual-camera-like sink that records what it was sent and when."""

    paced = True

    def __init__(self) -> None:
        super().__init__()
        self.log: list[tuple[float, np.ndarray]] = []

    def send(self, image: np.ndarray) -> None:
        self.log.append((time.monotonic(), image))


def test_a_paced_sink_never_waits_longer_than_the_gap_and_gets_only_protected_frames() -> None:
    """Live into a virtual-camera-like sink with a filter slower than the gap: the last protected
    frame is repeated instead of letting the viewer's picture stall, and no repeat is a raw face."""
    source = DemoSource(320, 240, frames=45)
    sink = PacedSink()
    config = PipelineConfig(rppg=False, identity=False, realtime=True, max_gap_ms=100.0)
    protected: list[np.ndarray] = []
    with Pipeline(source, sink, SlowBlur(), config) as p:
        summary = p.run(on_frame=lambda r: protected.append(r.output))
    times = np.array([t for t, _ in sink.log])
    assert summary["repeated_frames"] > 5 and len(sink.log) == len(protected) + summary["repeated_frames"]
    assert np.diff(times).max() < 0.100
    assert all(any(img is out for out in protected) for _, img in sink.log)  # every frame sent is one the filter made
