"""Preview sink: a Qt window showing the outgoing frames (needs a display or
``QT_QPA_PLATFORM=offscreen``). Must be fed from the thread that created it."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import cast

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent, QImage, QPixmap
from PySide6.QtWidgets import QApplication, QLabel

from vcam.engine.errors import SinkError
from vcam.engine.video.sinks import Sink


def has_display() -> bool:
    """False on Linux without X11/Wayland (where Qt would abort) unless a QPA platform is set."""
    return not sys.platform.startswith("linux") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.environ.get("QT_QPA_PLATFORM"))


def missing_display() -> str | None:
    """Why Qt could not open a window here (Linux without an X11 or Wayland display and no other
    platform asked for in QT_QPA_PLATFORM), or None."""
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if not sys.platform.startswith("linux") or (platform and platform.split(":")[0] not in ("xcb", "wayland")):
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    return "no display to show windows on (DISPLAY and WAYLAND_DISPLAY are unset): start it in your desktop session, or use vcam-run"


def qt_application() -> QApplication:
    """The process's QApplication. A Qt build of OpenCV (opencv-python, if installed beside ours) points
    ``QT_QPA_PLATFORM_PLUGIN_PATH`` at its own Qt plugins on import, which PySide6 cannot load
    (no xcb display then); that setting is dropped first."""
    plugin_path = os.environ.get("QT_QPA_PLATFORM_PLUGIN_PATH", "")
    if "cv2" in Path(plugin_path).parts:
        del os.environ["QT_QPA_PLATFORM_PLUGIN_PATH"]
    return cast(QApplication, QApplication.instance()) or QApplication([])


class FrameLabel(QLabel):
    """Shows frames scaled to the window; reports the user closing it."""

    def __init__(self, on_close: Callable[[], None] | None = None) -> None:
        super().__init__()
        self._on_close = on_close
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(320, 180)

    def show_frame(self, image: np.ndarray) -> None:
        """Display a uint8 (H, W, 3) RGB frame."""
        h, w = image.shape[:2]
        qimg = QImage(image.data, w, h, 3 * w, QImage.Format.Format_RGB888)
        self.setPixmap(QPixmap.fromImage(qimg).scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio))

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        if self._on_close:
            self._on_close()
        super().closeEvent(event)


class PreviewSink(Sink):
    """A window with the current output frame; closing it calls ``on_close``."""

    name = "preview"

    def __init__(self, title: str = "deid-vcam preview", on_close: Callable[[], None] | None = None) -> None:
        if not has_display():
            raise SinkError("preview needs a display (DISPLAY is not set): use --sink out.mp4, or set QT_QPA_PLATFORM=offscreen")
        self.app = qt_application()
        self.label = FrameLabel(on_close)
        self.label.setWindowTitle(title)
        self.label.show()
        self.frames = 0

    def send(self, image: np.ndarray) -> None:
        self.label.show_frame(image)
        self.frames += 1
        self.app.processEvents()

    def close(self) -> None:
        self.label.close()
        self.app.processEvents()
