"""Linux set-up from the installed package: the systemd user unit and the desktop entry name
executables that exist, and the commands write where the XDG directories say."""

import os
import shlex
import subprocess
import sys

import cv2
import numpy as np

from vcam.app.linux_setup import desktop_entry, icon_png, install_desktop_entry, service_unit, setup_linux


def _exec_line(text: str, key: str) -> list[str]:
    (line,) = [line for line in text.splitlines() if line.startswith(key + "=")]
    return shlex.split(line.split("=", 1)[1])


def test_the_unit_and_the_entry_start_programs_of_this_installation() -> None:
    run = _exec_line(service_unit(), "ExecStart")
    tray = _exec_line(desktop_entry(), "Exec")
    assert os.access(run[0], os.X_OK) and run[-2:] == ["virtualcam", "--quiet"]
    assert os.access(tray[0], os.X_OK)
    icon = cv2.imdecode(np.frombuffer(icon_png(), np.uint8), cv2.IMREAD_UNCHANGED)
    assert icon.shape == (64, 64, 4) and icon[0, 0, 3] == 0 and icon[32, 32, 3] == 255  # a circle on transparency


def test_setup_writes_the_unit_and_says_what_root_must_run(tmp_path) -> None:
    text = setup_linux(tmp_path)
    unit = tmp_path / "systemd" / "user" / "deid-vcam.service"
    assert unit.read_text() == service_unit()
    assert "sudo tee /etc/modprobe.d/deid-vcam.conf" in text and "exclusive_caps=1" in text and "systemctl --user enable --now deid-vcam" in text
    files = install_desktop_entry(b"png", autostart=True, data_home=tmp_path / "data", config_home=tmp_path / "config")
    assert [p.relative_to(tmp_path).as_posix() for p in files] == [
        "data/applications/deid-vcam.desktop",
        "data/icons/hicolor/64x64/apps/deid-vcam.png",
        "config/autostart/deid-vcam.desktop",
    ]


def test_the_commands_write_where_xdg_says_and_refuse_a_lone_autostart(tmp_path) -> None:
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_DATA_HOME": str(tmp_path / "data")}
    res = subprocess.run([sys.executable, "-m", "vcam.app.run_cli", "--setup-linux"], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0 and (tmp_path / "config" / "systemd" / "user" / "deid-vcam.service").is_file(), res.stderr
    res = subprocess.run([sys.executable, "-m", "vcam.app.tray", "--install-desktop-entry"], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0 and (tmp_path / "data" / "applications" / "deid-vcam.desktop").is_file(), res.stderr
    assert not (tmp_path / "config" / "autostart").exists()
    res = subprocess.run([sys.executable, "-m", "vcam.app.tray", "--autostart"], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "--autostart goes with --install-desktop-entry" in res.stderr
