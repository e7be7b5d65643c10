"""``vcam-key``, ``vcam-run --key-file`` and ``vcam-restore`` as users run them: subprocesses, real
files, one-line errors, nothing overwritten, a stop signal finalising the output."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest

from vcam.engine.video.sources import VideoFileSource
from vcam.models.evaluation import fidelity

from conftest import EVM_VIDEO, need

pytestmark = pytest.mark.slow  # whole runs: make test-fast leaves them out


def command(module: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", f"vcam.app.{module}", *args], capture_output=True, text=True, timeout=timeout, env=os.environ.copy())


def frames_of(path: Path) -> list[np.ndarray]:
    with VideoFileSource(path) as src:
        frames = []
        while (image := src.read()) is not None:
            frames.append(image)
        return frames


@pytest.fixture(scope="module")
def protected(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(key file, the EVM video protected with it by vcam-run --key-file, no --filter)."""
    out = tmp_path_factory.mktemp("keyed")
    key = out / "call.key"
    made = command("key_cli", "new", str(key))
    assert made.returncode == 0 and made.stdout.strip() == str(key), made.stderr
    run = command("run_cli", "--source", str(need(EVM_VIDEO)), "--sink", str(out / "call.mp4"), "--key-file", str(key), "--quiet", "--no-monitors")
    assert run.returncode == 0, run.stderr
    return key, out / "call.mp4"


def test_vcam_key_makes_a_private_key_and_shows_only_its_fingerprint(tmp_path, protected) -> None:
    key, _ = protected
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    shown = command("key_cli", "fingerprint", str(key))
    secret = key.read_text().split()[-1]
    assert shown.returncode == 0 and len(shown.stdout.strip()) == 16 and secret not in shown.stdout + shown.stderr
    again = command("key_cli", "new", str(key))
    assert again.returncode == 2 and "never overwritten" in again.stderr and len(again.stderr.splitlines()) == 1


def test_the_restored_recording_has_the_raw_faces_back(tmp_path, protected) -> None:
    key, video = protected
    out = tmp_path / "restored.mp4"
    res = command("restore_cli", "--key-file", str(key), "--in", str(video), "--out", str(out), "--quiet")
    assert res.returncode == 0, res.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600  # it holds the faces
    raw, sent, restored = frames_of(EVM_VIDEO), frames_of(video), frames_of(out)
    assert len(restored) == len(sent) == len(raw)
    face = (slice(150, 450), slice(120, 420))
    for i in (0, len(raw) // 2, len(raw) - 1):
        assert fidelity.psnr(restored[i][face], raw[i][face]) >= 33 > 20 >= fidelity.psnr(sent[i][face], raw[i][face])  # scrambled: 10-15 dB
    with av.open(str(out)) as c:
        assert len(c.streams.video) == 1


def test_a_wrong_key_an_existing_output_or_a_bad_key_file_is_one_line_and_writes_nothing(tmp_path, protected) -> None:
    key, video = protected
    wrong = tmp_path / "wrong.key"
    assert command("key_cli", "new", str(wrong)).returncode == 0
    out = tmp_path / "restored.mp4"
    cases = [
        (["--key-file", str(wrong), "--in", str(video), "--out", str(out)], "does not open"),
        (["--key-file", str(key), "--in", str(need(EVM_VIDEO)), "--out", str(out)], "no protected face"),
        (["--key-file", str(tmp_path / "none.key"), "--in", str(video), "--out", str(out)], "vcam-key new"),
        (["--key-file", str(key), "--in", str(tmp_path / "none.mp4"), "--out", str(out)], "not found"),
        (["--key-file", str(key), "--in", str(video), "--out", str(tmp_path / "restored.txt")], "video file"),
    ]
    for args, said in cases:
        res = command("restore_cli", *args)
        assert res.returncode == 2 and said in res.stderr and len(res.stderr.splitlines()) == 1, (args, res.stderr)
        assert not out.exists()
    out.write_bytes(b"keep me")
    res = command("restore_cli", "--key-file", str(key), "--in", str(video), "--out", str(out))
    assert res.returncode == 2 and "never overwritten" in res.stderr and out.read_bytes() == b"keep me"


def test_a_key_only_goes_with_a_keyed_filter(tmp_path, protected) -> None:
    key, _ = protected
    res = command("run_cli", "--source", "demo", "--sink", "null", "--filter", "blur", "--key-file", str(key), "--frames", "2")
    assert res.returncode == 2 and "no key can undo" in res.stderr and len(res.stderr.splitlines()) == 1
    res = command("run_cli", "--source", "demo", "--sink", "null", "--filter", "scramble", "--frames", "2")
    assert res.returncode == 2 and "--key-file" in res.stderr and len(res.stderr.splitlines()) == 1
    shown = command("run_cli", "--key-file", str(key), "--print-config")
    assert shown.returncode == 0 and 'filter = "scramble"' in shown.stdout


def test_a_stop_signal_ends_the_restore_with_its_output_finalised(tmp_path, protected) -> None:
    key, video = protected
    long = tmp_path / "long.mp4"  # the protected call three times over: long enough to be stopped
    with av.open(str(video)) as src, av.open(str(long), "w") as dst:
        stream = dst.add_stream("libx264", rate=30)
        frames = [f.to_ndarray(format="rgb24") for f in src.decode(video=0)]
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        for image in frames * 3:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                dst.mux(packet)
        for packet in stream.encode(None):
            dst.mux(packet)
    out = tmp_path / "restored.mp4"
    proc = subprocess.Popen(
        [sys.executable, "-m", "vcam.app.restore_cli", "--key-file", str(key), "--in", str(long), "--out", str(out)], stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (out.exists() and out.stat().st_size > 2000):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err, err
    done = frames_of(out)
    assert 0 < len(done) < 3 * len(frames)
