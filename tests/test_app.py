"""App-layer pieces that run in-process: config resolution, status line, the preview window,
and the layering rule (the runtime never imports torch)."""

import dataclasses
import os
import subprocess
import sys

import numpy as np
import pytest
import tomllib

from vcam.app.config import Config, resolve, save
from vcam.app.run_cli import build_parser
from vcam.app.run_cli import main as run_main
from vcam.app.status import StatusLine, format_status
from vcam.engine.errors import ConfigError
from vcam.engine.pipeline import PipelineConfig


def test_resolve_precedence(tmp_path) -> None:
    path = tmp_path / "c.toml"
    save(Config(filter="blur", strength=0.3, width=640), path)
    cfg = resolve({"strength": 0.9, "filter": None}, path)
    assert (cfg.filter, cfg.strength, cfg.width, cfg.height) == ("blur", 0.9, 640, 720)


def test_saved_config_holds_only_the_changed_settings(tmp_path) -> None:
    """A setting the user never changed is not pinned in the file, so it follows a later default."""
    path = save(Config(filter="blur", strength=1.0, width=640), tmp_path / "c.toml")
    assert tomllib.loads(path.read_text()) == {"filter": "blur", "width": 640}
    assert resolve({}, save(Config(), path)) == Config()


@pytest.mark.parametrize(
    "text,message",
    [
        ("nonsense = 1\n", "unknown setting 'nonsense'"),
        ("width = 'wide'\n", "width must be a int"),
        ("out_width = 641\n", "out_width must be even"),
        ("filter = 'sepia'\n", "filter must be one of"),
        ("[[", "not valid TOML"),
    ],
)
def test_bad_config_files(tmp_path, text: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        resolve({}, path)


def test_every_setting_is_an_option_a_key_and_reaches_the_pipeline(tmp_path, capsys) -> None:
    # Declared once in Config: each setting has its --option, the file takes it as a key, and the
    # settings that declare pipeline knobs set exactly those (the rest keep PipelineConfig's own).
    parser = build_parser()
    options = {a.dest for a in parser._actions}
    assert {f.name for f in dataclasses.fields(Config)} <= options
    cfg = tmp_path / "c.toml"
    cfg.write_text("deadline_ms = 120\n", encoding="utf-8")
    assert run_main(["--config", str(cfg), "--no-monitors", "--ring-size", "8", "--hold-s", "2", "--print-config"]) == 0
    printed = tomllib.loads(capsys.readouterr().out)
    assert (printed["deadline_ms"], printed["monitors"], printed["ring_size"], printed["hold_s"]) == (120.0, False, 8, 2.0)
    pipe = Config(monitors=False, idle=False, ring_size=8, strength=0.5, pulse="hide").pipeline_config()
    assert (pipe.rppg, pipe.identity, pipe.idle_without_viewers, pipe.ring_size, pipe.strength, pipe.pulse) == (False, False, False, 8, 0.5, "hide")
    assert pipe.idle_after_s == PipelineConfig().idle_after_s


def test_status_line_formats() -> None:
    line = format_status(
        {
            "fps": 29.7,
            "p50_latency_ms": 18.2,
            "rppg_warming_up": False,
            "hr_raw_bpm": 71.6,
            "hr_protected_bpm": 72.2,
            "identity_distance": 0.83,
            "identity_match": False,
            "dropped_frames": 2,
        }
    )
    assert "29.7 fps" in line and "72/72 bpm" in line and "0.83 (no match)" in line and "dropped 2" in line
    assert "0.83 (MATCH: sface)" in format_status({"fps": 30.0, "identity_distance": 0.83, "identity_matches": {"dlib": False, "sface": True}})
    # A file shows how far it is and how long is left (at the last second's rate); a camera does not.
    assert format_status({"fps": 30.0, "frames": 120}, total=450).startswith("frame 120/450 (26 %, 0:11 left) | ")
    assert format_status({"fps": 30.0, "frames": 120}).startswith(" 30.0 fps")
    done = StatusLine.summary_line(
        {
            "frames": 10,
            "fps": 30.0,
            "p95_latency_ms": 20.0,
            "dropped_frames": 0,
            "identity_match_rate": 0.5,
            "identity_match_rate_by": {"dlib": 0.0, "sface": 0.5},
        }
    )
    assert "identity match rate, unseen recognisers --, any 50% (dlib 0%, sface 50%)" in done
    unseen = StatusLine.summary_line(
        {
            "frames": 10,
            "fps": 30.0,
            "p95_latency_ms": 20.0,
            "dropped_frames": 0,
            "identity_match_rate": 0.5,
            "identity_match_rate_unseen": 0.25,
            "identity_unseen_recognisers": ["faceplugin"],
            "identity_match_rate_by": {"faceplugin": 0.25, "dlib": 0.0, "sface": 0.5},
        }
    )
    assert "unseen recognisers 25%, any 50% (faceplugin [unseen] 25%, dlib 0%, sface 50%)" in unseen
    assert "0.83 [faceplugin: unseen] (no match)" in format_status(
        {"fps": 30.0, "identity_distance": 0.83, "identity_unseen": ["faceplugin"], "identity_matches": {"faceplugin": False, "dlib": False}}
    )
    assert "warming up" in format_status({"fps": 1.0, "rppg_warming_up": True})
    assert "strength 1.30 (auto)" in format_status({"fps": 30.0, "strength": 1.3}, auto_strength=True)
    assert "strength" not in format_status({"fps": 30.0, "strength": 1.3})
    assert "idle: no app shows the virtual camera" in format_status({"fps": 30.0, "idle": True, "viewers": 0})
    auto = StatusLine.summary_line(
        {"frames": 10, "fps": 30.0, "p95_latency_ms": 20.0, "dropped_frames": 0, "strength": 1.0, "strength_max": 1.4, "auto_strength": True}
    )
    assert "strength 1.00 to 1.40 (auto)" in auto


def test_preview_window_shows_frames(qtbot) -> None:
    from vcam.app.preview import PreviewSink

    closed = []
    sink = PreviewSink(on_close=lambda: closed.append(True))
    qtbot.addWidget(sink.label)
    frame = np.zeros((120, 160, 3), np.uint8)
    frame[..., 0] = 255
    sink.send(frame)
    pix = sink.label.pixmap()
    assert not pix.isNull()
    colour = pix.toImage().pixelColor(pix.width() // 2, pix.height() // 2)
    assert (colour.red(), colour.green(), colour.blue()) == (255, 0, 0)
    sink.close()
    assert closed == [True]


def test_runtime_layers_do_not_import_torch() -> None:
    # Every module of the runtime and the app, imported in a fresh interpreter: none may pull in
    # torch or the training side.
    code = (
        "import sys, pkgutil, importlib, vcam.engine, vcam.app\n"
        "for pkg in (vcam.engine, vcam.app):\n"
        "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        importlib.import_module(m.name)\n"
        "        bad = [x for x in ('torch', 'vcam.models', 'vcam.export') if x in sys.modules]\n"
        "        if bad: sys.exit(f'{m.name} imports {bad}')\n"
        "print(len(sys.modules))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert res.returncode == 0, res.stdout + res.stderr


def test_guarded_turns_errors_and_bugs_into_one_line(capsys, monkeypatch) -> None:
    from vcam.app.cli import guarded

    monkeypatch.delenv("VCAM_DEBUG", raising=False)

    def bad_input() -> int:
        raise ConfigError("strength must be between 0.2 and 1")

    def bug() -> int:
        return 1 // 0

    assert guarded("vcam-x", bad_input) == 2
    assert guarded("vcam-x", bug) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "vcam-x: error: strength must be between 0.2 and 1",
        "vcam-x: internal error: ZeroDivisionError: integer division or modulo by zero (a bug; VCAM_DEBUG=1 shows the traceback)",
    ]
    assert guarded("vcam-x", bug, debug=True) == 1
    assert "Traceback" in capsys.readouterr().err


def test_help_and_a_missing_camera_answer_before_the_runtime_loads() -> None:
    # vcam-run --help and a camera that is not there are answered without loading the pipeline,
    # the tracker or any model (the heavy imports), so the user hears about it at once.
    code = (
        "import sys, contextlib, io\n"
        "from vcam.app.run_cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        "        main(['--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "code = main(['--source', '/dev/video98', '--sink', 'null'])\n"
        "heavy = ('vcam.engine.pipeline', 'vcam.engine.tracking', 'vcam.engine.face_mesh', 'vcam.engine.filters.anonymise', 'onnx')\n"
        "heavy = [m for m in heavy if m in sys.modules]\n"
        "sys.exit(f'exit {code}, loaded {heavy}' if heavy or code != 2 else 0)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "no camera device /dev/video98" in res.stderr, res.stderr


def test_the_app_hands_the_pipeline_its_monitors_and_a_run_feeds_them() -> None:
    from vcam.app.session import build_pipeline
    from vcam.engine.monitors import RppgMonitor

    quiet = build_pipeline(Config(source="demo", sink="null", filter="blur", monitors=False, width=320, height=240), frames=3)
    with quiet:
        assert quiet.monitors.rppg is None and quiet.monitors.identity is None
        assert quiet.run(max_frames=3)["frames"] == 3 and quiet._worker is None
    watched = build_pipeline(Config(source="demo", sink="null", filter="blur", width=320, height=240), frames=40)
    with watched:
        assert isinstance(watched.monitors.rppg, RppgMonitor) and watched.rppg is watched.monitors.rppg
        watched.run(max_frames=40)
        assert watched.rppg.snapshot()[0].size > 0 and watched._worker is not None  # the run fed both
