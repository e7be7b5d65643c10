"""``vcam-tray``: the desktop app. A system-tray icon whose colour shows the state (grey off,
green protecting, grey-blue idle (no app shows the virtual camera; the webcam is released),
amber degraded, red error) with a menu for protection, strength (presets, auto), filter,
camera, virtual device, monitors and quit; where no system tray exists (GNOME without
AppIndicator, offscreen) the same controls appear in a small window. Settings are the shared
config file of ``vcam-run``; changes are saved.

    vcam-tray [--config FILE] [--source SPEC] [--sink SPEC]
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QSlider,
    QSystemTrayIcon,
    QVBoxLayout,
    QWidget,
)

from vcam.engine.errors import VcamError
from vcam.engine.filters import FILTERS, MAX_STRENGTH, MIN_STRENGTH
from vcam.engine.video.devices import cameras, loopback_devices

from . import config as config_mod
from .cli import Parser, StopSignals, guarded, quiet_native_logs
from .config import Config, resolve
from .controller import EngineController
from .first_run import FirstRunChoice
from .linux_setup import icon_png, install_desktop_entry
from .monitor_window import MonitorWindow, tooltip
from .preview import missing_display, qt_application

STATE_COLOURS = {"off": "#9e9e9e", "protecting": "#2e7d32", "idle": "#5c8a99", "degraded": "#f9a825", "error": "#c62828"}
AUTO_STRENGTH_LABEL = "Auto: stronger while recognisable"
STRENGTH_PRESETS = (("Light (50 %)", 0.5), ("Medium (75 %)", 0.75), ("Standard (100 %)", 1.0), ("Strong (150 %)", MAX_STRENGTH))


def pulse_choices(target_hr: float) -> list[tuple[str, str]]:
    return [("Heart rate: real", "keep"), ("Heart rate: hidden", "hide"), (f"Heart rate: show {target_hr:g} bpm", "replace")]


NEW_FACE_LABEL = "New face (anonymise: another virtual person)"
NEW_KEY_LABEL = "Protect with a new key (restorable)"
KEY_FILE_LABEL = "Protect with a key file..."
PROTECTING_FILTERS = tuple(f for f in FILTERS if f != "off")


def state_icon(state: str, size: int = 64) -> QIcon:
    """A filled circle in the state's colour with a lighter ring (drawn, no image files)."""
    pix = QPixmap(size, size)
    pix.fill(Qt.GlobalColor.transparent)
    p = QPainter(pix)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    colour = QColor(STATE_COLOURS[state])
    p.setBrush(colour)
    p.setPen(colour.lighter(150))
    p.drawEllipse(4, 4, size - 8, size - 8)
    p.end()
    return QIcon(pix)


def slider_to_strength(value: int) -> float:
    """Slider position 0..100 -> strength MIN_STRENGTH..MAX_STRENGTH."""
    return MIN_STRENGTH + (MAX_STRENGTH - MIN_STRENGTH) * value / 100.0


def strength_to_slider(strength: float) -> int:
    return round(max(0.0, strength - MIN_STRENGTH) / (MAX_STRENGTH - MIN_STRENGTH) * 100)


def source_choices(current: str) -> list[tuple[str, str]]:
    """(label, source spec) of the cameras found, the demo, and the current source."""
    items = [(f"{d.name} ({d.path})", d.path) for d in cameras()] + [("Demo face", "demo")]
    if current not in [s for _, s in items]:
        items.append((current, current))
    return items


def vcam_choices(current: str) -> list[tuple[str, str]]:
    items = [("First loopback device", "")] + [(f"{d.name} ({d.path})", d.path) for d in loopback_devices()]
    if current not in [s for _, s in items]:
        items.append((current, current))
    return items


class ControlWindow(QWidget):
    """The tray menu's controls as a window (used when there is no system tray)."""

    def __init__(self, app: TrayApp) -> None:
        super().__init__()
        self.setWindowTitle("deid-vcam")
        ctl = app.controller
        form = QFormLayout()
        self.protect = QCheckBox("Protect my identity")
        self.protect.setChecked(ctl.protecting)
        self.protect.toggled.connect(app.set_protection)
        self.strength = QSlider(Qt.Orientation.Horizontal)
        self.strength.setRange(0, 100)
        self.strength.setValue(strength_to_slider(ctl.cfg.strength))
        self.strength.valueChanged.connect(lambda v: app.set_strength(slider_to_strength(v)))
        self.strength_value = QLabel(f"{ctl.cfg.strength:.2f}")  # the slider's value, as vcam-run --strength takes it
        self.strength.valueChanged.connect(lambda v: self.strength_value.setText(f"{slider_to_strength(v):.2f}"))
        self.auto_strength = QCheckBox(AUTO_STRENGTH_LABEL)
        self.auto_strength.setChecked(ctl.cfg.auto_strength)
        self.auto_strength.setEnabled(ctl.cfg.monitors)
        self.auto_strength.toggled.connect(app.set_auto_strength)
        self.filter = QComboBox()
        for name in PROTECTING_FILTERS:
            self.filter.addItem(FILTERS[name].label, name)
        self.filter.setCurrentIndex(self.filter.findData(ctl.cfg.filter if ctl.cfg.filter in PROTECTING_FILTERS else Config.filter))
        self.protects = QLabel()  # what the chosen filter protects against, in plain words
        self.protects.setWordWrap(True)
        self._show_protects()
        self.filter.currentIndexChanged.connect(lambda i: self._pick_filter(app, self.filter.itemData(i)))
        self.source = QComboBox()
        for label, spec in source_choices(ctl.cfg.source):
            self.source.addItem(label, spec)
        self.source.setCurrentIndex(self.source.findData(ctl.cfg.source))
        self.source.activated.connect(lambda i: app.set_source(self.source.itemData(i)))
        self.vcam = QComboBox()
        for label, spec in vcam_choices(ctl.cfg.vcam_device):
            self.vcam.addItem(label, spec)
        self.vcam.setCurrentIndex(self.vcam.findData(ctl.cfg.vcam_device))
        self.vcam.activated.connect(lambda i: app.set_vcam_device(self.vcam.itemData(i)))
        form.addRow(self.protect)
        strength_row = QHBoxLayout()
        strength_row.addWidget(self.strength)
        strength_row.addWidget(self.strength_value)
        form.addRow("Strength", strength_row)
        form.addRow(self.auto_strength)
        form.addRow("Filter", self.filter)
        form.addRow(self.protects)
        self.new_face = QPushButton(NEW_FACE_LABEL)
        self.new_face.clicked.connect(ctl.new_face)
        form.addRow(self.new_face)
        keys = QHBoxLayout()
        for label, action in ((NEW_KEY_LABEL, app.new_key), (KEY_FILE_LABEL, app.pick_key)):
            button = QPushButton(label)
            button.clicked.connect(action)
            keys.addWidget(button)
        form.addRow(keys)
        self.pulse = QComboBox()
        for label, mode in pulse_choices(ctl.cfg.target_hr):
            self.pulse.addItem(label, mode)
        self.pulse.setCurrentIndex(self.pulse.findData(ctl.cfg.pulse))
        self.pulse.activated.connect(lambda i: ctl.set_pulse(self.pulse.itemData(i)))
        form.addRow(self.pulse)
        form.addRow("Camera", self.source)
        form.addRow("Virtual camera", self.vcam)
        monitors = QPushButton("Open monitors")
        monitors.clicked.connect(app.show_monitors)
        quit_button = QPushButton("Quit")
        quit_button.clicked.connect(app.quit)
        self.state = QLabel()
        self.message = QLabel()
        self.message.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.state)
        layout.addLayout(form)
        layout.addWidget(monitors)
        layout.addWidget(self.message)
        layout.addWidget(quit_button)

    def _pick_filter(self, app: TrayApp, name: str) -> None:
        app.set_filter(name)
        self._show_protects()

    def _show_protects(self) -> None:
        self.protects.setText(f"<small>{FILTERS[self.filter.currentData()].protects}</small>")

    def show_state(self, state: str) -> None:
        self.state.setText(f"<b style='color:{STATE_COLOURS[state]}'>&#9679;</b> {state}")
        self.setWindowIcon(state_icon(state))


class TrayApp:
    """Wires the controller to a tray icon (or the fallback window) and the monitors window."""

    def __init__(self, controller: EngineController, use_tray: bool | None = None) -> None:
        self.controller = controller
        self.app = qt_application()
        self.app.setQuitOnLastWindowClosed(False)
        self.monitors = MonitorWindow()
        self.use_tray = QSystemTrayIcon.isSystemTrayAvailable() if use_tray is None else use_tray
        self.tray: QSystemTrayIcon | None = None
        self.window: ControlWindow | None = None
        self.messages: list[str] = []
        self.state = controller.state
        self.last_second: dict | None = None  # the last per-second record, for the tooltip
        if self.use_tray:
            self._build_tray()
        else:
            self.window = ControlWindow(self)
            self.window.show()
        self.first_run: FirstRunChoice | None = None
        if not controller.has_saved_settings():
            self.first_run = FirstRunChoice(self.set_filter)
            self.first_run.show()
        controller.state_changed.connect(self._on_state)
        controller.error.connect(self._notify)
        controller.second.connect(self.monitors.update_record)
        controller.second.connect(self._on_second)
        controller.preview.connect(self.monitors.update_preview)
        self._on_state(controller.state)

    # -- tray menu -----------------------------------------------------------------------
    def _build_tray(self) -> None:
        ctl = self.controller
        self.tray = QSystemTrayIcon(state_icon(ctl.state))
        menu = QMenu()
        self.protect_action = QAction("Protect my identity", menu, checkable=True, checked=ctl.protecting)
        self.protect_action.toggled.connect(self.set_protection)
        menu.addAction(self.protect_action)
        strength = menu.addMenu("Strength")
        group = QActionGroup(strength)
        for label, value in STRENGTH_PRESETS:
            action = QAction(label, strength, checkable=True, checked=abs(ctl.cfg.strength - value) < 1e-6)
            action.triggered.connect(lambda _=False, v=value: self.set_strength(v))
            group.addAction(action)
            strength.addAction(action)
        strength.addSeparator()
        self.auto_action = QAction(AUTO_STRENGTH_LABEL, strength, checkable=True, checked=ctl.cfg.auto_strength, enabled=ctl.cfg.monitors)
        self.auto_action.toggled.connect(self.set_auto_strength)
        strength.addAction(self.auto_action)
        self._choice_menu(menu, "Filter", [(FILTERS[f].label, f) for f in PROTECTING_FILTERS], ctl.cfg.filter, self.set_filter)
        menu.addAction(NEW_FACE_LABEL, self.controller.new_face)
        menu.addAction(NEW_KEY_LABEL, self.new_key)
        menu.addAction(KEY_FILE_LABEL, self.pick_key)
        self._choice_menu(menu, "Heart rate", pulse_choices(ctl.cfg.target_hr), ctl.cfg.pulse, self.controller.set_pulse)
        self._choice_menu(menu, "Camera", source_choices(ctl.cfg.source), ctl.cfg.source, self.set_source)
        self._choice_menu(menu, "Virtual camera", vcam_choices(ctl.cfg.vcam_device), ctl.cfg.vcam_device, self.set_vcam_device)
        menu.addSeparator()
        menu.addAction("Open monitors", self.show_monitors)
        menu.addAction("Quit", self.quit)
        self.menu = menu
        self.tray.setContextMenu(menu)
        self.tray.show()

    def _choice_menu(self, parent: QMenu, title: str, items: list[tuple[str, str]], current: str, on_pick) -> QMenu:
        sub = parent.addMenu(title)
        group = QActionGroup(sub)
        for label, value in items:
            action = QAction(label, sub, checkable=True, checked=value == current)
            action.triggered.connect(lambda _=False, v=value: on_pick(v))
            group.addAction(action)
            sub.addAction(action)
        return sub

    # -- actions -------------------------------------------------------------------------
    def set_protection(self, on: bool) -> None:
        self.controller.set_protection(on)

    def set_strength(self, strength: float) -> None:
        self.controller.set_strength(strength)

    def set_auto_strength(self, on: bool) -> None:
        self.controller.set_auto_strength(on)

    def set_filter(self, name: str) -> None:
        self.controller.set_filter(name)
        if self.window is not None and self.window.filter.currentData() != name:
            self.window.filter.setCurrentIndex(self.window.filter.findData(name))

    def new_key(self) -> None:
        """Protect with a new key (restorable); say where it is and that it must be kept."""
        self._use_key(None)

    def pick_key(self) -> None:
        """Protect with a key file the user picks (restorable)."""
        folder = config_mod.default_key_path(self.controller.config_path).parent
        path, _ = QFileDialog.getOpenFileName(None, "Key file", str(folder), "deid-vcam keys (*.key);;All files (*)")
        if path:
            self._use_key(Path(path))

    def _use_key(self, path: Path | None) -> None:
        try:
            used = self.controller.use_key(path)
        except VcamError as exc:
            self._notify(str(exc))
            return
        self.set_filter(self.controller.cfg.filter)
        self._notify(
            f"Protecting with key {used}: keep a copy somewhere safe. Restore a recording with: vcam-restore --key-file {used} --in CALL.mp4 --out RESTORED.mp4"
        )

    def set_source(self, spec: str) -> None:
        self.controller.set_source(spec)

    def set_vcam_device(self, device: str) -> None:
        self.controller.set_vcam_device(device)

    def show_monitors(self) -> None:
        self.monitors.show()
        self.monitors.raise_()

    def quit(self) -> None:
        self.controller.stop()
        self.monitors.close()
        if self.window:
            self.window.close()
        if self.tray:
            self.tray.hide()
        self.app.quit()

    # -- feedback ------------------------------------------------------------------------
    def _on_state(self, state: str) -> None:
        self.state = state
        if self.tray:
            self.tray.setIcon(state_icon(state))
            self.tray.setToolTip(tooltip(state, self.last_second))
        if self.window:
            self.window.show_state(state)

    def _on_second(self, record: dict) -> None:
        self.last_second = record
        if self.tray:
            self.tray.setToolTip(tooltip(self.state, record))

    def _notify(self, message: str) -> None:
        self.messages.append(message)
        if self.tray:
            self.tray.showMessage("deid-vcam", message, QSystemTrayIcon.MessageIcon.Warning, 8000)
        if self.window:
            self.window.message.setText(message)


class QuitOnSignal:
    """A stop signal (SIGINT, SIGTERM, SIGHUP) quits the app as its Quit item does: the engine
    stops and its outputs are finalised. Qt's loop is woken every ``POLL_MS`` so Python sees it."""

    POLL_MS = 200

    def __init__(self, tray: TrayApp) -> None:
        self.tray = tray
        self.timer = QTimer()
        self.timer.timeout.connect(lambda: None)
        self.timer.start(self.POLL_MS)

    def stop(self, now: bool = False) -> None:
        QTimer.singleShot(0, self.tray.quit)


def main(argv: list[str] | None = None) -> int:
    with StopSignals() as signals:
        code = guarded("vcam-tray", lambda: _main(argv, signals))
    return signals.exit_code or code


def _main(argv: list[str] | None, signals: StopSignals) -> int:
    ap = Parser(prog="vcam-tray", description=__doc__.splitlines()[0])
    ap.add_argument("--config", type=Path, help="config file (default: the user config dir's deid-vcam/config.toml)")
    ap.add_argument("--source", help="override the camera for this session (not saved)")
    ap.add_argument("--sink", help="override the output for this session, e.g. preview (not saved)")
    ap.add_argument("--install-desktop-entry", action="store_true", help="add deid-vcam to the desktop's application menu, then exit")
    ap.add_argument("--autostart", action="store_true", help="with --install-desktop-entry: also start it at login")
    args = ap.parse_args(argv)
    if args.install_desktop_entry:
        for path in install_desktop_entry(icon_png(), args.autostart):
            print(f"wrote {path}")
        return 0
    if args.autostart:
        ap.error("--autostart goes with --install-desktop-entry")
    overrides = {k: v for k, v in {"source": args.source, "sink": args.sink}.items() if v is not None}
    if problem := missing_display():
        print(f"vcam-tray: error: {problem}", file=sys.stderr)
        return 2
    quiet_native_logs()  # native libraries' chatter (VCAM_DEBUG=1 keeps it)
    cfg: Config = resolve(overrides, args.config)
    saved = resolve({}, args.config)
    signals.defer()
    controller = EngineController(cfg, args.config, session_only={k: getattr(saved, k) for k in overrides})
    tray = TrayApp(controller)
    signals.attach(QuitOnSignal(tray))
    controller.start()
    return tray.app.exec()


if __name__ == "__main__":
    sys.exit(main())
