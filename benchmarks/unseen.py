"""Leave-one-recogniser-out privacy of every filter, as JSON + a table: the figure a filter may claim
is its worst over the recognisers it never used.

    python benchmarks/unseen.py [--people 30] [--seconds 4] [--filters adaptive,pattern,...] [--transport] [--other-photos]
                                [--own-detector] [--json]

People: the first ``--people`` identities (with at least 4 photos) of lfw549's suggested validation
split, in no training set of any shipped filter. One photo of each is animated into a clip with an
injected pulse and run through each filter as the runtime runs it; every recogniser of the zoo then
describes the outgoing face in the raw frame's face box (the attacker is given the face location)
and compares it with the mean of the person's original photos (match rate at the recogniser's own
threshold) and with every person's (rank-1 among ``--people``). Per filter: ``seen`` (from the
filter's own ``recognisers``), ``unseen``, ``worst_unseen_match_rate`` and
``worst_unseen_rank1`` (with the recogniser), ``rank1_chance``, ``psnr_db`` (face crop),
``dhr_pos_bpm``, ``dhr_chrom_bpm`` and ``per_recogniser`` figures; ``--transport`` measures after
I420 + H.264 at 1.5 Mbit/s instead; ``--other-photos`` leaves the clip's own photo out of the
gallery (its hair, clothes and background then do not match a gallery photo exactly); the
pseudo-filter ``context-floor`` measures what recognisers get from outside the face alone;
``--own-detector`` adds the attacker that finds the face itself (MediaPipe's face mesh on the
outgoing frame, every 10th frame): per recogniser ``found`` (share of frames with a face found),
``match_rate`` and ``rank1`` over all those frames, a frame without a face counting as a miss. Reads
../shared/data (test data; the product never does).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from vcam.app.config import DEFAULT_MODEL
from vcam.engine.face_regions import landmark_box, skin_mask
from vcam.engine.filters import FILTERS, FaceFilter, make_filter
from vcam.engine.keyed.keys import random_key
from vcam.engine.recognisers import RECOGNISERS
from vcam.engine.tracking import FaceTracker
from vcam.models.evaluation.clips import photo_clips
from vcam.models.evaluation.evaluate import RawSide, evaluate_clip, templates_for
from vcam.models.evaluation.privacy import found_face_rates
from vcam.models.evaluation.protect import protect_clip, transport
from vcam.models.evaluation.report import summarise
from vcam.models.evaluation.utility import PulseJudges

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces" / "lfw549"
JUDGES = ("pos", "chrom")


def people(count: int, photos: int = 4) -> Path:
    """A folder of links to the first ``count`` validation identities with ``photos`` or more photos."""
    meta = json.loads((DATA / "identities.json").read_text())
    names = [n for n in meta["_split_suggestion"]["val"] if len(meta[n]) >= photos][:count]
    root = Path(tempfile.mkdtemp(prefix="vcam-unseen-"))
    for name in names:
        (root / name).symlink_to(DATA / name)
    return root


class ContextFloor(FaceFilter):
    """Not a product filter: the face oval filled with the face's mean skin colour. What a recogniser
    still gets from it comes from outside the face (outline, hair, ears, clothes, background, pose):
    the floor of every method that replaces only the face."""

    name = "context-floor"

    def process(self, crop: np.ndarray, track_id: int, strength: float = 1.0, landmarks: np.ndarray | None = None) -> np.ndarray:
        if landmarks is None:
            raise ValueError("context-floor needs the face's landmarks")
        skin = skin_mask(landmarks[:, :2], crop.shape[:2])
        return np.broadcast_to(crop[skin].mean(0), crop.shape).astype(np.float32).copy()


def build_filter(name: str) -> FaceFilter:
    return ContextFloor() if name == ContextFloor.name else make_filter(name, DEFAULT_MODEL, background=False, key=random_key())


def own_detector(raws: list[RawSide], build: Callable[[], FaceFilter], attackers: dict, templates: dict, transported: bool, every: int = 10) -> dict:
    """Per recogniser: the attacker who finds the face in the outgoing frames itself (MediaPipe's
    face mesh, static mode, the largest face), every ``every``-th frame of each clip."""
    probes: list[tuple[np.ndarray, tuple[int, int, int, int] | None, str]] = []
    with FaceTracker(max_faces=1, static=True) as finder:
        for raw in raws:
            run = protect_clip(raw.clip, build, analyses=raw.analyses)
            frames = (transport(run, raw.clip.fps) if transported else run).out[::every]
            probes += [(f, landmark_box(found[0]) if (found := finder.detect(f)) else None, raw.clip.identity) for f in frames]
    return {name: found_face_rates(embedder, probes, templates[name]) for name, embedder in attackers.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=30)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument(
        "--filters",
        default=",".join(f for f in FILTERS if f != "deid") + ",deid",
        help=f"comma-separated; besides the product's filters, {ContextFloor.name} (the face oval filled flat)",
    )
    ap.add_argument("--transport", action="store_true", help="measure after I420 + H.264 (1.5 Mbit/s)")
    ap.add_argument("--other-photos", action="store_true", help="the gallery holds each person's other photos, not the one the clip is animated from")
    ap.add_argument("--own-detector", action="store_true", help="also the attacker who finds the face in the outgoing frame itself")
    ap.add_argument("--json", action="store_true", help="print JSON only")
    args = ap.parse_args()
    filters = args.filters.split(",")
    clips = photo_clips(people(args.people), seconds=args.seconds, per_identity=1, other_photos=args.other_photos)
    attackers = {name: make() for name, make in RECOGNISERS.items()}
    build = {f: (lambda f=f: build_filter(f)) for f in filters}
    seen = {f: build[f]().recognisers for f in filters}
    path = "transport" if args.transport else "direct"
    raws = [RawSide(c) for c in clips]
    judges = PulseJudges()
    results = {f: [evaluate_clip(raw, build[f], attackers, judges, JUDGES, (path,))[path] for raw in raws] for f in filters}
    templates = templates_for(clips, results[filters[0]], attackers)
    raw_results = results.get("off")
    gallery = "other photos" if args.other_photos else "all photos"
    out: dict = {"people": len(clips), "seconds": args.seconds, "path": path, "gallery": gallery, "filters": {}}
    for f in filters:
        s = summarise(results[f], raw_results or results[f], templates, attackers, seen[f])
        worst = s["worst_unseen"] or {}
        out["filters"][f] = {
            "seen": sorted(seen[f]),
            "unseen": [n for n in attackers if n not in seen[f]],
            "worst_unseen_match_rate": worst.get("match_rate"),
            "worst_unseen_match_rate_by": worst.get("match_rate_recogniser"),
            "worst_unseen_rank1": worst.get("rank1"),
            "worst_unseen_rank1_by": worst.get("rank1_recogniser"),
            "rank1_chance": worst.get("rank1_chance"),
            "psnr_db": s["fidelity"]["crop_psnr"],
            **{f"dhr_{j}_bpm": s["utility"][j]["dhr_bpm"] for j in JUDGES},
            "per_recogniser": {n: {"seen": r["seen"], "match_rate": r["match_rate"], "rank1": r["rank1"]} for n, r in s["privacy"].items()},
        }
        if args.own_detector:
            out["filters"][f]["own_detector"] = own_detector(raws, build[f], attackers, templates, args.transport)
    print(json.dumps(out, indent=1, default=float))
    if not args.json:
        names = list(attackers)
        print(
            f"\n{len(clips)} unseen people, {args.seconds:g} s each, {path}, gallery: {gallery}; "
            f"match rate / rank-1 (chance {1 / len(clips):.1%}); * = seen by the filter"
        )
        print(f"{'filter':<9} {'worst unseen':>24} " + " ".join(f"{n:>17}" for n in names) + f" {'PSNR':>6} {'dHR POS':>8}")
        for f, r in out["filters"].items():
            worst = f"{r['worst_unseen_match_rate']:.0%} / {r['worst_unseen_rank1']:.0%}" if r["worst_unseen_match_rate"] is not None else "-"
            cells = " ".join(f"{('*' if p['seen'] else '') + '{:.0%} / {:.0%}'.format(p['match_rate'], p['rank1']):>17}" for p in r["per_recogniser"].values())
            print(f"{f:<9} {worst:>24} {cells} {r['psnr_db']:>6.1f} {r['dhr_pos_bpm']:>8.2f}")
        if args.own_detector:
            print("\nthe attacker finds the face itself (a frame without a face is a miss): face found; match rate / rank-1")
            for f, r in out["filters"].items():
                own = r["own_detector"]
                cells = " ".join(f"{'{:.0%} / {:.0%}'.format(o['match_rate'], o['rank1']):>17}" for o in own.values())
                print(f"{f:<9} {next(iter(own.values()))['found']:>24.0%} {cells}")


if __name__ == "__main__":
    main()
