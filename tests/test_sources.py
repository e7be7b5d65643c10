import numpy as np
import pytest

from vcam.engine.errors import SourceError
from vcam.engine.pulse.rppg import pos
from vcam.engine.pulse.signals import heart_rate
from vcam.engine.tracking import FaceTracker
from vcam.engine.video.capture import CaptureThread
from vcam.engine.video.sources import AnimatedPhotoSource, DemoSource, VideoFileSource, demo_photo, open_source

from conftest import EVM_VIDEO, need


def test_demo_source_is_rgb_uint8_at_requested_size() -> None:
    src = DemoSource(320, 240, frames=3)
    frames = [src.read() for _ in range(4)]
    assert frames[3] is None
    img = frames[0]
    assert img.dtype == np.uint8 and img.shape == (240, 320, 3)
    # The astronaut's suit is orange: red > blue in RGB order.
    assert img[..., 0].mean() > img[..., 2].mean()


def test_demo_pulse_is_recoverable_at_its_heart_rate() -> None:
    src = DemoSource(320, 240, hr_bpm=84.0, frames=300)
    tracker = FaceTracker(max_faces=1)
    from vcam.engine.crop import crop_face

    means = []
    while (img := src.read()) is not None:
        (track,) = tracker.update(img)
        means.append(crop_face(img, track)[track.skin_mask].mean(0))
    hr = heart_rate(pos(np.array(means), src.fps), src.fps)
    assert abs(hr - 84.0) < 1.5


def test_demo_moves_the_head() -> None:
    src = DemoSource(320, 240)
    a = src.read()
    for _ in range(60):
        b = src.read()
    assert np.abs(a.astype(int) - b).mean() > 2.0


def test_video_file_source_reads_the_evm_clip() -> None:
    src = VideoFileSource(need(EVM_VIDEO))
    frames = []
    while (img := src.read()) is not None:
        frames.append(img)
    assert src.fps == pytest.approx(30, abs=0.1)
    assert len(frames) == src.frame_count > 250
    assert frames[0].dtype == np.uint8 and frames[0].ndim == 3
    assert src.timestamp(30) == pytest.approx(1.0, abs=0.01)


def test_missing_and_broken_files_raise_source_error(tmp_path) -> None:
    with pytest.raises(SourceError, match="not found"):
        open_source(str(tmp_path / "nope.mp4"))
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video" * 100)
    with pytest.raises(SourceError, match="cannot decode"):
        open_source(str(bad))


def test_missing_camera_raises_source_error() -> None:
    with pytest.raises(SourceError, match="no camera"):
        open_source("57")
    with pytest.raises(SourceError, match="no camera device"):
        open_source("/dev/video99")


def test_capture_thread_offline_keeps_every_frame_in_order() -> None:
    cap = CaptureThread(VideoFileSource(need(EVM_VIDEO)), capacity=4, max_frames=40)
    cap.start()
    indices = []
    while (f := cap.next_frame()) is not None:
        indices.append(f.index)
        assert f.timestamp == pytest.approx(f.index / 30.0, abs=1e-3)
    cap.join()
    assert indices == list(range(40)) and cap.dropped == 0


@pytest.mark.slow
def test_capture_thread_live_mode_drops_instead_of_lagging() -> None:
    import time

    cap = CaptureThread(DemoSource(160, 120, frames=120), capacity=8, realtime=True)
    cap.start()
    got = []
    while (f := cap.next_frame()) is not None:
        got.append(f.index)
        time.sleep(0.1)  # a consumer 3x slower than the source
    cap.join()
    assert cap.dropped > 40
    assert got == sorted(got) and len(got) < 80


def test_animated_photo_sensor_noise_is_seeded_and_reaches_every_channel() -> None:
    def frames(seed: int) -> np.ndarray:
        src = AnimatedPhotoSource(demo_photo(), 160, 120, amplitude=0.0, frames=16, seed=seed, motion=0.0)
        return np.stack([src.read() for _ in range(16)]).astype(np.float32)

    first = frames(5)
    assert np.array_equal(first, frames(5)) and not np.array_equal(first, frames(6))  # its own seed, not a process-wide RNG
    flicker = first.std(axis=0).mean(axis=(0, 1))  # per channel: the noise between frames (no motion, no pulse)
    assert (flicker > 0.8).all(), flicker  # sigma 1.5 in R, G and B (OpenCV's scalar sigma once reached only R)


class UnpluggedCamera(DemoSource):
    """A live camera that stops delivering after ``good`` frames and can be reopened only on the
    ``refusals``-th + 1 attempt (as a camera plugged back in a few seconds later)."""

    live = True

    def __init__(self, good: int = 15, refusals: int = 2) -> None:
        super().__init__(160, 120, frames=None)
        self.good, self.refusals, self.reads, self.unplugged = good, refusals, 0, False

    def read(self) -> np.ndarray | None:
        self.reads += 1
        if self.reads == self.good:
            self.unplugged = True
        if self.unplugged:
            raise SourceError("camera 0 stopped delivering frames (unplugged or taken by another app)")
        return super().read()

    def resume(self) -> None:
        if self.refusals:
            self.refusals -= 1
            raise SourceError("no camera at 0")
        self.unplugged = False


def test_an_unplugged_camera_gives_black_frames_at_its_rate_until_it_is_back() -> None:
    cap = CaptureThread(UnpluggedCamera(), retry_s=0.2)
    cap.start()
    frames, arrivals = [], []
    while len(frames) < 90:
        frame = cap.next_frame(timeout=1.0)
        assert frame is not None, "the stream froze"
        frames.append(frame.image)
        arrivals.append(frame.captured)
    cap.stop()
    cap.join()
    black = [not f.any() for f in frames]
    assert cap.error is None and cap.placeholders >= 12  # three retries at 0.2 s
    first = black.index(True)
    assert not any(black[:first]) and not all(black[first:]) and cap.lost is None  # the picture came back
    assert max(np.diff(arrivals)) < 0.1  # no stall while it was gone
