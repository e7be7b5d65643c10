"""Pulse privacy on a real face video: what every rPPG reader gets from the outgoing face after
``--pulse hide`` and ``--pulse replace`` (targets 60, 90, 120 bpm). JSON + a table.

    python benchmarks/pulse_privacy.py [--video ../shared/data/video/evm/face.mp4 [--repeat N] | --photos N] [--twins]
                                       [--filter off] [--transport] [--method live|privacy-phys] [--modes hide,...] [--json]

The video runs through the runtime's pipeline (``--filter`` first, then the pulse edit); each reader
(POS, CHROM, PhysNet, PhysFormer) reads the raw and the outgoing face crops (cut with the raw
frame's track), directly or (``--transport``) after I420 + H.264 at 1.5 Mbit/s. ``--method
privacy-phys`` makes the ``replace`` videos with the seed's offline method instead (PGD against
PhysNet, which is then a *seen* reader: the others judge it). Per mode and
reader: ``hr_bpm``; ``snr_true_db`` (SNR at the raw reading's HR: is the real rate still
visible?); ``true_over_median_db`` (the spectrum at the true HR over the band's median power; over
clips, its maximum ``true_over_median_db_max``); ``snr_peak_db`` (SNR of the strongest in-band
peak); and the face crop's ``psnr_db``. ``--twins`` runs every mode on each clip's
pulse-free twin too (the same photo, motion and sensor noise, no pulse): what a reader gets there at
the real clip's true HR is what it gets by chance (both get the same ``hide`` noise, so the comparison
is paired: ``near_true_twin``, ``true_over_median_db_twin``;
``true_over_twin_db``: how much the real clip's spectrum at its true HR stands above its twin's, on
average). A real video has no such twin: with ``--video`` the twin is the video with its pulse
removed by the live edit's removal alone (amplitude 0; what that removal misses stays in both), and
``--repeat N`` runs it N times (``hide`` draws fresh noise each time). Reads ../shared/data (test data; the product never does).
"""

from __future__ import annotations

import argparse
import json
import secrets
from pathlib import Path

import numpy as np

from vcam.app.config import DEFAULT_MODEL
from vcam.engine.crop import crop_face
from vcam.engine.filters import FILTERS, make_filter
from vcam.engine.frames import Frame
from vcam.engine.pipeline import Pipeline, PipelineConfig
from vcam.engine.pulse.edit import PULSE_AMPLITUDE, PulseEditor
from vcam.engine.pulse.signals import heart_rate, peak_over_median_db, snr_db
from vcam.engine.tracking import FaceTracker
from vcam.engine.video.sinks import NullSink
from vcam.engine.video.sources import ArraySource, VideoFileSource
from vcam.models.evaluation.clips import photo_clips
from vcam.models.evaluation.protect import h264_roundtrip
from vcam.models.evaluation.utility import PulseJudges
from vcam.models.privacy_phys import LAMBDA, PrivacyPhysEditor

from unseen import people

VIDEO = Path(__file__).resolve().parents[2] / "shared" / "data" / "video" / "evm" / "face.mp4"
READERS = ("pos", "chrom", "physnet", "physformer")
MODES = (("keep", 72.0), ("hide", 72.0), ("replace", 60.0), ("replace", 90.0), ("replace", 120.0))
SWEEP = {"live": (0.25, 0.5, 1.0, 2.0), "privacy-phys": (0.01, 0.1, 1.0, 10.0)}  # --sweep: amplitude multiple / lambda


def outgoing(
    frames: list[np.ndarray], fps: float, method: str, filter_name: str, pulse: str, target: float, knob: float | None = None, seed: int | None = None
) -> list[np.ndarray]:
    """The frames as sent: through the runtime's pipeline (``live``: ``--filter`` then the pulse
    edit), or edited offline by the seed's Privacy-Phys (``privacy-phys``, replace only). ``knob``
    (``--sweep``): the live edit's amplitude as a multiple of the runtime's (0: the removal alone), or
    Privacy-Phys's lambda; ``seed`` fixes ``hide``'s noise (None: fresh, as live)."""
    if method == "privacy-phys":
        editor = PrivacyPhysEditor(fps, target, lam=LAMBDA if knob is None else knob)
        try:
            return editor.edit(frames)
        finally:
            editor.close()
    pipe = Pipeline(
        ArraySource(frames, fps, "video"),
        NullSink(),
        make_filter(filter_name, DEFAULT_MODEL, background=False),
        PipelineConfig(rppg=False, identity=False, pulse=pulse, target_hr=target, pulse_seed=seed),
    )
    if knob is not None:
        pipe.pulse = PulseEditor(pulse, target, fps, seed=seed, amplitude=PULSE_AMPLITUDE * knob, overshoot=0.0 if knob == 0 else None)
    return [pipe.process(Frame(i, i / fps, image)).output for i, image in enumerate(frames)]


def crops(frames: list[np.ndarray], outs: list[np.ndarray], fps: float, transport: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw and outgoing face crops (cut with the raw frame's track) and skin masks of the frames
    with a face; with ``transport``, the outgoing frames go through I420 + H.264 first."""
    outs = h264_roundtrip(outs, fps) if transport else outs
    with FaceTracker(max_faces=1) as tracker:
        kept = [(tracks[0], image, out) for image, out in zip(frames, outs, strict=True) if (tracks := tracker.update(image))]
    return (
        np.stack([crop_face(image, t) for t, image, _ in kept]),
        np.stack([crop_face(out, t) for t, _, out in kept]),
        np.stack([t.skin_mask for t, _, _ in kept]),
    )


def summary(key: str, rows: list[dict]) -> dict:
    """Per reader over clips: HR and SNRs averaged; ``hr_mae_bpm`` from the target (replace) or the
    true HR (keep, hide); ``near_true`` the share of clips read within 5 bpm of the true HR, and
    ``near_true_chance`` the share within 5 bpm of another clip's true HR (what a reading that knows
    nothing of the true rate scores)."""
    target = float(key.split("_")[1].split("@")[0]) if key.startswith("replace_") else None
    out: dict = {"psnr_db": float(np.mean([r["psnr_db"] for r in rows]))}
    for reader in READERS:
        cells = [r[reader] for r in rows]
        aim = [target if target is not None else c["true_hr_bpm"] for c in cells]
        out[reader] = {
            "hr_bpm": float(np.mean([c["hr_bpm"] for c in cells])),
            "hr_mae_bpm": float(np.mean([abs(c["hr_bpm"] - a) for c, a in zip(cells, aim, strict=True)])),
            "near_true": float(np.mean([abs(c["hr_bpm"] - c["true_hr_bpm"]) <= 5 for c in cells])),
            "near_true_chance": (  # none from one video run several times: its twin tells chance
                float(np.mean([abs(a["hr_bpm"] - b["true_hr_bpm"]) <= 5 for a in cells for b in cells if a is not b]))
                if len({c["true_hr_bpm"] for c in cells}) > 1
                else None
            ),
            "snr_true_db": float(np.mean([c["snr_true_db"] for c in cells])),
            "snr_peak_db": float(np.mean([c["snr_peak_db"] for c in cells])),
            "true_over_median_db": float(np.mean([c["true_over_median_db"] for c in cells])),
            "true_over_median_db_max": float(np.max([c["true_over_median_db"] for c in cells])),
        }
        if "twin" in cells[0]:
            twins = [c["twin"] for c in cells]
            out[reader] |= {
                "near_true_twin": float(np.mean([abs(t["hr_bpm"] - c["true_hr_bpm"]) <= 5 for t, c in zip(twins, cells, strict=True)])),
                "true_over_median_db_twin": float(np.mean([t["true_over_median_db"] for t in twins])),
                "true_over_median_db_twin_max": float(np.max([t["true_over_median_db"] for t in twins])),
                "true_over_twin_db": float(np.mean([c["true_over_median_db"] - t["true_over_median_db"] for t, c in zip(twins, cells, strict=True)])),
            }
    return out


def pct(share: float | None) -> str:
    return "  - " if share is None else f"{share:>4.0%}"


def reading(judges: PulseJudges, reader: str, out: np.ndarray, skin: np.ndarray, fps: float, true_hr: float) -> dict:
    """What ``reader`` gets from the outgoing face crops, and its spectrum at ``true_hr``."""
    bvp = judges.pulse(reader, out, skin, fps)
    hr = heart_rate(bvp, fps)
    return {
        "hr_bpm": hr,
        "true_hr_bpm": true_hr,
        "snr_true_db": snr_db(bvp, fps, true_hr),
        "snr_peak_db": snr_db(bvp, fps, hr),
        "true_over_median_db": peak_over_median_db(bvp, fps, true_hr),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--video", type=Path, default=VIDEO)
    ap.add_argument("--filter", default="off", choices=FILTERS)
    ap.add_argument("--transport", action="store_true", help="measure after I420 + H.264 (1.5 Mbit/s)")
    ap.add_argument("--method", default="live", choices=("live", "privacy-phys"), help="the runtime's live edit, or the seed's offline method (replace only)")
    ap.add_argument("--photos", type=int, default=0, help="instead of --video: N animated lfw549 photos (10 s) with injected pulses of 45-150 bpm")
    ap.add_argument("--twins", action="store_true", help="every mode on each clip's pulse-free twin too (chance, measured)")
    ap.add_argument("--repeat", type=int, default=1, help="with --video: run it N times (fresh hide noise each)")
    ap.add_argument("--modes", default="keep,hide,replace", help="comma-separated subset of keep, hide, replace (default: all)")
    ap.add_argument(
        "--sweep",
        action="store_true",
        help="replace at 90 bpm over a range of strengths (the live amplitude x0.25-2, Privacy-Phys's lambda 0.01-10): MAE vs PSNR, the seed's Fig. 4",
    )
    ap.add_argument("--json", action="store_true", help="print JSON only")
    args = ap.parse_args()
    if args.photos:
        root, made = people(args.photos), {"seconds": 10.0, "per_identity": 1, "hr_range": (45.0, 150.0)}
        twins = photo_clips(root, amplitude=0.0, **made) if args.twins else []
        clips = [(c.name, c.frames, c.fps, heart_rate(c.bvp, c.fps), twins[i].frames if twins else None) for i, c in enumerate(photo_clips(root, **made))]
    else:
        source = VideoFileSource(str(args.video))
        frames = []
        while (frame := source.read()) is not None:
            frames.append(frame)
        twin = outgoing(frames, source.fps, "live", "off", "hide", 72.0, knob=0.0) if args.twins else None
        clips = [(f"{args.video.name}#{k}", frames, source.fps, None, twin) for k in range(args.repeat)]
    judges = PulseJudges()
    path = "transport" if args.transport else "direct"
    video = f"{len(clips)} animated lfw549 photos, true HR 45-150 bpm" if args.photos else args.video.name
    result: dict = {"video": video, "filter": args.filter, "method": args.method, "path": path, "modes": {}}
    wanted = set(args.modes.split(",")) & ({"keep", "hide", "replace"} if args.method == "live" else {"replace"})
    modes: list[tuple[str, float, float | None]] = [(*m, None) for m in MODES if m[0] in wanted]
    if args.sweep:
        modes = [("replace", 90.0, k) for k in SWEEP[args.method]]
    per_clip: dict[str, list[dict]] = {}
    truths: dict[int, dict[str, float]] = {}  # per frame list: a repeated video's raw readings are made once
    for name, frames, fps, truth, twin in clips:
        true_hr = truths.setdefault(id(frames), {})
        for mode, target, knob in modes:
            seed = secrets.randbits(32) if twin is not None else None  # the twin gets the same hide noise: a paired comparison
            raw, out, skin = crops(frames, outgoing(frames, fps, args.method, args.filter, mode, target, knob, seed), fps, args.transport)
            if not true_hr:  # what each reader gets from the raw video, or the injected truth
                true_hr = {r: truth if truth is not None else heart_rate(judges.pulse(r, raw, skin, fps), fps) for r in READERS}
            key = (f"replace_{target:g}" if mode == "replace" else mode) + ("" if knob is None else f"@{knob:g}")
            row: dict = {"clip": name, "psnr_db": float(10 * np.log10(1 / max(np.mean((out - raw) ** 2), 1e-12)))}
            row |= {r: reading(judges, r, out, skin, fps, true_hr[r]) for r in READERS}
            if twin is not None:  # the same edit on the pulse-free twin, read at the real clip's true HR
                _, twin_out, twin_skin = crops(twin, outgoing(twin, fps, args.method, args.filter, mode, target, knob, seed), fps, args.transport)
                for r in READERS:
                    row[r]["twin"] = reading(judges, r, twin_out, twin_skin, fps, true_hr[r])
            per_clip.setdefault(key, []).append(row)
        result.setdefault("raw_hr_bpm", true_hr)
    for key, rows in per_clip.items():
        result["modes"][key] = summary(key, rows) if len(rows) > 1 or args.twins else rows[0]
        if len(rows) > 1:
            result.setdefault("clips", {})[key] = rows
    print(json.dumps(result, indent=1, default=float))
    if args.json:
        return
    print(
        f"\n{video}, {args.method}, filter {args.filter}, {path}"
        + ("" if args.photos else "; raw HR " + ", ".join(f"{r} {v:.1f}" for r, v in result["raw_hr_bpm"].items()))
    )
    per_clip_table = args.photos or args.repeat > 1
    heading = ": HR MAE / near real (chance) / SNR real" if per_clip_table else ": HR / SNR real / SNR peak"
    print(f"{'mode':<13}{'PSNR':>7} " + " ".join(f"{r + heading:>34}" for r in READERS))
    for key, row in result["modes"].items():
        if per_clip_table:
            cells = " ".join(
                f"{row[r]['hr_mae_bpm']:>10.1f} / {row[r]['near_true']:>4.0%} ({pct(row[r]['near_true_chance'])}) / {row[r]['snr_true_db']:>6.1f} dB"
                for r in READERS
            )
        else:
            cells = " ".join(f"{row[r]['hr_bpm']:>14.1f} / {row[r]['snr_true_db']:>6.1f} / {row[r]['snr_peak_db']:>6.1f} dB" for r in READERS)
        print(f"{key:<13}{row['psnr_db']:>6.1f}  {cells}")
    if args.twins:
        print("\nAt the true HR, real clip vs its pulse-free twin: near real (twin) / spectrum over the band's median, dB (twin)")
        for key, row in result["modes"].items():
            cells = " ".join(
                f"{(c := row[r])['near_true']:>10.0%} ({c['near_true_twin']:>4.0%}) / {c['true_over_median_db']:>5.1f} ({c['true_over_median_db_twin']:>5.1f})"
                for r in READERS
            )
            print(f"{key:<13}       {cells}")


if __name__ == "__main__":
    main()
