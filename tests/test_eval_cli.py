"""vcam-eval end to end on a real face video: report files, sane numbers, resume, one-line errors."""

import inspect
import json
import subprocess
import sys

import pytest

from vcam.app.eval_cli import filter_code, result_folders
from vcam.engine.filters import identity_pattern
from vcam.engine.native_log import NOISE
from vcam.engine.recognisers import onnx_graph, sface_gradient
from vcam.engine.video import sinks

from conftest import EVM_VIDEO, need

pytestmark = pytest.mark.slow  # whole runs: make test-fast leaves them out


def vcam_eval(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vcam.app.eval_cli", *args], capture_output=True, text=True, timeout=900)


def test_eval_writes_report_with_sane_numbers_and_resumes(tmp_path) -> None:
    args = ("--dataset", str(need(EVM_VIDEO)), "--filters", "off,pixelate", "--attackers", "dlib", "--judges", "pos", "--no-transport", "--out", str(tmp_path))
    res = vcam_eval(*args)
    assert res.returncode == 0, res.stderr
    chatter = [line for line in res.stderr.splitlines() if NOISE.match(line.encode())]
    assert not chatter, chatter[:3]  # MediaPipe/TFLite log lines are filtered out of the CLI's stderr
    report = json.loads((tmp_path / "report.json").read_text())
    direct = report["datasets"]["face.mp4"]["direct"]
    assert direct["off"]["privacy"]["dlib"]["match_rate"] == 1.0
    assert direct["off"]["fidelity"]["crop_psnr"] == "inf"
    assert direct["pixelate"]["fidelity"]["crop_psnr"] < 30.0
    assert direct["off"]["utility"]["pos"]["dhr_bpm"] == 0.0
    md = (tmp_path / "report.md").read_text()
    assert "| dlib: match rate at threshold | 100.0 % |" in md
    assert all((tmp_path / f).is_file() for f in report["figures"])
    # A second run reuses the per-clip results: same numbers.
    (tmp_path / "report.json").unlink()
    assert vcam_eval(*args).returncode == 0
    assert json.loads((tmp_path / "report.json").read_text())["datasets"] == report["datasets"]
    # Results made with other judges are not mixed in: one error line, the results are kept.
    for other in (("--judges", "pos,chrom"), ("--strength", "0.5")):
        res = vcam_eval(*args, *other)
        assert res.returncode == 2 and "holds results made with other settings" in res.stderr, res.stderr
    kept = sorted(d.name for d in (tmp_path / "clips" / "face.mp4" / "direct").iterdir())
    assert [name.split("-")[0] for name in kept] == ["off", "pixelate"] and all(len(name.split("-")[1]) == 12 for name in kept)
    # The strength reaches the filters: milder pixelation (16 blocks instead of 10) at 0.2.
    mild = tmp_path / "mild"
    assert vcam_eval(*args[:-1], str(mild), "--filters", "pixelate", "--strength", "0.2").returncode == 0
    mild_report = json.loads((mild / "report.json").read_text())
    assert mild_report["config"]["strength"] == 0.2 and "(strength 0.2)" in (mild / "report.md").read_text()
    assert mild_report["datasets"]["face.mp4"]["direct"]["pixelate"]["fidelity"]["crop_psnr"] > direct["pixelate"]["fidelity"]["crop_psnr"] + 1


def test_report_marks_the_recognisers_a_filter_used_and_claims_the_worst_unseen(tmp_path) -> None:
    """The pattern filter declares it was learned against dlib: the report marks dlib seen for it,
    the others unseen, and its claim is the worst over the unseen ones only; blur used none."""
    res = vcam_eval(
        "--dataset",
        "demo",
        "--seconds",
        "3",
        "--filters",
        "pattern,blur",
        "--attackers",
        "dlib,faceplugin,mobileface",
        "--judges",
        "pos",
        "--no-transport",
        "--out",
        str(tmp_path),
    )
    assert res.returncode == 0, res.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["config"]["seen"] == {"pattern": ["dlib"], "blur": []}
    direct = report["datasets"]["demo"]["direct"]
    assert [n for n, row in direct["pattern"]["privacy"].items() if row["seen"]] == ["dlib"]
    assert not any(row["seen"] for row in direct["blur"]["privacy"].values())
    for f in ("pattern", "blur"):
        rows, worst = direct[f]["privacy"], direct[f]["worst_unseen"]
        unseen = {n: r for n, r in rows.items() if not r["seen"]}
        assert worst["match_rate"] == max(r["match_rate"] for r in unseen.values())
        assert worst["match_rate_recogniser"] in unseen and worst["rank1_chance"] == 1.0
    md = (tmp_path / "report.md").read_text()
    assert "worst unseen recogniser: match rate" in md and " (seen) |" in md


def test_pulse_replace_gets_a_pulse_privacy_table(tmp_path) -> None:
    """``--pulse replace --target-hr 80`` runs the runtime's pulse edit after the filter: POS reads the
    target from the sent video, not the real ~53 bpm, and the report says so in its own table."""
    args = ("--dataset", str(need(EVM_VIDEO)), "--filters", "off,blur", "--attackers", "dlib", "--judges", "pos", "--no-transport")
    res = vcam_eval(*args, "--pulse", "replace", "--target-hr", "80", "--out", str(tmp_path))
    assert res.returncode == 0, res.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["config"]["pulse"] == "replace" and report["config"]["target_hr"] == 80.0
    for name in ("off", "blur"):
        pos = report["datasets"]["face.mp4"]["direct"][name]["pulse_privacy"]["pos"]
        assert pos["dhr_target_bpm"] < 2.0 and pos["dhr_true_bpm"] > 20.0 and pos["near_true"] == 0.0 and pos["snr_true_db"] < 0.0, (name, pos)
    md = (tmp_path / "report.md").read_text()
    assert "### Pulse privacy (heart rate replaced by 80 bpm)" in md and "| pos: \\|HR sent - target\\| (bpm) |" in md
    # Results made with another pulse setting are not mixed in.
    res = vcam_eval(*args, "--pulse", "hide", "--out", str(tmp_path))
    assert res.returncode == 2 and "holds results made with other settings" in res.stderr, res.stderr


def test_deid_and_pattern_results_are_kept_per_model_file(tmp_path) -> None:
    a, b, mine = tmp_path / "a.onnx", tmp_path / "b.onnx", tmp_path / "mine.npz"
    a.write_bytes(b"model a")
    b.write_bytes(b"model b")
    mine.write_bytes(b"pattern")
    settings = {"seconds": 10.0}
    names_a = result_folders(tmp_path, settings, ["deid", "pattern", "off"], a)
    names_b = result_folders(tmp_path, settings, ["deid", "pattern", "off"], b)
    assert names_a["off"] == names_b["off"] and names_a["off"].startswith("off-")
    assert names_a["deid"] != names_b["deid"] and names_a["deid"].startswith("deid-")
    assert names_a["pattern"] == names_b["pattern"] != result_folders(tmp_path, settings, ["pattern"], mine)["pattern"]
    assert names_a["pattern"].startswith("pattern-")
    assert result_folders(tmp_path, settings, ["deid"], a) == {"deid": names_a["deid"]}


def test_results_are_kept_per_version_of_the_filter_code() -> None:
    """A filter's cache key covers its own class, the classes it builds on and the engine modules
    the filters use, directly (identity_pattern) or through another (onnx_graph), but not others."""
    pattern, adaptive = filter_code("pattern"), filter_code("adaptive")
    assert "class PatternFilter" in pattern and "def _place" in pattern
    assert "class AdaptivePatternFilter" in adaptive and "class AdaptivePatternFilter" not in pattern
    assert "class FaceFilter" in filter_code("off")
    for module in (identity_pattern, sface_gradient, onnx_graph):
        assert inspect.getsource(module) in adaptive
    assert inspect.getsource(sinks) not in adaptive


@pytest.mark.parametrize(
    "args, message",
    [
        (["--dataset", "nowhere.mp4"], "dataset not found"),
        (["--filters", "off,sparkle"], "--filters must be a comma-separated subset"),
        (["--filters", "deid", "--model", "none.onnx"], "needs a trained model"),
        (["--filters", "pattern", "--model", "none.npz"], "cannot read identity pattern none.npz"),
        (["--strength", "2"], "--strength must be between 0.2 and 1.5"),
        (["--pulse", "replace", "--target-hr", "400"], "--target-hr must be between 40 and 180 bpm"),
    ],
)
def test_bad_input_is_one_line(tmp_path, args, message) -> None:
    res = vcam_eval(*args, "--out", str(tmp_path))
    assert res.returncode == 2 and message in res.stderr and res.stderr.strip().count("\n") <= 1, res.stderr
