"""``vcam-run``: the headless protected camera / offline batch tool.

    vcam-run --source demo --sink out/demo.mp4 --filter blur --frames 300 --json out/demo.json
    vcam-run --source 0 --sink virtualcam                 # webcam -> virtual webcam
    vcam-run --source talk.mp4 --sink talk_protected.mp4  # whole file, as fast as possible

Bad input prints one ``vcam-run: error: ...`` line and exits 2 before any frame is processed;
nothing is overwritten by a refused run (a sink that is the source is refused). SIGINT, SIGTERM and
SIGHUP stop cleanly (a second one sooner): the video is finalised, the JSON Lines record ends with
the summary, and the exit code is 128 + the signal. The video (fragmented MP4) and the JSON Lines
record stay readable up to the moment even after SIGKILL. A file source that ends before its
length (truncated, decode errors) exits 3 unless ``--allow-partial``.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from vcam.engine.errors import VcamError
from vcam.engine.keyed.keys import load_key
from vcam.engine.video import devices

from .cli import Parser, StopSignals, guarded, quiet_native_logs
from .config import Config, add_options, resolve, values_of
from .linux_setup import setup_linux
from .status import StatusLine

if TYPE_CHECKING:
    from vcam.engine.pipeline import Pipeline

PARTIAL_EXIT = 3


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="vcam-run", description="De-identify faces in a video stream while keeping the rPPG pulse.")
    a = p.add_argument
    add_options(p)
    a("--frames", type=int, help="stop after N frames")
    a("--json", type=Path, help="write the config, per-second metrics and the summary to this file (JSON Lines, as the run goes)")
    a("--allow-partial", action="store_true", help="exit 0 even if a file source ends before its length (truncated or undecodable frames)")
    a("--config", type=Path, help="config file (default: the user config dir's deid-vcam/config.toml)")
    a("--print-config", action="store_true", help="print the effective config as TOML and exit")
    a("--list-devices", action="store_true", help="list the cameras and virtual cameras of this machine and exit")
    a("--setup-linux", action="store_true", help="install the systemd user unit (start at login) and print the v4l2loopback set-up, then exit")
    a("--quiet", action="store_true", help="no live status line")
    a("--debug", action="store_true", help="log tracebacks of errors")
    return p


def _same_file(a: str | Path, b: str | Path) -> bool:
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


def check_outputs(cfg: Config, json_path: Path | None) -> None:
    """Refuse, before anything is opened, outputs that would overwrite the input or each other."""
    if Path(cfg.source).is_file() and _same_file(cfg.source, cfg.sink):
        raise VcamError(f"--sink {cfg.sink} is the source video: it would be overwritten; write to another file")
    for other in (cfg.source, cfg.sink):
        if json_path is not None and Path(other).suffix and _same_file(json_path, other):
            raise VcamError(f"--json {json_path} is also the {'source' if other == cfg.source else 'sink'}; name another file")


def run(cfg: Config, frames: int | None, json_path: Path | None, quiet: bool, signals: StopSignals, allow_partial: bool = False) -> int:
    """Build the pipeline from ``cfg`` and run it; returns the exit code."""
    from .run_log import RunLog  # the runtime loads from here on: --help and bad settings stay quick
    from .session import backend_info, build_pipeline

    if frames is not None and frames < 1:
        raise VcamError("--frames must be >= 1")
    check_outputs(cfg, json_path)
    if cfg.key_file:
        load_key(Path(cfg.key_file).expanduser())  # a missing or open key file is refused before any device opens
    if json_path is not None:
        RunLog.check(json_path)
    pipe: Pipeline | None = None
    signals.defer()  # outputs open from here: a signal must let them be finalised
    pipe = build_pipeline(cfg, frames, on_preview_close=lambda: pipe.stop() if pipe else None)
    signals.attach(pipe)
    expected = getattr(pipe.source, "frame_count", 0) or 0  # a file's length; 0 for a live source
    expected = min(expected, frames) if frames else expected
    status = StatusLine(enabled=not quiet, auto_strength=cfg.auto_strength, total=expected or frames)
    if (info := backend_info(pipe.filter)) and not quiet:
        print(f"vcam-run: model on {info['backend']} ({info['backend_reason']})", file=sys.stderr)
    log = RunLog(json_path) if json_path is not None else None
    try:
        if log:
            log.write("config", dataclasses.asdict(cfg))

        def on_second(record: dict) -> None:
            status.update(record)
            if log:
                log.write("second", record)

        with pipe:
            try:
                summary = pipe.run(max_frames=frames, on_second=on_second)
            finally:
                signals.attach(None)
                status.finish()
            summary.update(backend_info(pipe.filter))
        partial = signals.signum is None and 0 < summary["frames"] < expected
        summary.update({"frames_expected": expected or None, "partial": partial, "signal": signals.signum})
        if log:
            log.write("summary", summary)
    finally:
        if log:
            log.close()
    print(status.summary_line(summary), file=sys.stderr)
    if signals.exit_code is not None:
        return signals.exit_code
    if partial and not allow_partial:
        print(
            f"vcam-run: error: {cfg.source} ended after {summary['frames']} of its {expected} frames (truncated or undecodable); "
            "the outputs hold those frames; --allow-partial accepts this",
            file=sys.stderr,
        )
        return PARTIAL_EXIT
    return 0


def main(argv: list[str] | None = None) -> int:
    with StopSignals() as signals:  # first: a signal from here on stops the run cleanly
        args = build_parser().parse_args(argv)

        def body() -> int:
            quiet_native_logs(args.debug)  # inside guarded: a signal while its thread starts is one line too
            logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING, format="vcam-run: %(levelname)s: %(message)s")
            if args.list_devices:
                print(devices.describe())
                return 0
            if args.setup_linux:
                print(setup_linux())
                return 0
            cfg = resolve(values_of(args), args.config)
            if args.print_config:
                print(cfg.to_toml(), end="")
                return 0
            return run(cfg, args.frames, args.json, args.quiet, signals, args.allow_partial)

        return guarded("vcam-run", body, debug=args.debug)


if __name__ == "__main__":
    sys.exit(main())
