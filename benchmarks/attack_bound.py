"""What privacy a per-frame white-box attack on dlib buys at a given PSNR, next to the AE's, as
JSON + a table: a reference for how far the model is from the trade-off its judges allow.

    python benchmarks/attack_bound.py [--model engine/assets/deid_default.onnx] [--psnr 34 30 27 24] [--frames 40] [--json]

Per validation frame (the last frame of each of the model's recorded validation clips, so the
causal AE has seen the whole clip; ``--frames`` of them, both identities alike): a projected
gradient attack (L2 PGD, ``--steps`` steps) on the differentiable dlib port pushes the frame's
descriptor away from the original's, averaged over ``--jitter`` random re-alignments (the
attacker aligns the face itself), changing only pixels inside the compositor's face-oval mask
and keeping the change within the crop's PSNR budget. Each result is then rounded to uint8 and
judged as the training's validation judges: the runtime's dlib (and SFace, never attacked) with
their own alignment, against the original frame. The attack knows the judge, changes each frame
on its own and ignores the pulse, so it is an optimistic reference, not a bound any model must
reach; a budget where it fails is one where the AE is unlikely to succeed. Keys: ``attack`` ->
per PSNR {``psnr_db``, ``dlib_match_rate``, ``sface_match_rate``, ``dlib_distance``}, ``model``
-> the same for the AE. Reads ../shared/data (test data; the product never does).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from vcam.engine.recognisers import DlibRecogniser, Recogniser, SFaceRecogniser
from vcam.models.attack import attack_dlib
from vcam.models.dlib_resnet import DlibFaceNet
from vcam.models.face_align import chip_transform
from vcam.models.train import TrainConfig, attacker_frames, load_weights, protect, recorded_config, validation_set

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def last_frames(model: Path, photos: Path, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(originals, AE outputs, masks): ``[n, 3, H, W]`` in [0, 1] twice and ``[n, 1, H, W]``,
    the last frame of ``n`` validation clips spread evenly over the set."""
    cfg = TrainConfig.from_record({**recorded_config(str(model), "attack_bound"), "photos": str(photos), "out": ""})
    ae = cfg.autoencoder()
    load_weights(ae, str(model), "attack_bound")
    clips = validation_set(cfg)
    picked = [clips[i] for i in np.linspace(0, len(clips) - 1, min(n, len(clips))).round().astype(int)]
    originals, outputs, masks = [], [], []
    for clip in picked:
        with torch.no_grad():
            video, out = protect(ae, [clip], cfg.composite_mask)
        originals.append(video[0, :, -1])
        outputs.append(out[0, :, -1].clamp(0, 1))
        masks.append(clip.paste_mask(-1, cfg.composite_mask))
    return torch.stack(originals), torch.stack(outputs), torch.stack(masks)


def as_uint8(images: torch.Tensor) -> list[np.ndarray]:
    """``[N, 3, H, W]`` in [0, 1] -> N uint8 RGB ``[H, W, 3]`` frames, as an attacker sees them."""
    return attacker_frames(images.transpose(0, 1)[None], every=1)


def judged(originals: torch.Tensor, protected: torch.Tensor, attackers: dict[str, Recogniser]) -> dict[str, float]:
    """PSNR (uint8, crop) and per attacker the match rate against the original frame, each
    aligning the face itself; dlib's mean distance too."""
    raw, out = as_uint8(originals), as_uint8(protected)
    box = (0, 0, raw[0].shape[1] - 1, raw[0].shape[0] - 1)
    mse = np.mean([np.mean((a.astype(np.float64) - b) ** 2) for a, b in zip(raw, out, strict=True)])
    result = {"psnr_db": float(10 * np.log10(255**2 / mse))}
    for name, a in attackers.items():
        d = [a.distance(a.describe(x, box), a.describe(y, box)) for x, y in zip(raw, out, strict=True)]
        result[f"{name}_match_rate"] = float(np.mean(np.array(d) < a.threshold))
        if name == "dlib":
            result["dlib_distance"] = float(np.mean(d))
    return result


def run(model: Path, photos: Path, budgets: list[float], frames: int, steps: int, jitter: float, draws: int) -> dict:
    originals, outputs, masks = last_frames(model, photos, frames)
    dlib = DlibRecogniser()
    attackers: dict[str, Recogniser] = {"dlib": dlib, "sface": SFaceRecogniser()}
    net = DlibFaceNet.from_file().eval()
    box = (0, 0, originals.shape[3] - 1, originals.shape[2] - 1)
    tf = torch.from_numpy(np.stack([chip_transform(dlib, im, box) for im in as_uint8(originals)])).float()

    def attack(budget: float) -> torch.Tensor:
        return attack_dlib(net, originals, tf, masks, budget, steps, jitter, draws, torch.Generator().manual_seed(0))

    return {
        "model_file": str(model),
        "frames": len(originals),
        "steps": steps,
        "jitter_px": jitter,
        "draws": draws,
        "model": judged(originals, outputs, attackers),
        "attack": {str(b): judged(originals, attack(b), attackers) for b in budgets},
    }


def table(r: dict) -> str:
    rows = [("AE (this model)", r["model"]), *((f"attack, budget {b} dB", m) for b, m in r["attack"].items())]
    lines = [f"{'':24} {'PSNR dB':>8} {'dlib match':>11} {'dlib dist':>10} {'SFace match':>12}"]
    lines += [f"{name:24} {m['psnr_db']:>8.2f} {m['dlib_match_rate']:>11.1%} {m['dlib_distance']:>10.3f} {m['sface_match_rate']:>12.1%}" for name, m in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=ROOT / "engine" / "assets" / "deid_default.onnx")
    ap.add_argument("--photos", type=Path, default=DATA / "faces" / "lfw10")
    ap.add_argument("--psnr", type=float, nargs="+", default=[34.0, 30.0, 27.0, 24.0], help="PSNR budgets (dB, face crop)")
    ap.add_argument("--frames", type=int, default=40)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--jitter", type=float, default=6.0, help="re-alignment per draw (chip px)")
    ap.add_argument("--draws", type=int, default=2, help="re-alignments averaged per step")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = ap.parse_args()
    for p in (args.model, args.photos):
        if not p.exists():
            sys.exit(f"attack_bound: {p} not found")
    result = run(args.model, args.photos, args.psnr, args.frames, args.steps, args.jitter, args.draws)
    print(json.dumps(result, indent=2) if args.json else table(result))
