"""``vcam-run``: the headless protected camera / offline batch tool.

    vcam-run --source demo --sink out/demo.mp4 --filter blur --frames 300 --json out/demo.json
    vcam-run --source 0 --sink virtualcam                 # webcam -> virtual webcam
    vcam-run --source talk.mp4 --sink talk_protected.mp4  # whole file, as fast as possible

Bad input prints one ``vcam-run: error: ...`` line and exits 2; Ctrl-C stops cleanly (outputs
are flushed and the JSON is written) and exits 130.
"""
from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Any

from vcam.engine.backends import BACKENDS, PRECISIONS
from vcam.engine.errors import VcamError
from vcam.engine.filters import FILTERS
from vcam.engine.pipeline import Pipeline

from .cli import Parser, guarded, quiet_native_logs
from .config import Config, resolve
from .session import backend_info, build_pipeline
from .status import StatusLine


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="vcam-run", description="De-identify faces in a video stream while keeping the rPPG pulse.")
    a = p.add_argument
    a("--source", help="demo | camera index | /dev/videoN | video file (default: 0)")
    a("--sink", help="virtualcam | null | preview | output video path (default: virtualcam)")
    a("--filter", choices=FILTERS, help=f"face filter (default: {Config.filter})")
    a("--strength", type=float, help="0.2..1.5, how strongly the filter acts (default: 1 = as trained; above 1 amplifies it)")
    a("--auto-strength", action="store_const", const=True,
      help="raise the strength (up to 1.5) while the identity monitor still recognises the face; --strength is the floor")
    a("--model", help="streaming ONNX model for --filter deid, or an identity pattern .npz for pattern and adaptive (default: the shipped ones)")
    a("--backend", choices=BACKENDS, help="inference backend (default: auto = tensorrt, cuda, cpu in that order)")
    a("--precision", choices=PRECISIONS, help="auto = fp32 (fp16 on tensorrt) | fp32 | int8 (the <model>.int8.onnx next to --model; validate its privacy first)")
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
    a("--no-idle", dest="idle", action="store_const", const=False,
      help="keep processing while no app shows the virtual camera (default: idle with black frames after 3 s)")
    a("--frames", type=int, help="stop after N frames")
    a("--json", type=Path, help="write per-second metrics and a summary to this file")
    a("--config", type=Path, help="config file (default: the user config dir's deid-vcam/config.toml)")
    a("--print-config", action="store_true", help="print the effective config as TOML and exit")
    a("--quiet", action="store_true", help="no live status line")
    a("--debug", action="store_true", help="log tracebacks of errors")
    return p


CONFIG_KEYS = ("source", "sink", "filter", "strength", "auto_strength", "model", "backend", "precision", "threads", "width", "height", "fps", "mjpg",
               "out_width", "out_height", "vcam_device", "vcam_backend", "max_faces", "realtime", "monitors", "idle")


def run(cfg: Config, frames: int | None, json_path: Path | None, quiet: bool) -> int:
    """Build the pipeline from ``cfg`` and run it; returns the exit code."""
    if frames is not None and frames < 1:
        raise VcamError("--frames must be >= 1")
    if json_path is not None and not json_path.parent.is_dir():
        raise VcamError(f"cannot write {json_path}: folder {json_path.parent} does not exist")
    pipe: Pipeline | None = None
    pipe = build_pipeline(cfg, frames, on_preview_close=lambda: pipe.stop() if pipe else None)
    status = StatusLine(enabled=not quiet, auto_strength=cfg.auto_strength)
    interrupted = False
    if (info := backend_info(pipe.filter)) and not quiet:
        print(f"vcam-run: model on {info['backend']} ({info['backend_reason']})", file=sys.stderr)
    with pipe:

        def on_sigint(signum: int, frame: Any) -> None:
            nonlocal interrupted
            interrupted = True
            pipe.stop()
            signal.signal(signal.SIGINT, signal.default_int_handler)  # a second Ctrl-C aborts

        previous = signal.signal(signal.SIGINT, on_sigint)
        try:
            summary = pipe.run(max_frames=frames, on_second=status.update)
        finally:
            signal.signal(signal.SIGINT, previous)
            status.finish()
        summary.update(backend_info(pipe.filter))
    if json_path is not None:
        report = {"config": vars(cfg), "seconds": pipe.metrics.seconds, "summary": summary}
        json_path.write_text(json.dumps(report, indent=2, default=float), encoding="utf-8")
    print(status.summary_line(summary), file=sys.stderr)
    return 130 if interrupted else 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    quiet_native_logs(args.debug)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING, format="vcam-run: %(levelname)s: %(message)s")

    def body() -> int:
        cfg = resolve({k: getattr(args, k) for k in CONFIG_KEYS}, args.config)
        if args.print_config:
            print(cfg.to_toml(), end="")
            return 0
        return run(cfg, args.frames, args.json, args.quiet)

    return guarded("vcam-run", body, debug=args.debug)

if __name__ == "__main__":
    sys.exit(main())
