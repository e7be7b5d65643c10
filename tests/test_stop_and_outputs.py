"""``vcam-run`` stopped by real signals (to the process and to its terminal's process group), killed,
and given outputs that would destroy data or settings that would weaken protection: clean exits,
finalised outputs, no process left behind, one clear line before any work."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest

from vcam.app.run_log import read_run_log

from conftest import EVM_VIDEO, need

pytestmark = pytest.mark.slow  # whole runs: make test-fast leaves them out

VCAM_RUN = str(Path(sys.executable).with_name("vcam-run"))  # the console script: signal handling starts before the imports


def decodable_frames(path: Path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def alive(pids: list[int]) -> list[int]:
    return [p for p in pids if Path(f"/proc/{p}").exists() and "zombie" not in Path(f"/proc/{p}/status").read_text()]


def start(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen, Path, Path]:
    source = tmp_path / "face.mp4"
    shutil.copy(need(EVM_VIDEO), source)
    out, js = tmp_path / "out.mp4", tmp_path / "run.json"
    cmd = [VCAM_RUN, "--source", str(source), "--sink", str(out), "--json", str(js), "--filter", "pixelate", "--quiet", *extra]
    return subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, start_new_session=True), out, js


def wait_for_frames(js: Path, seconds: int = 2, frames: int = 0, limit: float = 90.0) -> None:
    """Until the run has logged ``seconds`` per-second records and sent ``frames`` (mid-run; on a
    loaded machine a second may hold only a few frames)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        records = [line for line in js.read_text().splitlines() if line.startswith('{"second"') and line.endswith("}")] if js.exists() else []
        if len(records) >= seconds and json.loads(records[-1])["second"]["frames"] >= frames:
            return
        time.sleep(0.1)
    raise AssertionError(f"the run logged fewer than {seconds} seconds or {frames} frames")


@pytest.mark.parametrize("monitors", [True, False], ids=["monitors", "no-monitors"])
@pytest.mark.parametrize(
    ("signum", "group"),
    [(signal.SIGINT, True), (signal.SIGINT, False), (signal.SIGTERM, False), (signal.SIGHUP, True)],
    ids=["int-group", "int-process", "term", "hup-group"],
)
def test_a_signal_mid_run_stops_cleanly_with_finalised_outputs_and_no_process_left(tmp_path, signum, group, monitors) -> None:
    proc, out, js = start(tmp_path, *([] if monitors else ["--no-monitors"]))
    wait_for_frames(js)
    kids = children(proc.pid)
    assert len(kids) >= (1 if monitors else 0)
    sent = time.monotonic()
    (os.killpg if group else os.kill)(proc.pid, signum)
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - sent < 10.0
    assert proc.returncode == 128 + signum, err
    assert "Traceback" not in err
    time.sleep(0.5)
    assert alive(kids) == []
    log = read_run_log(js)
    assert log["summary"]["signal"] == signum and log["summary"]["frames"] > 10 and len(log["seconds"]) >= 2
    assert decodable_frames(out) == log["summary"]["frames"]


@pytest.mark.parametrize(
    ("signum", "group"),
    [(signal.SIGINT, True), (signal.SIGINT, False), (signal.SIGTERM, False), (signal.SIGHUP, True)],
    ids=["int-group", "int-process", "term", "hup-group"],
)
@pytest.mark.parametrize("delay", [0.3, 2.5], ids=["importing", "loading"])
@pytest.mark.parametrize("monitors", [True, False], ids=["monitors", "no-monitors"])
def test_a_signal_during_start_up_gives_one_line_and_leaves_nothing_behind(tmp_path, signum, group, delay, monitors) -> None:
    proc, out, js = start(tmp_path, *([] if monitors else ["--no-monitors"]))
    time.sleep(delay)
    kids = children(proc.pid)
    (os.killpg if group else os.kill)(proc.pid, signum)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signum and "Traceback" not in err, err
    time.sleep(0.5)
    assert alive(kids + children(proc.pid)) == []
    if js.exists():  # stopped after its outputs opened: they are finalised, not torn
        log = read_run_log(js)
        assert log["summary"]["signal"] == signum
        assert not out.exists() or decodable_frames(out) == log["summary"]["frames"]


def test_sigkill_leaves_a_playable_video_readable_records_and_no_children(tmp_path) -> None:
    proc, out, js = start(tmp_path)
    wait_for_frames(js, seconds=3, frames=90)  # the writer lags the sent frames by its queue and the encoder's delay
    kids = children(proc.pid)
    assert kids
    proc.kill()
    proc.communicate(timeout=30)
    time.sleep(2.0)
    assert alive(kids) == []
    log = read_run_log(js)
    assert log["config"]["filter"] == "pixelate" and len(log["seconds"]) >= 3 and log["summary"] is None
    assert decodable_frames(out) >= 30  # fragmented MP4: whole fragments up to the kill


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([VCAM_RUN, *args], capture_output=True, text=True, timeout=300)


def test_the_source_is_never_overwritten(tmp_path) -> None:
    source = tmp_path / "face.mp4"
    shutil.copy(need(EVM_VIDEO), source)
    before = source.read_bytes()
    for sink in (str(source), str(tmp_path / "." / "face.mp4")):
        res = run("--source", str(source), "--sink", sink, "--filter", "blur")
        assert res.returncode == 2 and "is the source video" in res.stderr and res.stderr.count("\n") == 1, res.stderr
    res = run("--source", str(source), "--sink", "null", "--json", str(source))
    assert res.returncode == 2 and "is also the source" in res.stderr
    assert source.read_bytes() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--filter", "pattern", "--model", "missing.npz"], "model must be an existing identity pattern .npz file for filter pattern"),
        (["--filter", "adaptive", "--model", "pyproject.toml"], "model must be an existing identity pattern .npz file for filter adaptive"),
        (["--filter", "adaptive", "--model", "engine"], "model must be an existing identity pattern .npz file"),
        (["--config", "nope.toml"], "config file nope.toml does not exist"),
        (["--config", "engine"], "config file engine is a folder"),
        (["--json", "/proc/m.json"], "cannot write /proc/m.json"),
        (["--json", "engine"], "cannot write engine: it is a folder"),
        (["--json", "x" * 300 + ".json"], "cannot write"),
        (["--sink", "/proc/m.mp4"], "cannot write /proc/m.mp4"),
        (["--strength", "9"], "command line (--strength): strength must be between"),
    ],
)
def test_settings_that_would_weaken_protection_or_lose_outputs_are_refused_before_any_work(tmp_path, args, message) -> None:
    folder = tmp_path / "d.mp4"
    folder.mkdir()
    res = run("--source", "demo", "--sink", "null", "--frames", "5", *args)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vcam-run: error:") and message in lines[0], res.stderr
    res = run("--source", "demo", "--sink", str(folder), "--frames", "5")
    assert res.returncode == 2 and "it is a folder" in res.stderr


def test_hold_below_its_floor_is_refused_naming_the_file(isolated_dirs: Path) -> None:
    cfg = isolated_dirs / "cfg.toml"
    cfg.write_text("hold_s = 0.0\n")
    res = run("--config", str(cfg), "--print-config")
    assert res.returncode == 2 and f"{cfg}: hold_s must be between 0.5 and 60" in res.stderr, res.stderr


def test_a_truncated_video_is_reported_and_exits_non_zero_unless_allowed(tmp_path) -> None:
    # An MP4 whose header (moved to the front) promises 90 frames, cut to its first third.
    whole = tmp_path / "whole.mp4"
    with av.open(str(whole), "w", options={"movflags": "faststart"}) as c:
        stream = c.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for i in range(90):
            frame = av.VideoFrame.from_ndarray(np.random.default_rng(i).integers(0, 255, (240, 320, 3), dtype=np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                c.mux(packet)
        for packet in stream.encode(None):
            c.mux(packet)
    data = whole.read_bytes()
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(data[: len(data) // 3])
    res = run("--source", str(truncated), "--sink", "null", "--filter", "blur", "--no-monitors")
    assert res.returncode == 3, res.stderr
    assert "ended after" in res.stderr and "of its 90 frames" in res.stderr and "--allow-partial" in res.stderr
    assert "@ 0x" not in res.stderr  # FFmpeg's own log lines are not shown
    ok = run("--source", str(truncated), "--sink", "null", "--filter", "blur", "--no-monitors", "--allow-partial", "--json", str(tmp_path / "p.json"))
    assert ok.returncode == 0, ok.stderr
    summary = read_run_log(tmp_path / "p.json")["summary"]
    assert summary["partial"] and 0 < summary["frames"] < summary["frames_expected"] == 90
