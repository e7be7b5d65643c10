"""``vcam-pulse-edit``: the seed's offline method (Privacy-Phys) on a video file, to compare with
the live ``--pulse replace``.

    vcam-pulse-edit --in talk.mp4 --out talk_90bpm.mp4 --target-hr 90 [--lam 0.1] [--steps 20]

Projected gradient steps against the frozen PhysNet rewrite the first face's pulse so rPPG
readers see ``--target-hr`` (``vcam.models.privacy_phys``); only skin pixels change. Needs the
``train`` extra (torch) and PhysNet's weights (``vcam-weights``). Bad input is one error line
(exit 2) before any work; the output is never overwritten; the sound is copied; SIGINT, SIGTERM
and SIGHUP stop after the current block of frames with the output finalised (128 + the signal).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vcam.engine.errors import VcamError
from vcam.engine.pulse.modes import TARGET_HR_RANGE

from .cli import Parser, StopSignals, bounded, create_video_output, guarded, quiet_native_logs, train_extra_missing


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="vcam-pulse-edit", description="Rewrite the pulse of a face video with Privacy-Phys (offline, against PhysNet).")
    p.add_argument("--in", dest="source", type=Path, required=True, help="the face video")
    p.add_argument("--out", type=Path, required=True, help="the edited video (.mp4, .mkv, .mov, .avi); must not exist")
    p.add_argument(
        "--target-hr",
        type=bounded("--target-hr", *TARGET_HR_RANGE, " bpm"),
        required=True,
        help=f"the heart rate readers should see, {TARGET_HR_RANGE[0]:g}-{TARGET_HR_RANGE[1]:g} bpm",
    )
    p.add_argument("--lam", type=float, default=None, help="weight of the fidelity term (default: the seed's 0.1)")
    p.add_argument("--steps", type=int, default=None, help="Adam steps per block (default: the seed's 20)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    return p


class _Stop:
    def __init__(self) -> None:
        self.asked = False

    def stop(self, now: bool = False) -> None:
        self.asked = True


def edit(args: argparse.Namespace, signals: StopSignals) -> int:
    quiet_native_logs()  # inside guarded: a stop signal while its thread starts is one line
    if args.lam is not None and args.lam < 0 or args.steps is not None and args.steps < 1:
        raise VcamError("--lam must be >= 0 and --steps >= 1")
    from vcam.engine.video.sinks import VideoFileSink
    from vcam.engine.video.sources import VideoFileSource
    from vcam.models import privacy_phys

    source = VideoFileSource(args.source)
    try:
        editor = privacy_phys.PrivacyPhysEditor(
            source.fps, args.target_hr, lam=privacy_phys.LAMBDA if args.lam is None else args.lam, steps=args.steps or privacy_phys.STEPS
        )
        create_video_output(args.out)
    except BaseException:
        source.close()
        raise
    signals.defer()
    try:
        sink = VideoFileSink(args.out, source.fps, audio_from=args.source)
    except BaseException:
        args.out.unlink(missing_ok=True)  # the empty file made above: nothing was written to it
        editor.close()
        source.close()
        raise
    job = _Stop()
    signals.attach(job)
    done = 0
    try:
        while not job.asked:
            block = [f for _ in range(privacy_phys.CHUNK) if (f := source.read()) is not None]
            if not block:
                break
            for frame in editor.edit(block):
                sink.send(frame)
            done += len(block)
            if not args.quiet:
                print(f"vcam-pulse-edit: {done}/{source.frame_count or '?'} frames", file=sys.stderr)
    finally:
        signals.attach(None)
        editor.close()
        sink.close()
        source.close()
    print(f"vcam-pulse-edit: {done} frames -> {args.out} (target {args.target_hr:g} bpm)", file=sys.stderr)
    return signals.exit_code or 0


def main(argv: list[str] | None = None) -> int:
    with StopSignals() as signals:
        args = build_parser().parse_args(argv)
        try:
            import torch  # noqa: F401 - the training extra
        except ImportError as exc:
            return train_extra_missing("vcam-pulse-edit", exc)
        return guarded("vcam-pulse-edit", lambda: edit(args, signals))


if __name__ == "__main__":
    sys.exit(main())
