"""The live monitors window: is the pulse surviving, is the identity gone?

* pulse: the last 10 s of the POS pulse of the raw and of the protected stream, overlaid;
  HR raw vs protected with a warm-up indicator and a signal-quality badge (HRs are greyed while
  warming up or when quality is low);
* identity: the distance of the outgoing face to the enrolled face, by a recogniser the active
  filter never used (it is not graded by the networks it attacks), as a gauge against that
  recogniser's threshold (match below it), plus its history, and which recognisers would still
  match it; the gauge is red when an unseen recogniser matches, amber when only one the filter
  attacks does, green when none does;
* stream: idle (no app shows the virtual camera), fps, latency, the filter's strength (marked
  "auto" when auto strength raised it), backend, dropped and fallback frames; optional
  side-by-side preview.

``update(record)`` takes the controller's per-second record; redraws are cheap (pyqtgraph
``setData`` on existing curves).
"""

from __future__ import annotations

from collections import deque

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QCheckBox, QGridLayout, QGroupBox, QHBoxLayout, QLabel, QProgressBar, QVBoxLayout, QWidget

from .preview import FrameLabel
from .status import matched_by

HISTORY_S = 120
LOW_QUALITY = 0.5
GAUGE_MAX = 1.2  # dlib distances above this are all "clearly someone else"


def _badge(quality: float | None) -> tuple[str, str]:
    """(text, colour) of a quality in [0, 1] (None while warming up)."""
    if quality is None:
        return "warming up", "#888"
    if quality >= 0.8:
        return f"good ({quality:.0%})", "#2a2"
    if quality >= LOW_QUALITY:
        return f"fair ({quality:.0%})", "#c90"
    return f"low ({quality:.0%})", "#c33"


def _identity_colour(matches: dict[str, bool], unseen: list[str]) -> str:
    """Gauge colour: red if an unseen recogniser (the gauge's) matches, amber if only another does, else green."""
    if any(matches.get(n) for n in unseen):
        return "#c33"
    return "#c90" if any(matches.values()) else "#2a2"


def identity_verdict(matches: dict[str, bool], unseen: list[str]) -> str:
    """The identity line in plain words, naming the unseen recognisers first."""
    by = matched_by(matches)
    if by:
        return f"RECOGNISABLE: {by} would match you"
    judges = ", ".join(unseen)
    others = ", ".join(n for n in matches if n not in unseen)
    return (f"not recognisable as you by {judges} (never used by this filter)" if judges else "not recognisable as you") + (
        f"; {others} (attacked by it) do not match either" if others else ""
    )


def hidden_from(matches: dict[str, bool]) -> str:
    """The verdict in one line: "Hidden from 3 of 3 recognisers" (those that would not match you)."""
    hidden = sum(not hit for hit in matches.values())
    return f"Hidden from {hidden} of {len(matches)} recognisers"


def tooltip(state: str, r: dict | None) -> str:
    """The tray icon's tooltip: the state, then the identity verdict and the heart rates of the last second."""
    lines = [f"deid-vcam: {state}"]
    if r and r.get("identity_matches"):
        lines.append(hidden_from(r["identity_matches"]))
    if r and not r.get("rppg_warming_up", True) and r.get("hr_protected_bpm") is not None:
        lines.append(f"heart rate sent: {r['hr_protected_bpm']:.0f} bpm (yours: {r.get('hr_raw_bpm') or 0:.0f})")
    return "\n".join(lines)


def difference_view(raw: np.ndarray, out: np.ndarray, gain: float = 4.0) -> np.ndarray:
    """What the protection changed, made visible: |out - raw| of each pixel, ``gain`` times brighter."""
    diff = np.abs(out.astype(np.int16) - raw.astype(np.int16)) * gain
    return np.clip(diff, 0, 255).astype(np.uint8)


class MonitorWindow(QWidget):
    def __init__(self, with_preview: bool = True) -> None:
        super().__init__()
        self.setWindowTitle("deid-vcam monitors")
        text = self.palette().color(QPalette.ColorRole.WindowText)
        pg.setConfigOptions(antialias=False, background=None, foreground=text)  # the desktop theme's colours
        layout = QVBoxLayout(self)

        pulse_box = QGroupBox("Pulse (POS): raw vs protected")
        pulse = QVBoxLayout(pulse_box)
        self.bvp_plot = pg.PlotWidget()
        self.bvp_plot.setMinimumHeight(150)
        self.bvp_plot.addLegend(offset=(5, 5))
        self.bvp_raw = self.bvp_plot.plot(pen=pg.mkPen("#1f77b4", width=2), name="yours (camera)")
        self.bvp_prot = self.bvp_plot.plot(pen=pg.mkPen("#ff7f0e", width=2), name="sent")
        self.bvp_plot.setLabel("bottom", "s")
        pulse.addWidget(self.bvp_plot)
        hr_row = QHBoxLayout()
        self.hr_raw = QLabel("yours -- bpm")
        self.hr_prot = QLabel("sent -- bpm")
        self.quality = QLabel()
        for w in (self.hr_raw, self.hr_prot):
            w.setStyleSheet("font-size: 20px; font-weight: bold")
        hr_row.addWidget(self.hr_raw)
        hr_row.addWidget(self.hr_prot)
        hr_row.addWidget(self.quality)
        pulse.addLayout(hr_row)
        layout.addWidget(pulse_box)

        id_box = QGroupBox("Identity: would face recognisers know the outgoing face is you?")
        ident = QVBoxLayout(id_box)
        self.verdict = QLabel("enrolling...")  # "Hidden from N of M recognisers", big
        self.verdict.setStyleSheet("font-size: 22px; font-weight: bold")
        ident.addWidget(self.verdict)
        self.gauge = QProgressBar()
        self.gauge.setRange(0, int(GAUGE_MAX * 100))
        self.gauge.setTextVisible(True)
        self.id_label = QLabel("enrolling...")
        self.id_plot = pg.PlotWidget()
        self.id_plot.setMinimumHeight(110)
        self.id_plot.setYRange(0, GAUGE_MAX)
        self.id_curve = self.id_plot.plot(pen=pg.mkPen("#444", width=2))
        self.threshold_line = pg.InfiniteLine(angle=0, pen=pg.mkPen("#c33", style=Qt.PenStyle.DashLine), label="match below")
        self.id_plot.addItem(self.threshold_line)
        ident.addWidget(self.gauge)
        ident.addWidget(self.id_label)
        ident.addWidget(self.id_plot)
        layout.addWidget(id_box)

        self.stats = QLabel("waiting for the camera...")
        layout.addWidget(self.stats)
        self.preview_raw = self.preview_out = None
        self.show_changes = QCheckBox("Show what changed (the difference, 4x brighter)")
        if with_preview:
            grid = QGridLayout()
            self.preview_raw, self.preview_out = FrameLabel(), FrameLabel()
            grid.addWidget(QLabel("camera"), 0, 0)
            grid.addWidget(QLabel("outgoing"), 0, 1)
            grid.addWidget(self.preview_raw, 1, 0)
            grid.addWidget(self.preview_out, 1, 1)
            grid.addWidget(self.show_changes, 2, 0, 1, 2)
            layout.addLayout(grid)
        self._id_t: deque[float] = deque(maxlen=HISTORY_S)
        self._id_d: deque[float] = deque(maxlen=HISTORY_S)
        self.updates = 0

    def update_record(self, r: dict) -> None:
        """Show one per-second record (see ``EngineController.second``)."""
        self.updates += 1
        raw, prot = r.get("bvp_raw"), r.get("bvp_protected")
        if raw is not None and prot is not None and len(raw):
            t = np.arange(len(raw)) / max(len(raw) / 10.0, 1.0)
            self.bvp_raw.setData(t, np.asarray(raw))
            self.bvp_prot.setData(t[: len(prot)], np.asarray(prot))
        warming = r.get("rppg_warming_up", True)
        q_raw, q_prot = r.get("rppg_quality_raw"), r.get("rppg_quality_protected")
        for label, name, hr, q in ((self.hr_raw, "yours", r.get("hr_raw_bpm"), q_raw), (self.hr_prot, "sent", r.get("hr_protected_bpm"), q_prot)):
            label.setText(f"{name} {'--' if hr is None or warming else f'{hr:.0f}'} bpm")
            dim = warming or hr is None or q is None or q < LOW_QUALITY
            label.setStyleSheet(f"font-size: 20px; font-weight: bold; color: {'#999' if dim else 'palette(window-text)'}")
        text, colour = _badge(None if warming else q_prot)
        self.quality.setText(f"signal: {text}")
        self.quality.setStyleSheet(f"color: white; background: {colour}; border-radius: 4px; padding: 2px 6px")

        threshold = float(r.get("identity_threshold") or 0.6)
        self.threshold_line.setValue(threshold)
        dist = r.get("identity_distance")
        if dist is None:
            self.id_label.setText("enrolling your face (first seconds, raw frames only)...")
        else:
            matches = r.get("identity_matches") or {"dlib": dist < threshold}
            unseen = r.get("identity_unseen") or []
            self.gauge.setValue(int(min(dist, GAUGE_MAX) * 100))
            self.gauge.setFormat(f"distance {dist:.2f}  (threshold {threshold:.2f})")
            self.gauge.setStyleSheet(f"QProgressBar::chunk {{ background: {_identity_colour(matches, unseen)}; }}")
            self.id_label.setText(identity_verdict(matches, unseen))
            self.verdict.setText(hidden_from(matches))
            self.verdict.setStyleSheet(f"font-size: 22px; font-weight: bold; color: {_identity_colour(matches, unseen)}")
            self._id_t.append(float(r.get("t", len(self._id_t))))
            self._id_d.append(float(dist))
            self.id_curve.setData(np.array(self._id_t), np.array(self._id_d))
        lat = r.get("p50_latency_ms")
        strength = r.get("strength")
        shown = "--" if strength is None else f"{strength:.2f}" + (" (auto)" if r.get("strength_raised") else "")
        idle = "idle: no app shows the virtual camera | " if r.get("idle") else ""
        self.stats.setText(
            f"{idle}{r.get('fps', 0):.1f} fps | latency {'--' if lat is None else f'{lat:.0f}'} ms | strength {shown} | "
            f"backend {r.get('backend', '-')} | dropped {r.get('dropped_frames', 0)} | fallback frames {r.get('fallback_frames', 0)}/s"
        )

    def update_preview(self, raw: np.ndarray, out: np.ndarray) -> None:
        if self.preview_raw is not None and self.preview_out is not None and self.isVisible():
            self.preview_raw.show_frame(raw)
            self.preview_out.show_frame(difference_view(raw, out) if self.show_changes.isChecked() else out)
