"""Linux set-up from the installed package: the v4l2loopback device (``vcam-run --setup-linux``
prints the root commands and installs the systemd user unit) and the desktop entry of the tray
app (``vcam-tray --install-desktop-entry``). Every path written points at the executables of this
installation, so a unit or an entry never names a program that is not there."""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np
import platformdirs

APP_ID = "deid-vcam"
MODPROBE_OPTIONS = 'options v4l2loopback devices=1 video_nr=10 card_label="deid-vcam" exclusive_caps=1 max_buffers=2\n'
MODULES_LOAD = "v4l2loopback\n"


def command(name: str) -> list[str]:
    """How to start ``name`` (``vcam-run``, ``vcam-tray``) of this installation: its script beside
    this interpreter, else on PATH, else this interpreter running its module."""
    script = Path(sys.executable).with_name(name)
    if script.is_file():
        return [str(script)]
    if found := shutil.which(name):
        return [found]
    return [sys.executable, "-m", {"vcam-run": "vcam.app.run_cli", "vcam-tray": "vcam.app.tray"}[name]]


def service_unit() -> str:
    """The systemd user unit that runs the protected virtual camera from login, with the settings file."""
    exec_start = shlex.join([*command("vcam-run"), "--sink", "virtualcam", "--quiet"])
    return (
        "[Unit]\nDescription=deid-vcam protected virtual camera\nAfter=graphical-session.target\n\n"
        f"[Service]\nExecStart={exec_start}\nRestart=on-failure\nRestartSec=5\n\n"
        "[Install]\nWantedBy=default.target\n"
    )


def setup_linux(config_home: Path | None = None) -> str:
    """Install the systemd user unit (under ``config_home``, default the user's config dir) and
    return what to run as root and then as the user, in order."""
    home = config_home or Path(platformdirs.user_config_path())
    unit = home / "systemd" / "user" / f"{APP_ID}.service"
    unit.parent.mkdir(parents=True, exist_ok=True)
    unit.write_text(service_unit(), encoding="utf-8")
    return "\n".join(
        [
            "# 1. The virtual camera device, once (as root): the module, its options, loaded at boot and now",
            "sudo apt install v4l2loopback-dkms v4l2loopback-utils   # Debian/Ubuntu; other distributions: their v4l2loopback package",
            f"echo {shlex.quote(MODPROBE_OPTIONS.strip())} | sudo tee /etc/modprobe.d/{APP_ID}.conf",
            f"echo {shlex.quote(MODULES_LOAD.strip())} | sudo tee /etc/modules-load.d/{APP_ID}.conf",
            "sudo modprobe v4l2loopback && sudo usermod -aG video $USER   # then log in again",
            "# 2. Start the protected camera at login (the unit is installed):",
            f"#    {unit}",
            f"systemctl --user daemon-reload && systemctl --user enable --now {APP_ID}",
            f"journalctl --user -u {APP_ID} -f   # its status and errors",
        ]
    )


def desktop_entry() -> str:
    """The tray app's .desktop entry (menus, and autostart when copied there)."""
    return (
        "[Desktop Entry]\nType=Application\nName=deid-vcam\nGenericName=Protected virtual camera\n"
        "Comment=Video calls without your identity, with your pulse\n"
        f"Exec={shlex.join(command('vcam-tray'))}\nIcon={APP_ID}\nTerminal=false\nCategories=AudioVideo;Video;\n"
    )


def icon_png(size: int = 64) -> bytes:
    """The app's icon (the tray's "protecting" circle) as a PNG with transparency."""
    icon = np.zeros((size, size, 4), np.uint8)
    cv2.circle(icon, (size // 2, size // 2), size // 2 - 4, (0x32, 0x7D, 0x2E, 255), -1, cv2.LINE_AA)  # BGRA of #2e7d32
    ok, png = cv2.imencode(".png", icon)
    assert ok
    return png.tobytes()


def install_desktop_entry(icon_png: bytes, autostart: bool = False, data_home: Path | None = None, config_home: Path | None = None) -> list[Path]:
    """Write the .desktop entry and its icon (and the autostart entry if asked); returns the files."""
    data = data_home or Path(platformdirs.user_data_path())
    files = {
        data / "applications" / f"{APP_ID}.desktop": desktop_entry().encode(),
        data / "icons" / "hicolor" / "64x64" / "apps" / f"{APP_ID}.png": icon_png,
    }
    if autostart:
        files[(config_home or Path(platformdirs.user_config_path())) / "autostart" / f"{APP_ID}.desktop"] = desktop_entry().encode()
    for path, content in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return list(files)
