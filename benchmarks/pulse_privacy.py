"""Pulse privacy on a real face video: what every rPPG reader gets from the outgoing face after
``--pulse hide`` and ``--pulse replace`` (targets 60, 90, 120 bpm). JSON + a table.

    python benchmarks/pulse_privacy.py [--video ../shared/data/video/evm/face.mp4] [--filter off] [--transport] [--json]

The video runs through the runtime's pipeline (``--filter`` first, then the pulse edit); each reader
(POS, CHROM, PhysNet, PhysFormer) reads the raw and the outgoing face crops (cut with the raw
frame's track), directly or (``--transport``) after I420 + H.264 at 1.5 Mbit/s. Per mode and
reader: ``hr_bpm``; ``snr_true_db`` (SNR at the raw reading's HR: is the real rate still
visible?); ``snr_peak_db`` (SNR of the strongest in-band peak); and the face crop's ``psnr_db``. Reads ../shared/data (test data; the product never does).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from vcam.app.config import DEFAULT_MODEL
from vcam.engine.crop import crop_face
from vcam.engine.filters import FILTERS, make_filter
from vcam.engine.frames import Frame
from vcam.engine.pipeline import Pipeline, PipelineConfig
from vcam.engine.pulse.signals import heart_rate, snr_db
from vcam.engine.video.sinks import NullSink
from vcam.engine.video.sources import ArraySource, VideoFileSource
from vcam.models.evaluation.protect import h264_roundtrip
from vcam.models.evaluation.utility import PulseJudges

VIDEO = Path(__file__).resolve().parents[2] / "shared" / "data" / "video" / "evm" / "face.mp4"
READERS = ("pos", "chrom", "physnet", "physformer")
MODES = (("keep", 72.0), ("hide", 72.0), ("replace", 60.0), ("replace", 90.0), ("replace", 120.0))


def crops(
    frames: list[np.ndarray], fps: float, filter_name: str, pulse: str, target: float, transport: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw and outgoing face crops and skin masks of the frames with a face; with ``transport``,
    the outgoing frames go through I420 + H.264 first, as a meeting app receives them."""
    pipe = Pipeline(
        ArraySource(frames, fps, "video"),
        NullSink(),
        make_filter(filter_name, DEFAULT_MODEL, background=False),
        PipelineConfig(rppg=False, identity=False, pulse=pulse, target_hr=target),
    )
    results = [pipe.process(Frame(i, i / fps, image)) for i, image in enumerate(frames)]
    outs = [r.output for r in results]
    outs = h264_roundtrip(outs, fps) if transport else outs
    kept = [(r.faces[0], image, out) for r, image, out in zip(results, frames, outs, strict=True) if r.faces]
    return (
        np.stack([crop_face(image, t) for t, image, _ in kept]),
        np.stack([crop_face(out, t) for t, _, out in kept]),
        np.stack([t.skin_mask for t, _, _ in kept]),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--video", type=Path, default=VIDEO)
    ap.add_argument("--filter", default="off", choices=FILTERS)
    ap.add_argument("--transport", action="store_true", help="measure after I420 + H.264 (1.5 Mbit/s)")
    ap.add_argument("--json", action="store_true", help="print JSON only")
    args = ap.parse_args()
    source = VideoFileSource(str(args.video))
    fps, frames = source.fps, []
    while (frame := source.read()) is not None:
        frames.append(frame)
    judges = PulseJudges()
    result: dict = {"video": args.video.name, "filter": args.filter, "path": "transport" if args.transport else "direct", "modes": {}}
    true_hr = {}
    for mode, target in MODES:
        raw, out, skin = crops(frames, fps, args.filter, mode, target, args.transport)
        if not true_hr:
            true_hr = {r: heart_rate(judges.pulse(r, raw, skin, fps), fps) for r in READERS}
            result["raw_hr_bpm"] = true_hr
        key = f"replace_{target:g}" if mode == "replace" else mode
        row: dict = {"psnr_db": float(10 * np.log10(1 / max(np.mean((out - raw) ** 2), 1e-12)))}
        for r in READERS:
            bvp = judges.pulse(r, out, skin, fps)
            hr = heart_rate(bvp, fps)
            row[r] = {"hr_bpm": hr, "snr_true_db": snr_db(bvp, fps, true_hr[r]), "snr_peak_db": snr_db(bvp, fps, hr)}
        result["modes"][key] = row
    print(json.dumps(result, indent=1, default=float))
    if args.json:
        return
    print(f"\n{args.video.name}, filter {args.filter}, {result['path']}; raw HR " + ", ".join(f"{r} {v:.1f}" for r, v in true_hr.items()))
    print(f"{'mode':<13}{'PSNR':>7} " + " ".join(f"{r + ': HR / SNR real / SNR peak':>34}" for r in READERS))
    for key, row in result["modes"].items():
        cells = " ".join(f"{row[r]['hr_bpm']:>14.1f} / {row[r]['snr_true_db']:>6.1f} / {row[r]['snr_peak_db']:>6.1f} dB" for r in READERS)
        print(f"{key:<13}{row['psnr_db']:>6.1f}  {cells}")


if __name__ == "__main__":
    main()
