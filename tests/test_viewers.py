"""Who watches the virtual camera (real /proc scans of real processes holding a file open), and
the pipeline idling while nobody does: black frames, no tracking, back on the first frame after
a viewer opens it. The v4l2loopback node itself cannot exist here; a plain file stands in for it."""

import subprocess
import sys
import time
from pathlib import Path

import pytest

from vcam.engine.filters import BlurFilter
from vcam.engine.pipeline import FrameResult, Pipeline, PipelineConfig
from vcam.engine.video.sinks import NullSink
from vcam.engine.video.sources import VideoFileSource
from vcam.engine.video.viewers import ViewerWatch, open_holders

from conftest import EVM_VIDEO, need

HOLD = "import sys, time; f = open(sys.argv[1], 'rb'); print('open', flush=True); time.sleep(60)"


def hold_open(path: Path) -> subprocess.Popen:
    """Another process that keeps ``path`` open (as a meeting app keeps /dev/videoN open)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "open"
    return proc


def test_open_holders_sees_other_processes_not_this_one(tmp_path) -> None:
    node = tmp_path / "video10"
    node.write_bytes(b"")
    with open(node, "rb"):
        assert open_holders(node) == set()  # this process's own handle (the sink's) is not a viewer
        viewer = hold_open(node)
        try:
            assert open_holders(node) == {viewer.pid}
        finally:
            viewer.kill()
            viewer.wait()
    assert open_holders(node) == set()


def test_watch_follows_viewers_coming_and_going(tmp_path) -> None:
    node = tmp_path / "video10"
    node.write_bytes(b"")
    watch = ViewerWatch(node, interval=0.05)
    try:
        deadline = time.monotonic() + 5
        while watch.viewers is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert watch.viewers == 0
        viewer = hold_open(node)
        time.sleep(0.3)
        assert watch.viewers == 1
        viewer.kill()
        viewer.wait()
        time.sleep(0.3)
        assert watch.viewers == 0
    finally:
        watch.close()


class WatchedSink(NullSink):
    """A null sink whose viewers are counted by a real ViewerWatch on ``node``."""

    def __init__(self, node: Path) -> None:
        super().__init__()
        self.watch = ViewerWatch(node, interval=0.1)

    @property
    def viewers(self) -> int | None:
        return self.watch.viewers

    def close(self) -> None:
        self.watch.close()


class RecordingSource(VideoFileSource):
    """The real video file, noting when the pipeline releases and retakes it (a webcam closes
    and reopens its device there)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.calls: list[tuple[str, float]] = []

    def suspend(self) -> None:
        self.calls.append(("suspend", time.monotonic()))

    def resume(self) -> None:
        self.calls.append(("resume", time.monotonic()))


@pytest.mark.slow
def test_pipeline_idles_without_viewers_and_resumes_for_one(tmp_path) -> None:
    node = tmp_path / "video10"
    node.write_bytes(b"")
    sink = WatchedSink(node)
    cfg = PipelineConfig(realtime=True, idle_after_s=0.5, rppg=False, identity=False)
    source = RecordingSource(need(EVM_VIDEO))
    pipe = Pipeline(source, sink, BlurFilter(), cfg)
    seen: list[tuple[bool, int]] = []  # (black, faces) per frame
    viewer: list[subprocess.Popen] = []

    def on_frame(result: FrameResult) -> None:
        seen.append((not result.output.any(), len(result.faces)))
        if len(seen) == 60:  # 2 s in: an app opens the camera
            viewer.append(hold_open(node))

    try:
        with pipe:
            pipe.run(max_frames=150, on_frame=on_frame)
    finally:
        for v in viewer:
            v.kill()
            v.wait()
    black = [i for i, (b, _) in enumerate(seen) if b]
    assert black and 10 <= black[0] <= 30 and black[-1] < 80  # idle after ~0.5 s, back within ~0.5 s of the viewer
    assert all(faces == 0 for b, faces in seen if b)  # idle frames were not tracked
    assert all(not b and faces == 1 for b, faces in seen[black[-1] + 1 :])  # then every frame is processed again
    assert black == list(range(black[0], black[-1] + 1))
    assert any(r["idle"] for r in pipe.metrics.seconds) and pipe.metrics.seconds[-1]["viewers"] == 1
    # The source was released while idle and taken again for the viewer; black frames kept
    # flowing at the source's rate meanwhile (30 fps: ~0.5 s of them before the viewer came).
    assert [name for name, _ in source.calls] == ["suspend", "resume"]
    idle_s = source.calls[1][1] - source.calls[0][1]
    assert len(black) >= 0.5 * idle_s * 30
