"""The tray app's engine controller: runs the pipeline on a worker thread and talks to the UI
through Qt signals (delivered on the UI thread).

Protection on/off and the filter swap the pipeline's filter between frames; the strength is read
per frame; so the output changes within one frame and a raw face never gets out while protection
is on. If the chosen filter cannot be built (e.g. no model), protection stays on with the safe
pixelation fallback and the state is "degraded". Source or virtual-device changes restart the
pipeline. Every change is saved to the shared config file (the one ``vcam-run`` reads).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from vcam.engine.errors import VcamError
from vcam.engine.filters import OffFilter, PixelateFilter, clamp_strength
from vcam.engine.keyed.keys import create_key_file, load_key
from vcam.engine.pipeline import FrameResult, Pipeline

from . import config as config_mod
from .config import Config
from .identity_seed import new_seed
from .session import backend_info, build_pipeline, filter_for

STATES = ("off", "protecting", "idle", "degraded", "error")
PREVIEW_INTERVAL_S = 0.1


class EngineController(QObject):
    """Owns the pipeline. Signals: ``second(dict)`` (per-second metrics plus ``bvp_raw``,
    ``bvp_protected``, ``backend``), ``preview(raw, out)`` (uint8 RGB
    frames, <= 10 per second), ``state_changed(str)`` (one of ``STATES``), ``error(str)``."""

    second = Signal(dict)
    preview = Signal(object, object)
    state_changed = Signal(str)
    error = Signal(str)
    finished = Signal()

    def __init__(
        self, cfg: Config, config_path: Path | None = None, save: bool = True, frames: int | None = None, session_only: dict[str, Any] | None = None
    ) -> None:
        """``session_only``: {setting: value to save instead} for command-line overrides of this
        session (e.g. ``--source``), so they never end up in the shared config file."""
        super().__init__()
        self.cfg, self.config_path, self.save, self.frames = cfg, config_path, save, frames
        self._session_only: dict[str, Any] = dict(session_only or {})
        self.protecting = cfg.filter != "off"
        self.state = "off"
        self.pipe: Pipeline | None = None
        self._thread: threading.Thread | None = None
        self._degraded_reason: str | None = None
        self._last_preview = 0.0
        self._backend: dict[str, str] = {}

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        """Build and start the pipeline; a failure is reported through ``error`` and state."""
        self.stop()
        try:
            self.pipe = build_pipeline(self.cfg, self.frames, self._make_filter())
        except VcamError as exc:
            self._fail(str(exc))
            return
        self._thread = threading.Thread(target=self._run, args=(self.pipe,), name="vcam-engine", daemon=True)
        self._thread.start()
        self._set_state(self._protect_state())

    def stop(self, timeout: float = 10.0) -> None:
        pipe, thread = self.pipe, self._thread
        self.pipe, self._thread = None, None
        if pipe is not None:
            pipe.stop()
        if thread is not None:
            thread.join(timeout)
        if pipe is not None:
            pipe.close()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the current run to end (a file source or ``frames`` limit); True if it did."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def _run(self, pipe: Pipeline) -> None:
        try:
            pipe.run(max_frames=self.frames, on_second=self._on_second, on_frame=self._on_frame)
        except VcamError as exc:
            self._fail(str(exc))
        except Exception as exc:  # noqa: BLE001 - surfaced to the user, engine thread must not die silently
            self._fail(f"engine stopped: {type(exc).__name__}: {exc}")
        finally:
            self.finished.emit()

    # -- controls (UI thread) ------------------------------------------------------------
    def set_protection(self, on: bool) -> None:
        self.protecting = on
        if self.pipe is not None:
            self.pipe.set_filter(self._make_filter())
        self._set_state(self._protect_state())

    def set_strength(self, strength: float) -> None:
        self.cfg.strength = clamp_strength(strength)
        if self.pipe is not None:
            self.pipe.config.strength = self.cfg.strength
        self._save()

    def set_auto_strength(self, on: bool) -> None:
        """Let the identity monitor raise the strength above the set one (the pipeline reads the
        flag per second; turning it off drops the boost)."""
        self.cfg.auto_strength = on
        if self.pipe is not None:
            self.pipe.config.auto_strength = on
        self._save()

    def set_filter(self, name: str) -> None:
        self.cfg.filter = name
        self._save()
        self.set_protection(self.protecting)

    def use_key(self, path: Path | None = None) -> Path:
        """Protect with the keyed filter and the key in ``path`` (None: a new key in the ``keys``
        folder beside the config file); returns the key file. ``KeyFileError`` (nothing changed) if
        ``path`` is not a usable key file."""
        if path is None:
            path = config_mod.default_key_path(self.config_path)
            create_key_file(path)
        else:
            load_key(path)
        self.cfg.key_file = str(path)
        self.set_filter(config_mod.KEYED[0])
        return path

    def set_pulse(self, mode: str) -> None:
        """Keep, hide or replace (with the configured target) the heart rate in the outgoing video."""
        self.cfg.pulse = mode
        self._save()
        if self.pipe is not None:
            self.pipe.set_pulse(mode, self.cfg.target_hr)

    def new_face(self) -> None:
        """Draw and keep a new virtual person for ``anonymise`` (the setting goes back to "your own")."""
        new_seed()
        self.cfg.identity_seed = ""
        self._save()
        if self.cfg.filter == "anonymise":
            self.set_protection(self.protecting)

    def set_source(self, source: str) -> None:
        self.cfg.source = source
        self._session_only.pop("source", None)
        self._save()
        self.start()

    def set_vcam_device(self, device: str) -> None:
        self.cfg.vcam_device = device
        self._save()
        self.start()

    # -- internals -----------------------------------------------------------------------
    def _make_filter(self):
        self._degraded_reason = None
        self._backend = {}
        if not self.protecting:
            return OffFilter()
        try:
            f = filter_for(self.cfg, self.cfg.filter if self.cfg.filter != "off" else Config.filter)
        except VcamError as exc:
            self._degraded_reason = str(exc)
            self.error.emit(f"{exc} - pixelating instead")
            return PixelateFilter()
        self._backend = backend_info(f)
        return f

    def _protect_state(self) -> str:
        if not self.protecting:
            return "off"
        return "degraded" if self._degraded_reason else "protecting"

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.state_changed.emit(state)

    def _fail(self, message: str) -> None:
        self._set_state("error")
        self.error.emit(message)

    def has_saved_settings(self) -> bool:
        """True once the user has saved settings (or when settings are not saved at all)."""
        return not self.save or (self.config_path or config_mod.default_config_path()).exists()

    def _save(self) -> None:
        if self.save:
            config_mod.save(dataclasses.replace(self.cfg, **self._session_only), self.config_path)

    def _on_second(self, record: dict) -> None:
        pipe = self.pipe
        reading = pipe.last_rppg if pipe is not None else None
        record = {
            **record,
            **self._backend,
            "strength_raised": record.get("strength", self.cfg.strength) > self.cfg.strength + 1e-6,
            "bvp_raw": getattr(reading, "bvp_raw", None),
            "bvp_protected": getattr(reading, "bvp_protected", None),
        }
        if self.protecting:
            if record.get("fallback_frames") or self._degraded_reason:
                self._set_state("degraded")
            else:
                self._set_state("idle" if record.get("idle") else "protecting")
        self.second.emit(record)

    def _on_frame(self, result: FrameResult) -> None:
        now = time.monotonic()
        if now - self._last_preview >= PREVIEW_INTERVAL_S:
            self._last_preview = now
            self.preview.emit(result.frame.image, result.output)
