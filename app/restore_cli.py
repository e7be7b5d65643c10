"""``vcam-restore``: undo the ``scramble`` filter in a recording, with the key that made it.

    vcam-restore --key-file KEY --in protected.mp4 --out restored.mp4

The recording may be vcam-run's own file or a meeting app's (after I420 and H.264); each marked
square is found again, its blocks put back, and its marker ring filled from its surroundings.
Before anything is written the key is tried on the first protected faces: a key that does not
open them is one error line (exit 2), as are a missing or open-to-others key file, an unreadable
input and an existing output (never overwritten). The output is created private (mode 0600): it
holds the faces. SIGINT, SIGTERM and SIGHUP stop after the current frame with the output
finalised (exit 128 + the signal); the input's sound is copied unchanged.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vcam.engine.errors import VcamError
from vcam.engine.keyed.keys import load_key

from .cli import Parser, StopSignals, create_video_output, guarded


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="vcam-restore", description="Restore the faces of a recording protected by --filter scramble, with its key.")
    p.add_argument("--key-file", type=Path, required=True, help="the key the recording was protected with (vcam-key new made it)")
    p.add_argument("--in", dest="source", type=Path, required=True, help="the protected recording")
    p.add_argument("--out", type=Path, required=True, help="the restored video to write (.mp4, .mkv, .mov, .avi); must not exist")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    return p


def restore(args: argparse.Namespace, signals: StopSignals) -> int:
    from vcam.engine.keyed.restore import RestoreJob, key_opens
    from vcam.engine.keyed.scramble import BlockScramble
    from vcam.engine.video.sinks import VideoFileSink
    from vcam.engine.video.sources import VideoFileSource

    scramble = BlockScramble(load_key(args.key_file))
    probe = VideoFileSource(args.source)
    try:
        opens = key_opens(probe, scramble)
    finally:
        probe.close()
    if opens is None:
        raise VcamError(f"{args.source} has no protected face (no marked square found): was it recorded with --filter scramble, and not cropped?")
    if not opens:
        raise VcamError(f"{args.key_file} does not open {args.source}: its faces stay scrambled (it was protected with another key)")
    source = VideoFileSource(args.source)
    created = False
    try:
        create_video_output(args.out, private=True)
        created = True
        signals.defer()
        sink = VideoFileSink(args.out, source.fps, audio_from=args.source)
    except BaseException:
        source.close()
        if created:
            args.out.unlink(missing_ok=True)
        raise
    job = RestoreJob(source, sink, scramble)
    signals.attach(job)
    total = source.frame_count

    def progress(record: dict) -> None:
        if not args.quiet:
            print(f"vcam-restore: {record['frames']}/{total or '?'} frames, {record['fps']:.0f} fps", file=sys.stderr)

    try:
        summary = job.run(progress)
    finally:
        signals.attach(None)
        sink.close()
        source.close()
    print(f"vcam-restore: {summary['frames']} frames, {summary['faces']} faces restored ({summary['fps']:.0f} fps) -> {args.out}", file=sys.stderr)
    return signals.exit_code or 0


def main(argv: list[str] | None = None) -> int:
    with StopSignals() as signals:
        args = build_parser().parse_args(argv)
        return guarded("vcam-restore", lambda: restore(args, signals))


if __name__ == "__main__":
    sys.exit(main())
