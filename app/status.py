"""The one-line live status of ``vcam-run`` (stderr; redrawn in place on a terminal, one line
every 5 s otherwise)."""

from __future__ import annotations

import sys
from typing import TextIO


def _num(value: float | None, fmt: str = "{:.0f}") -> str:
    return "--" if value is None else fmt.format(value)


def matched_by(matches: dict[str, bool] | None) -> str:
    """ "dlib, sface" for the recognisers that would match the outgoing face, "" for none."""
    return ", ".join(name for name, hit in (matches or {}).items() if hit)


def progress(r: dict, total: int | None) -> str:
    """ "frame 120/450 (27 %, 0:11 left) | " for a source of ``total`` frames, "" for a live one."""
    if not total:
        return ""
    done = min(r.get("frames", 0), total)
    left = (total - done) / r["fps"] if r.get("fps") else None
    eta = "--" if left is None else f"{int(left) // 60}:{int(left) % 60:02d}"
    return f"frame {done}/{total} ({100 * done // total} %, {eta} left) | "


def format_status(r: dict, auto_strength: bool = False, total: int | None = None) -> str:
    """One status line from a per-second metrics record (with the strength if ``auto_strength``,
    and the progress through a source of ``total`` frames)."""
    if r.get("source_lost"):
        return f"{r['fps']:5.1f} fps | camera lost ({r['source_lost']}): black frames, retrying every second"
    if r.get("idle"):
        return f"{r['fps']:5.1f} fps | idle: no app shows the virtual camera (black frames, no processing)"
    hr = "warming up" if r.get("rppg_warming_up") else f"{_num(r.get('hr_raw_bpm'))}/{_num(r.get('hr_protected_bpm'))} bpm"
    dist = r.get("identity_distance")
    by = matched_by(r.get("identity_matches"))
    judge = ", ".join(r.get("identity_unseen") or [])
    ident = "enrolling" if dist is None else f"{dist:.2f}{f' [{judge}: unseen]' if judge else ''} ({f'MATCH: {by}' if by else 'no match'})"
    auto = f" | strength {r['strength']:.2f} (auto)" if auto_strength else ""
    return (
        f"{progress(r, total)}{r['fps']:5.1f} fps | latency {_num(r.get('p50_latency_ms'))} ms | HR raw/protected {hr} | "
        f"identity distance {ident}{auto} | dropped {r.get('dropped_frames', 0)}"
    )


class StatusLine:
    def __init__(self, enabled: bool = True, stream: TextIO | None = None, auto_strength: bool = False, total: int | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled, self.auto_strength, self.total = enabled, auto_strength, total
        self.tty = self.stream.isatty()
        self._count = 0

    def update(self, record: dict) -> None:
        if not self.enabled:
            return
        self._count += 1
        if self.tty:
            self.stream.write("\r\x1b[2K" + format_status(record, self.auto_strength, self.total))
            self.stream.flush()
        elif self._count % 5 == 0:
            print(format_status(record, self.auto_strength, self.total), file=self.stream)

    def finish(self) -> None:
        if self.enabled and self.tty and self._count:
            self.stream.write("\n")

    @staticmethod
    def summary_line(s: dict) -> str:
        by = s.get("identity_match_rate_by") or {}
        unseen = set(s.get("identity_unseen_recognisers") or [])
        per = f" ({', '.join(n + (' [unseen]' if n in unseen else '') + f' {v:.0%}' for n, v in by.items())})" if by else ""
        return (
            f"done: {s['frames']} frames, {s['fps']:.1f} fps, p95 latency {s['p95_latency_ms']:.0f} ms, "
            f"HR raw/protected {_num(s.get('hr_raw_bpm'), '{:.1f}')}/{_num(s.get('hr_protected_bpm'), '{:.1f}')} bpm, "
            f"identity match rate, unseen recognisers {_num(s.get('identity_match_rate_unseen'), '{:.0%}')}, "
            f"any {_num(s.get('identity_match_rate'), '{:.0%}')}{per}, "
            f"dropped {s['dropped_frames']}"
            + (f", strength {s['strength']:.2f} to {s['strength_max']:.2f} (auto)" if s.get("auto_strength") and s.get("strength_max") else "")
            + (f", backend {s['backend']}" if s.get("backend") else "")
        )
