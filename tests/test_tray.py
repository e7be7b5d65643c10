"""The tray app (pytest-qt, offscreen): controls reach the engine, monitors update from a real run
on the EVM face video, fallback window without a tray; the real tray under Xvfb + trayer."""

import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tomllib

from vcam.app.config import Config, resolve
from vcam.app.controller import EngineController
from vcam.app.monitor_window import MonitorWindow, difference_view, tooltip
from vcam.app.tray import TrayApp, slider_to_strength, strength_to_slider
from vcam.engine.filters import MAX_STRENGTH, MIN_STRENGTH, BlurFilter, OffFilter, PixelateFilter, ScrambleFilter

from conftest import EVM_VIDEO, need


@pytest.fixture
def controller(tmp_path):
    cfg = Config(source=str(need(EVM_VIDEO)), sink="null", filter="blur", realtime=True)
    ctl = EngineController(cfg, tmp_path / "config.toml")
    yield ctl
    ctl.stop()


def test_fallback_window_controls_reach_the_running_engine(qtbot, controller, tmp_path) -> None:
    app = TrayApp(controller)
    assert not app.use_tray and app.window is not None  # offscreen: no system tray
    qtbot.addWidget(app.window)
    controller.start()
    qtbot.waitUntil(lambda: controller.pipe is not None and controller.pipe.metrics.frames > 5, timeout=30_000)
    assert isinstance(controller.pipe.filter, BlurFilter) and controller.state == "protecting"
    app.window.protect.setChecked(False)
    assert isinstance(controller.pipe.filter, OffFilter) and controller.state == "off"
    app.window.protect.setChecked(True)
    assert isinstance(controller.pipe.filter, BlurFilter)
    app.window.filter.setCurrentText("Pixelate")  # the user sees the registry's labels
    assert isinstance(controller.pipe.filter, PixelateFilter)
    assert "pick you out of a small group" in app.window.protects.text()
    app.window.filter.setCurrentIndex(app.window.filter.findData("adaptive"))
    assert "recognisers it was not built against still matched" in app.window.protects.text()
    app.window.filter.setCurrentIndex(app.window.filter.findData("pixelate"))
    app.window.strength.setValue(50)
    assert controller.pipe.config.strength == pytest.approx(slider_to_strength(50))
    assert app.window.strength_value.text() == f"{slider_to_strength(50):.2f}"  # the slider shows its value
    app.window.auto_strength.setChecked(True)
    assert controller.pipe.config.auto_strength
    saved = tomllib.loads((tmp_path / "config.toml").read_text())
    assert saved["filter"] == "pixelate" and saved["strength"] == pytest.approx(slider_to_strength(50)) and saved["auto_strength"]


def test_slider_mapping_round_trips() -> None:
    assert slider_to_strength(0) == MIN_STRENGTH and slider_to_strength(100) == MAX_STRENGTH
    assert all(strength_to_slider(slider_to_strength(v)) == v for v in range(0, 101, 5))


@pytest.mark.slow
def test_monitors_update_from_a_real_engine_run(qtbot, controller) -> None:
    app = TrayApp(controller, use_tray=False)
    qtbot.addWidget(app.window)
    app.show_monitors()
    controller.start()
    mon = app.monitors
    # EVM video paced at 30 fps: the rPPG warm-up (6 s) ends within its 10 s.
    qtbot.waitUntil(lambda: "--" not in mon.hr_raw.text(), timeout=30_000)
    assert mon.updates >= 6
    hr = float(mon.hr_raw.text().split()[1])
    assert 45 <= hr <= 60  # the EVM pulse is ~52.7 bpm
    assert len(mon.bvp_raw.getData()[0]) > 100 and len(mon.bvp_prot.getData()[0]) > 100
    assert "fps" in mon.stats.text()
    assert mon.preview_out.pixmap() is not None and not mon.preview_out.pixmap().isNull()
    # The identity monitor (a niced child process) enrols over 3 s and then reports distances;
    # the endless demo face gives it the time (switching the camera restarts the pipeline).
    app.set_source("demo")
    qtbot.waitUntil(lambda: "distance" in mon.gauge.format(), timeout=120_000)
    assert "recognisable" in mon.id_label.text().lower() and len(mon.id_curve.getData()[0]) >= 1


def test_qt_calls_keep_none_alive(qtbot) -> None:
    """PySide6 6.12.0 (Python 3.11) dropped a reference to None on every void call, so the tray
    aborted ("deallocating None") after a few thousand widget updates: minutes of monitors."""
    from PySide6.QtWidgets import QProgressBar

    bar = QProgressBar()
    qtbot.addWidget(bar)
    before = sys.getrefcount(None)
    for _ in range(2000):
        bar.setValue(5)
    assert sys.getrefcount(None) > before - 100


@pytest.mark.parametrize(
    ("matches", "colour", "text"),
    [
        ({"faceplugin": True, "dlib": True, "sface": False}, "#c33", "RECOGNISABLE: faceplugin, dlib"),
        ({"faceplugin": False, "dlib": False, "sface": True}, "#c90", "RECOGNISABLE: sface"),
        ({"faceplugin": False, "dlib": False, "sface": False}, "#2a2", "not recognisable as you by faceplugin (never used by this filter)"),
    ],
)
def test_identity_gauge_is_red_only_when_an_unseen_recogniser_matches(qtbot, matches, colour, text) -> None:
    """The gauge's recogniser is one the filter never used: its match is red, a match by a recogniser the
    filter attacks alone is amber, and the verdict names the unseen one first."""
    mon = MonitorWindow(with_preview=False)
    qtbot.addWidget(mon)
    mon.update_record(
        {"identity_distance": 0.3 if matches["faceplugin"] else 0.9, "identity_threshold": 0.62, "identity_matches": matches, "identity_unseen": ["faceplugin"]}
    )
    assert colour in mon.gauge.styleSheet() and text in mon.id_label.text()
    assert "threshold 0.62" in mon.gauge.format()
    hidden = sum(not hit for hit in matches.values())
    assert mon.verdict.text() == f"Hidden from {hidden} of 3 recognisers" and colour in mon.verdict.styleSheet()


def test_the_tooltip_says_the_verdict_and_heart_rate_and_the_preview_can_show_the_change(qtbot) -> None:
    record = {"identity_matches": {"faceplugin": False, "dlib": True}, "rppg_warming_up": False, "hr_raw_bpm": 71.6, "hr_protected_bpm": 80.2}
    assert tooltip("protecting", record) == "deid-vcam: protecting\nHidden from 1 of 2 recognisers\nheart rate sent: 80 bpm (yours: 72)"
    assert tooltip("starting", None) == "deid-vcam: starting"
    mon = MonitorWindow()
    qtbot.addWidget(mon)
    mon.show()
    raw = np.full((48, 64, 3), 100, np.uint8)
    out = raw.copy()
    out[10:20, 10:20] = 110  # the protection changed one patch by 10 levels
    mon.show_changes.setChecked(True)
    mon.update_preview(raw, out)
    shown = difference_view(raw, out)
    assert shown[15, 15].tolist() == [40, 40, 40] and shown[30, 30].tolist() == [0, 0, 0]  # 4x the change, nothing elsewhere


def test_stream_line_shows_idle_and_the_raised_strength(qtbot) -> None:
    mon = MonitorWindow(with_preview=False)
    qtbot.addWidget(mon)
    mon.update_record({"fps": 30.0, "strength": 1.3, "strength_raised": True})
    assert "strength 1.30 (auto)" in mon.stats.text() and "idle" not in mon.stats.text()
    mon.update_record({"fps": 30.0, "strength": 1.0, "idle": True})
    assert mon.stats.text().startswith("idle: no app shows the virtual camera") and "(auto)" not in mon.stats.text()


def test_idle_seconds_show_the_idle_state(qtbot, controller) -> None:
    # The pipeline's per-second records drive the state: idle while no app shows the camera,
    # degraded (a fallback was used) wins over both.
    app = TrayApp(controller, use_tray=False)
    qtbot.addWidget(app.window)
    record = {"fps": 30.0, "fallback_frames": 0, "idle": True}
    controller._on_second(record)
    assert controller.state == "idle" and "idle" in app.window.state.text()
    controller._on_second({**record, "idle": False})
    assert controller.state == "protecting"
    controller._on_second({**record, "fallback_frames": 3})
    assert controller.state == "degraded"


def test_missing_model_degrades_to_pixelation_with_a_message(qtbot, tmp_path) -> None:
    cfg = Config(source=str(need(EVM_VIDEO)), sink="null", filter="deid", model=str(tmp_path / "none.onnx"), monitors=False)
    ctl = EngineController(cfg, tmp_path / "config.toml")
    app = TrayApp(ctl, use_tray=False)
    qtbot.addWidget(app.window)
    ctl.start()
    try:
        assert isinstance(ctl.pipe.filter, PixelateFilter) and ctl.state == "degraded"
        assert "needs a trained model" in app.window.message.text() and "pixelating instead" in app.messages[0]
    finally:
        ctl.stop()


def test_bad_source_shows_error_state(qtbot, tmp_path) -> None:
    ctl = EngineController(Config(source=str(tmp_path / "missing.mp4"), sink="null", filter="blur"), tmp_path / "c.toml")
    app = TrayApp(ctl, use_tray=False)
    qtbot.addWidget(app.window)
    ctl.start()
    assert ctl.state == "error" and "video file not found" in app.window.message.text()


TRAY_SCRIPT = """
import sys
from PySide6.QtWidgets import QApplication, QSystemTrayIcon
from vcam.app.config import Config, resolve
from vcam.app.controller import EngineController
from vcam.app.tray import TrayApp
app = QApplication([])
assert QSystemTrayIcon.isSystemTrayAvailable(), "no tray"
ctl = EngineController(Config(source="demo", sink="null", filter="blur"), save=False)
tray = TrayApp(ctl)
assert tray.use_tray and tray.tray.isVisible()
titles = [a.text() for a in tray.menu.actions()]
assert {"Protect my identity", "Strength", "Filter", "Camera", "Virtual camera", "Open monitors", "Quit"} <= set(titles), titles
tray.protect_action.setChecked(False)
assert ctl.state == "off"
tray.auto_action.setChecked(True)
assert ctl.cfg.auto_strength and tray.auto_action in tray.menu.actions()[1].menu().actions()
print("tray ok")
"""


@pytest.mark.slow
@pytest.mark.skipif(not (shutil.which("Xvfb") and shutil.which("trayer")), reason="needs Xvfb and trayer (installed by .ci/run)")
def test_real_system_tray_under_xvfb_with_a_tray_host() -> None:
    display = f":{90 + os.getpid() % 9}"
    xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "1024x768x24", "-nolisten", "tcp"], stderr=subprocess.DEVNULL)
    env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}
    try:
        time.sleep(1.0)
        trayer = subprocess.Popen(
            ["trayer", "--edge", "top", "--widthtype", "pixel", "--width", "200"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            time.sleep(1.5)
            res = subprocess.run([sys.executable, "-c", TRAY_SCRIPT], env=env, capture_output=True, text=True, timeout=120)
            assert res.returncode == 0 and "tray ok" in res.stdout, res.stderr[-2000:]
        finally:
            trayer.terminate()
    finally:
        xvfb.terminate()


def test_heart_rate_choice_reaches_the_running_engine(qtbot, controller) -> None:
    """The window's heart-rate choice switches the running pipeline's pulse edit and is saved."""
    app = TrayApp(controller)
    qtbot.addWidget(app.window)
    controller.start()
    qtbot.waitUntil(lambda: controller.pipe is not None and controller.pipe.metrics.frames > 3, timeout=30_000)
    assert controller.pipe.pulse is None
    for mode in ("replace", "hide", "keep"):
        index = app.window.pulse.findData(mode)
        app.window.pulse.setCurrentIndex(index)
        app.window.pulse.activated.emit(index)
        assert controller.pipe.config.pulse == mode and (controller.pipe.pulse is None) == (mode == "keep")
        assert controller.cfg.pulse == mode
    assert "show 72 bpm" in app.window.pulse.itemText(app.window.pulse.findData("replace"))


def test_first_run_asks_how_to_appear_and_remembers(qtbot, tmp_path) -> None:
    """With no saved settings the app asks once: look like yourself (the cloak, its unseen figure in
    its name) or anonymise (the default, running meanwhile); the choice is saved and not asked again."""
    ctl = EngineController(Config(source="demo", sink="null"), tmp_path / "config.toml")
    app = TrayApp(ctl, use_tray=False)
    assert app.first_run is not None and ctl.cfg.filter == "anonymise"
    qtbot.addWidget(app.first_run)
    assert "unseen recognisers: 79 %" in app.first_run.buttons["adaptive"].text()
    app.first_run.buttons["adaptive"].click()
    assert ctl.cfg.filter == "adaptive" and app.window.filter.currentData() == "adaptive"
    assert tomllib.loads((tmp_path / "config.toml").read_text())["filter"] == "adaptive"
    again = TrayApp(EngineController(Config(source="demo", sink="null", filter="adaptive"), tmp_path / "config.toml"), use_tray=False)
    assert again.first_run is None


def test_without_a_display_the_tray_and_the_preview_say_so_in_one_line() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    for cmd in (["vcam.app.tray"], ["vcam.app.run_cli", "--source", "demo", "--sink", "preview"]):
        res = subprocess.run([sys.executable, "-m", *cmd], capture_output=True, text=True, env=env, timeout=120)
        assert res.returncode == 2 and res.stderr.count("\n") == 1 and "no display to show windows on" in res.stderr, res.stderr


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_quits_the_tray_cleanly(tmp_path, signum: int) -> None:
    # Like its Quit item: the engine stops, no traceback, exit 128 + the signal, nothing left running.
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "vcam.app.tray", "--source", "demo", "--sink", "null"], stderr=subprocess.PIPE, text=True, env=env, start_new_session=True
    )
    time.sleep(12)  # running: models loaded, frames flowing
    assert proc.poll() is None
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum and "Traceback" not in err, err


def test_a_new_key_protects_restorably_and_says_where_the_key_is(qtbot, controller, tmp_path) -> None:
    """The key item makes a private key beside the config, switches the running engine to the keyed
    filter and tells the user where the key is; a key file that is open to others is refused."""
    app = TrayApp(controller)
    qtbot.addWidget(app.window)
    controller.start()
    qtbot.waitUntil(lambda: controller.pipe is not None and controller.pipe.metrics.frames > 3, timeout=30_000)
    app.new_key()
    key = Path(controller.cfg.key_file)
    assert key.parent == tmp_path / "keys" and stat.S_IMODE(key.stat().st_mode) == 0o600
    assert isinstance(controller.pipe.filter, ScrambleFilter) and app.window.filter.currentData() == "scramble"
    assert str(key) in app.messages[-1] and "vcam-restore" in app.messages[-1]
    saved = tomllib.loads((tmp_path / "config.toml").read_text())
    assert saved["filter"] == "scramble" and saved["key_file"] == str(key)
    open_key = tmp_path / "open.key"
    open_key.write_text(key.read_text())
    open_key.chmod(0o644)
    app._use_key(open_key)
    assert "chmod 600" in app.messages[-1] and controller.cfg.key_file == str(key)
    app.set_filter("blur")  # the key stays saved for later, unused
    assert isinstance(controller.pipe.filter, BlurFilter)
    assert resolve({}, tmp_path / "config.toml").key_file == str(key)
