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

from vcam.engine.errors import VcamError
from vcam.engine.filters import FILTERS
from vcam.engine.inference.backends import BACKENDS, PRECISIONS
from vcam.engine.pipeline import Pipeline
from vcam.engine.pulse.edit import PULSE_MODES

from .cli import Parser, StopSignals, guarded, quiet_native_logs
from .config import Config, resolve
from .run_log import RunLog
from .session import backend_info, build_pipeline
from .status import StatusLine

PARTIAL_EXIT = 3


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="vcam-run", description="De-identify faces in a video stream while keeping the rPPG pulse.")
    a = p.add_argument
    a("--source", help="demo | camera index | /dev/videoN | video file (default: 0)")
    a("--sink", help="virtualcam | null | preview | output video path (default: virtualcam)")
    a("--filter", choices=FILTERS, help=f"face filter (default: {Config.filter})")
    a("--identity-seed", help="anonymise's virtual person: N (a fixed one), random (a new one each run); default: your own, kept across runs")
    a("--pulse", choices=PULSE_MODES, help="your heart rate in the outgoing video: keep (default), hide, or replace it with --target-hr")
    a("--target-hr", type=float, help="bpm the video shows with --pulse replace (40..180, default 72)")
    a("--strength", type=float, help="0.2..1.5, how strongly the filter acts (default: 1 = as trained; above 1 amplifies it)")
    a(
        "--auto-strength",
        action="store_const",
        const=True,
        help="raise the strength (up to 1.5) while the identity monitor still recognises the face; --strength is the floor",
    )
    a("--model", help="streaming ONNX model for --filter deid, or an identity pattern .npz for pattern and adaptive (default: the shipped ones)")
    a("--backend", choices=BACKENDS, help="inference backend (default: auto = tensorrt, cuda, cpu in that order)")
    a(
        "--precision",
        choices=PRECISIONS,
        help="auto = fp32 (fp16 on tensorrt) | fp32 | int8 (the <model>.int8.onnx next to --model; validate its privacy first)",
    )
    a("--threads", type=int, help="inference threads (default: 2)")
    a("--width", type=int, help="camera/demo width (default: 1280)")
    a("--height", type=int, help="camera/demo height (default: 720)")
    a("--fps", type=float, help="camera/demo frame rate (default: 30)")
    a("--no-mjpg", dest="mjpg", action="store_const", const=False, help="do not request MJPG from the camera")
    a("--out-width", type=int, help="virtual camera width (default: 1280)")
    a("--out-height", type=int, help="virtual camera height (default: 720)")
    a("--vcam-device", help="virtual camera device, e.g. /dev/video10")
    a("--vcam-backend", help="pyvirtualcam backend: v4l2loopback, obs, unitycapture")
    a("--max-faces", type=int, help="faces protected by the filter; more are pixelated (default: 2)")
    a("--realtime", action="store_const", const=True, help="pace a file/demo source at its frame rate")
    a("--no-monitors", dest="monitors", action="store_const", const=False, help="turn off the rPPG and identity monitors")
    a(
        "--no-idle",
        dest="idle",
        action="store_const",
        const=False,
        help="keep processing while no app shows the virtual camera (default: idle with black frames after 3 s)",
    )
    a("--frames", type=int, help="stop after N frames")
    a("--json", type=Path, help="write the config, per-second metrics and the summary to this file (JSON Lines, as the run goes)")
    a("--allow-partial", action="store_true", help="exit 0 even if a file source ends before its length (truncated or undecodable frames)")
    a("--config", type=Path, help="config file (default: the user config dir's deid-vcam/config.toml)")
    a("--print-config", action="store_true", help="print the effective config as TOML and exit")
    a("--quiet", action="store_true", help="no live status line")
    a("--debug", action="store_true", help="log tracebacks of errors")
    return p


def config_values(args: argparse.Namespace) -> dict:
    """The command line's value (None: not given) of every setting of ``Config`` it has an option for:
    the options' dest names are the settings' names, so there is no second list to keep in step."""
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(Config) if hasattr(args, f.name)}


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
    if frames is not None and frames < 1:
        raise VcamError("--frames must be >= 1")
    check_outputs(cfg, json_path)
    if json_path is not None:
        RunLog.check(json_path)
    pipe: Pipeline | None = None
    signals.defer()  # outputs open from here: a signal must let them be finalised
    pipe = build_pipeline(cfg, frames, on_preview_close=lambda: pipe.stop() if pipe else None)
    signals.attach(pipe)
    status = StatusLine(enabled=not quiet, auto_strength=cfg.auto_strength)
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
        expected = getattr(pipe.source, "frame_count", 0) or 0
        expected = min(expected, frames) if frames else expected
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
        quiet_native_logs(args.debug)
        logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING, format="vcam-run: %(levelname)s: %(message)s")

        def body() -> int:
            cfg = resolve(config_values(args), args.config)
            if args.print_config:
                print(cfg.to_toml(), end="")
                return 0
            return run(cfg, args.frames, args.json, args.quiet, signals, args.allow_partial)

        return guarded("vcam-run", body, debug=args.debug)


if __name__ == "__main__":
    sys.exit(main())
