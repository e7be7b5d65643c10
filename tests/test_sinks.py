import av
import numpy as np
import pytest

from vcam.engine.errors import SinkError
from vcam.engine.video.sinks import NullSink, VideoFileSink, VirtualCamSink, letterbox, open_sink, virtualcam_error

from conftest import decoded_sound, video_with_sound


def _frames(n: int, w: int = 321, h: int = 240) -> list[np.ndarray]:
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255 / w, yy * 255 / h, 128 + 60 * np.sin(xx / 17.0)], -1).astype(np.uint8)
    return [np.roll(base, 3 * i, axis=1) for i in range(n)]


def test_file_sink_writes_a_decodable_h264_with_every_frame(tmp_path) -> None:
    path = tmp_path / "out.mp4"
    frames = _frames(40)
    frames[5][:] = (255, 0, 0)  # a pure red frame: checks the RGB order survives
    sink = VideoFileSink(path, fps=30)
    for f in frames:
        sink.send(f)
    sink.close()
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        assert stream.codec_context.name == "h264"
        decoded = [fr.to_ndarray(format="rgb24") for fr in c.decode(stream)]
    assert len(decoded) == 40
    assert decoded[0].shape == (240, 320, 3)  # width made even for yuv420p
    r, g, b = decoded[5].reshape(-1, 3).mean(0)
    assert r > 200 and g < 60 and b < 60
    assert np.abs(decoded[20].astype(int) - frames[20][:, :320]).mean() < 4


def test_file_sink_errors_are_one_line(tmp_path) -> None:
    with pytest.raises(SinkError, match="does not exist"):
        VideoFileSink(tmp_path / "missing" / "x.mp4")
    with pytest.raises(SinkError, match="unknown sink"):
        open_sink(str(tmp_path / "x.txt"))


def test_null_sink_counts() -> None:
    sink = open_sink("null")
    for f in _frames(3):
        sink.send(f)
    assert isinstance(sink, NullSink) and sink.frames == 3


def test_letterbox_keeps_aspect_with_bars() -> None:
    img = np.full((480, 640, 3), 200, np.uint8)
    out = letterbox(img, 1280, 720)
    assert out.shape == (720, 1280, 3)
    assert out[:, :160].max() == 0 and out[:, 1120:].max() == 0 and out[360, 640, 0] == 200


def test_virtual_camera_reports_the_fix_at_the_os_boundary() -> None:
    """Real pyvirtualcam: where no v4l2loopback device exists, the error names the fix."""
    try:
        sink = VirtualCamSink(640, 480, 30)
    except SinkError as exc:
        msg = str(exc)
        assert "\n" not in msg
        assert "modprobe v4l2loopback" in msg or "OBS" in msg or "video' group" in msg
    else:  # a machine with a loopback device: frames go through
        sink.send(np.zeros((480, 640, 3), np.uint8))
        sink.close()


def test_virtual_camera_missing_device_and_backend() -> None:
    with pytest.raises(SinkError, match="does not exist"):
        VirtualCamSink(640, 480, 30, device="/dev/video97")
    with pytest.raises(SinkError):
        VirtualCamSink(640, 480, 30, backend="no-such-backend")


@pytest.mark.parametrize(
    "message,expected",
    [
        ("'v4l2loopback' backend: Device /dev/video3 is not a v4l2loopback device.", "real camera"),
        ("'v4l2loopback' backend: Device /dev/video3 is already in use.", "busy in another program"),
        ("'v4l2loopback' backend: Could not open /dev/video3 (permission denied)", "'video' group"),
        ("'obs' backend: OBS Virtual Camera is not installed in your system.", "install OBS Studio"),
        ("something new", "virtual camera unavailable: something new"),
    ],
)
def test_pyvirtualcam_messages_map_to_actionable_lines(message: str, expected: str) -> None:
    assert expected in virtualcam_error(message, "/dev/video3")


def test_file_sink_copies_the_sources_sound_unchanged_and_cuts_it_where_the_frames_end(tmp_path) -> None:
    source = tmp_path / "talk.mp4"
    video_with_sound(source)
    for frames in (45, 15):
        out = tmp_path / f"protected{frames}.mp4"
        sink = VideoFileSink(out, fps=15, audio_from=source)
        for _ in range(frames):
            sink.send(np.zeros((48, 64, 3), np.uint8))
        sink.close()
        raw, copied = decoded_sound(source), decoded_sound(out)
        with av.open(str(out)) as c:
            assert c.streams.audio[0].codec_context.name == "aac" and c.streams.video[0].codec_context.name == "h264"
        if frames == 45:  # the whole sound, sample for sample (the same packets, the encoder's priming kept)
            assert np.array_equal(copied, raw)
        else:  # cut at the last frame's end (one second), within one AAC frame
            assert np.array_equal(copied, raw[: len(copied)]) and 44100 <= len(copied) <= 44100 + 2 * 1024
    silent, out = tmp_path / "silent.mp4", tmp_path / "still_silent.mp4"
    for path, audio_from in ((silent, None), (out, silent)):  # a source without sound: video only, no error
        sink = VideoFileSink(path, fps=15, audio_from=audio_from)
        sink.send(np.zeros((48, 64, 3), np.uint8))
        sink.close()
    with av.open(str(out)) as c:
        assert not c.streams.audio and len(c.streams.video) == 1
