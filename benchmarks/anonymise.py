"""The anonymise filter beyond the zoo's match rates (``benchmarks/unseen.py`` measures those): does
the output still look like a face to detectors, does it keep the user's pose, does it flicker, can
calls be linked, what does it cost. JSON + a table.

    python benchmarks/anonymise.py [--people 10] [--seconds 2] [--json]

People: the first ``--people`` lfw549 validation identities with 4+ photos (as unseen.py), one
animated clip each, run as the runtime runs them. Figures:

- ``detected``: per detector (MediaPipe face mesh, dlib HOG, OpenCV Haar), the share of frames in
  which it finds a face, raw and anonymised (meeting apps' own framing and effects need a face);
- ``outline_error_iod`` / ``landmark_error_iod``: mean distance between the face-oval (all)
  landmarks MediaPipe finds on the anonymised and on the raw frame, in inter-ocular distances
  (the outline should stay; the inner landmarks move by design);
- ``flicker``: mean absolute change of the face crop between consecutive frames (8-bit levels),
  raw and anonymised;
- ``linkability``: per recogniser, the share of cross-clip pairs it calls the same person:
  ``same_seed_other_people`` (two users, one seed: is the virtual person recognisable as itself?),
  ``other_seed_same_person`` (one user, two seeds: are a user's random-mode calls linkable?),
  ``other_seed_other_people`` (the base rate);
- ``filter_ms``: median per-face cost of the filter alone.
Reads ../shared/data (test data; the product never does).
"""

from __future__ import annotations

import argparse
import itertools
import json
import time

import cv2
import dlib
import numpy as np

from vcam.engine.crop import crop_face
from vcam.engine.face_regions import face_oval
from vcam.engine.filters import make_filter
from vcam.engine.pipeline import face_box
from vcam.engine.recognisers import RECOGNISERS
from vcam.engine.tracking import FaceTracker
from vcam.models.evaluation.clips import photo_clips
from vcam.models.evaluation.protect import ProtectedRun, protect_clip, track_clip

from unseen import people

SEEDS = (101, 202)


def detectors() -> dict:
    """Face detectors an attacker or a meeting app may run: name -> (uint8 RGB -> found a face)."""
    mesh = FaceTracker(max_faces=1, static=True)
    hog = dlib.get_frontal_face_detector()
    haar = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    return {
        "mediapipe": lambda im: bool(mesh.detect(im)),
        "dlib_hog": lambda im: len(hog(im, 1)) > 0,
        "opencv_haar": lambda im: len(haar.detectMultiScale(cv2.cvtColor(im, cv2.COLOR_RGB2GRAY), 1.1, 4)) > 0,
    }


def landmark_errors(run: ProtectedRun, tracker: FaceTracker, every: int = 5) -> tuple[float, float]:
    outline, whole = [], []
    for i in run.face_frames[::every]:
        out, raw = tracker.detect(run.out[i]), tracker.detect(run.raw[i])
        if out and raw:
            iod = np.linalg.norm(raw[0][33] - raw[0][263])
            d = np.linalg.norm(out[0] - raw[0], axis=1) / iod
            outline.append(d[face_oval()].mean())
            whole.append(d.mean())
    return float(np.mean(outline)), float(np.mean(whole))


def flicker(frames: list[np.ndarray], run: ProtectedRun) -> float:
    crops = [crop_face(frames[i], run.tracks[i]) * 255 for i in run.face_frames]
    return float(np.mean([np.abs(b - a).mean() for a, b in itertools.pairwise(crops)]))


def filter_ms(analyses: list, seed: int) -> float:
    f = make_filter("anonymise", identity_seed=seed)
    times = []
    for a in analyses:
        if a.tracks:
            track = a.tracks[0]
            crop, mesh = crop_face(a.frame.image, track), track.crop_mesh()
            t = time.perf_counter()
            f.process(crop, track.track_id, 1.0, mesh)
            times.append(time.perf_counter() - t)
    return float(np.median(times[5:]) * 1000)


def linkability(runs: dict[int, list[ProtectedRun]], attackers: dict, every: int = 10) -> dict:
    """Per recogniser, the share of cross-clip descriptor pairs it matches, by relation."""
    out = {}
    for name, judge in attackers.items():
        emb = {s: [[judge.describe(r.out[i], face_box(r.tracks[i])) for i in r.face_frames[::every]] for r in rs] for s, rs in runs.items()}
        rates: dict[str, list[bool]] = {"same_seed_other_people": [], "other_seed_same_person": [], "other_seed_other_people": []}
        a, b = SEEDS
        people_n = len(emb[a])
        for p, q in itertools.product(range(people_n), repeat=2):
            for x, y in itertools.product(emb[a][p], emb[b][q]):
                rates["other_seed_same_person" if p == q else "other_seed_other_people"].append(judge.match(x, y))
            if p < q:
                for x, y in itertools.product(emb[a][p], emb[a][q]):
                    rates["same_seed_other_people"].append(judge.match(x, y))
        out[name] = {k: round(float(np.mean(v)), 4) for k, v in rates.items()}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--json", action="store_true", help="print JSON only")
    args = ap.parse_args()
    clips = photo_clips(people(args.people), seconds=args.seconds, per_identity=1)
    analyses = [track_clip(c) for c in clips]
    runs = {
        s: [protect_clip(c, lambda s=s: make_filter("anonymise", identity_seed=s), analyses=a) for c, a in zip(clips, analyses, strict=True)] for s in SEEDS
    }
    first = runs[SEEDS[0]]
    found = detectors()
    detected = {
        name: {"raw": float(np.mean([see(f) for r in first for f in r.raw[::5]])), "anonymised": float(np.mean([see(f) for r in first for f in r.out[::5]]))}
        for name, see in found.items()
    }
    with FaceTracker(max_faces=1, static=True) as tracker:
        errors = [landmark_errors(r, tracker) for r in first]
    result = {
        "people": len(clips),
        "seconds": args.seconds,
        "seeds": list(SEEDS),
        "detected": detected,
        "outline_error_iod": round(float(np.mean([e[0] for e in errors])), 4),
        "landmark_error_iod": round(float(np.mean([e[1] for e in errors])), 4),
        "flicker": {
            "raw": round(float(np.mean([flicker(r.raw, r) for r in first])), 3),
            "anonymised": round(float(np.mean([flicker(r.out, r) for r in first])), 3),
        },
        "linkability": linkability(runs, {n: make() for n, make in RECOGNISERS.items()}),
        "filter_ms": round(float(np.median([filter_ms(a, SEEDS[0]) for a in analyses])), 3),
    }
    print(json.dumps(result, indent=1))
    if args.json:
        return
    print(f"\n{len(clips)} people, {args.seconds:g} s each")
    for name, d in detected.items():
        print(f"face found by {name:<12} raw {d['raw']:.1%}  anonymised {d['anonymised']:.1%}")
    print(
        f"outline moved {result['outline_error_iod']:.3f} IOD (all landmarks {result['landmark_error_iod']:.3f}); "
        f"flicker raw {result['flicker']['raw']:.2f} / anonymised {result['flicker']['anonymised']:.2f} levels; filter {result['filter_ms']:.2f} ms per face"
    )
    print(f"{'recogniser':<12}{'same seed, other people':>26}{'other seed, same person':>26}{'other seed, other people':>26}")
    for name, r in result["linkability"].items():
        print(f"{name:<12}{r['same_seed_other_people']:>26.1%}{r['other_seed_same_person']:>26.1%}{r['other_seed_other_people']:>26.1%}")


if __name__ == "__main__":
    main()
