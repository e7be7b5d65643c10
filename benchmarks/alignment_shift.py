"""How far an attacker's own alignment of protected frames moves from the original's, against
the training's alignment jitter (``chip_jitter``), as JSON + a table.

    python benchmarks/alignment_shift.py [--model engine/assets/deid_default.onnx] [--strength 1] [--jitter 3 6] [--json]

An attacker finds the face's landmarks on the protected frame itself; training re-aligns the
protected chip at random by up to ``chip_jitter`` chip pixels to stand in for that. Per protected
validation frame (every 4th frame of the model's recorded validation clips, the compositor's mask
if it trained with one): dlib's chip on the protected crop vs on the original crop, measured by
``chip_shift`` (largest displacement of a 3x3 grid of chip points, in chip pixels); the same for
4,000 draws of ``jitter_transforms`` at each ``--jitter``. Keys: ``attacker`` and ``jitter`` ->
{``median_px``, ``p90_px``, ``max_px``}. Reads ../shared/data (test data; the product never does).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from vcam.engine.recognisers import DlibRecogniser
from vcam.models.face_align import chip_shift, chip_transform, jitter_transforms
from vcam.models.train import TrainConfig, attacker_frames, load_weights, protect, recorded_config, validation_set

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def spread(shifts: list[float]) -> dict[str, float]:
    return {"median_px": float(np.median(shifts)), "p90_px": float(np.percentile(shifts, 90)), "max_px": float(np.max(shifts))}


def attacker_shifts(model: Path, photos: Path, strength: float) -> tuple[list[float], float]:
    """(per-frame shifts of the attacker's alignment, the model's ``chip_jitter``)."""
    cfg = TrainConfig.from_record({**recorded_config(str(model), "alignment_shift"), "photos": str(photos), "out": ""})
    ae = cfg.autoencoder()
    load_weights(ae, str(model), "alignment_shift")
    embedder, shifts = DlibRecogniser(), []
    for clip in validation_set(cfg):
        with torch.no_grad():
            video, out = protect(ae, [clip], cfg.composite_mask, strength=strength)
        for original, protected in zip(attacker_frames(video, 4), attacker_frames(out.clamp(0, 1), 4), strict=True):
            box = (0, 0, original.shape[1] - 1, original.shape[0] - 1)
            shifts.append(chip_shift(chip_transform(embedder, original, box), chip_transform(embedder, protected, box)))
    return shifts, cfg.chip_jitter


def jitter_shifts(px: float, n: int = 4000) -> list[float]:
    identity = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype=torch.float64).expand(n, 2, 3)
    return [chip_shift(identity[0].numpy(), m) for m in jitter_transforms(identity, px, torch.Generator().manual_seed(0)).numpy()]


def run(model: Path, photos: Path, strength: float, jitters: list[float]) -> dict:
    shifts, trained = attacker_shifts(model, photos, strength)
    return {
        "model": str(model),
        "strength": strength,
        "frames": len(shifts),
        "chip_jitter": trained,
        "attacker": spread(shifts),
        "jitter": {str(px): spread(jitter_shifts(px)) for px in sorted({trained, *jitters})},
    }


def table(r: dict) -> str:
    rows = [("attacker (protected vs original)", r["attacker"]), *((f"training jitter {px} px", s) for px, s in r["jitter"].items())]
    lines = [f"{'chip shift, chip px':34} {'median':>7} {'p90':>7} {'max':>7}"]
    lines += [f"{name:34} {s['median_px']:>7.2f} {s['p90_px']:>7.2f} {s['max_px']:>7.2f}" for name, s in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=ROOT / "engine" / "assets" / "deid_default.onnx")
    ap.add_argument("--photos", type=Path, default=DATA / "faces" / "lfw10")
    ap.add_argument("--strength", type=float, default=1.0)
    ap.add_argument("--jitter", type=float, nargs="*", default=[3.0, 6.0], help="training jitters to compare (chip px)")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = ap.parse_args()
    for p in (args.model, args.photos):
        if not p.exists():
            sys.exit(f"alignment_shift: {p} not found")
    result = run(args.model, args.photos, args.strength, args.jitter)
    print(json.dumps(result, indent=2) if args.json else table(result))
