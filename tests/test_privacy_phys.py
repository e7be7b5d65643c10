"""The seed's offline pulse rewrite (Privacy-Phys, ``vcam-pulse-edit``) on the real EVM face video:
PhysNet reads the target, only skin pixels change, and the command refuses bad input in one line."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from vcam.engine.crop import crop_face
from vcam.engine.pulse.signals import heart_rate
from vcam.engine.video.sources import VideoFileSource
from vcam.models.evaluation.clips import video_clip
from vcam.models.evaluation.protect import track_clip
from vcam.models.evaluation.utility import PulseJudges
from vcam.models.physnet import PhysNet
from vcam.models.privacy_phys import pieces, privacy_phys, target_pulse

from conftest import EVM_HR_BPM, EVM_VIDEO, need


def pulse_edit(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vcam.app.pulse_edit_cli", *args], capture_output=True, text=True, timeout=600, env=os.environ.copy())


def test_pieces_are_multiples_of_four_and_long_enough_for_physnet() -> None:
    assert pieces(301) == [(0, 160), (160, 300)]
    assert pieces(170) == [(0, 168)]  # an 8-frame tail joins the piece before
    assert pieces(20) == []
    assert all((b - a) % 4 == 0 and b - a >= 32 for a, b in pieces(1000))


@pytest.mark.slow
def test_privacy_phys_shows_physnet_the_target_and_changes_only_skin() -> None:
    clip = video_clip(need(EVM_VIDEO), 8.6)
    analyses = track_clip(clip)
    raw = np.stack([crop_face(a.frame.image, a.tracks[0]) for a in analyses])
    skin = np.stack([a.tracks[0].skin_mask for a in analyses])
    edited = privacy_phys(raw, skin, target_pulse(len(raw), clip.fps, 90.0), PhysNet.pretrained("pure"))
    judges = PulseJudges()
    assert heart_rate(judges.pulse("physnet", raw, skin, clip.fps), clip.fps) == pytest.approx(EVM_HR_BPM, abs=3)
    assert heart_rate(judges.pulse("physnet", edited, skin, clip.fps), clip.fps) == pytest.approx(90.0, abs=2)
    assert np.array_equal(edited[~skin], raw[~skin])  # the projection: skin only
    change = np.abs(edited - raw) * 255
    assert 0 < change.max() <= 7 and 10 * np.log10(255**2 / np.mean(change**2)) >= 40  # 20 Adam steps of about 0.1 level


@pytest.mark.slow
def test_vcam_pulse_edit_writes_the_edited_video_and_refuses_bad_input(tmp_path) -> None:
    out = tmp_path / "edited.mp4"
    res = pulse_edit("--in", str(need(EVM_VIDEO)), "--out", str(out), "--target-hr", "20")
    assert res.returncode == 2 and "--target-hr must be between" in res.stderr and len(res.stderr.splitlines()) == 1 and not out.exists()
    res = pulse_edit("--in", str(tmp_path / "none.mp4"), "--out", str(out), "--target-hr", "90")
    assert res.returncode == 2 and "not found" in res.stderr and not out.exists()
    res = pulse_edit("--in", str(EVM_VIDEO), "--out", str(out), "--target-hr", "120", "--quiet")
    assert res.returncode == 0, res.stderr
    with VideoFileSource(out) as src, VideoFileSource(EVM_VIDEO) as raw:
        assert src.frame_count == raw.frame_count
    res = pulse_edit("--in", str(EVM_VIDEO), "--out", str(out), "--target-hr", "90")
    assert res.returncode == 2 and "never overwritten" in res.stderr


def test_vcam_pulse_edit_leaves_no_empty_output_when_the_sink_cannot_start(tmp_path, monkeypatch, capsys) -> None:
    """The output is created (never overwriting) before the sink opens; a sink that fails to open
    then takes that empty file away again, with one error line."""
    from vcam.app import pulse_edit_cli
    from vcam.engine.errors import SinkError
    from vcam.engine.video import sinks

    def refuse(*args: object, **kwargs: object) -> None:
        raise SinkError("no encoder here")

    monkeypatch.setattr(sinks, "VideoFileSink", refuse)
    out = tmp_path / "edited.mp4"
    assert pulse_edit_cli.main(["--in", str(need(EVM_VIDEO)), "--out", str(out), "--target-hr", "90", "--quiet"]) == 2
    assert "no encoder here" in capsys.readouterr().err and not out.exists()
