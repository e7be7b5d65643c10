"""The recogniser zoo's accuracy and cost, as JSON + a table.

    python benchmarks/recognisers.py [--people 150] [--json]

For every registered recogniser, on the lfw549 photos of up to ``--people`` identities outside
lfw549's suggested validation split (the calibration set of the judges' thresholds): the distance
at which 0.3 % of different-person pairs match (``threshold_fmr_0.3``: the judges' own thresholds
are set there, where dlib's and SFace's published ones fall) with the share of same-person pairs
matched there, and the equal-error threshold with its balanced accuracy; then pair accuracy at the
recogniser's own threshold on LFW-10 (10 people x 4 photos, 780 pairs; a judge must reach 97 %),
and ms per descriptor (alignment included).
Faces are found by dlib's HOG detector. Reads ../shared/data (test data; the product never does).
"""

from __future__ import annotations

import argparse
import json
import time
from itertools import combinations
from pathlib import Path

import cv2
import dlib
import numpy as np

from vcam.engine.recognisers import RECOGNISERS

from table import emit

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces"
FMR = 0.003


def faces(paths: list[tuple[str, Path]]) -> list[tuple[str, np.ndarray, tuple[int, int, int, int]]]:
    """(person, RGB image, dlib box of its largest face) for each photo with a face."""
    detector, out = dlib.get_frontal_face_detector(), []
    for person, path in paths:
        img = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        found = detector(img, 1)
        if found:
            r = max(found, key=lambda r: r.area())
            out.append((person, img, (r.left(), r.top(), r.right(), r.bottom())))
    return out


def calibration_photos(people: int, per_person: int = 4) -> list[tuple[str, Path]]:
    meta = json.loads((DATA / "lfw549" / "identities.json").read_text())
    held_out = set(meta["_split_suggestion"]["val"])
    names = [n for n in meta if not n.startswith("_") and n not in held_out][:people]
    return [(n, DATA / "lfw549" / f) for n in names for f in meta[n][:per_person]]


def lfw10_photos() -> list[tuple[str, Path]]:
    return [(p.parent.name, p) for p in sorted((DATA / "lfw10").glob("*/*_000[1-4].jpg"))]


def pair_distances(embedder, items) -> tuple[np.ndarray, np.ndarray, float]:
    """Distances and same-person flags of all pairs, and ms per descriptor."""
    t0 = time.perf_counter()
    desc = [embedder.describe(img, box) for _, img, box in items]
    ms = 1000 * (time.perf_counter() - t0) / len(items)
    pairs = list(combinations(range(len(items)), 2))
    dist = np.array([embedder.distance(desc[i], desc[j]) for i, j in pairs])
    same = np.array([items[i][0] == items[j][0] for i, j in pairs])
    return dist, same, ms


def equal_error(dist: np.ndarray, same: np.ndarray) -> tuple[float, float]:
    """(threshold, balanced accuracy) where the false-match and false-non-match rates cross."""
    candidates = np.unique(np.quantile(dist, np.linspace(0, 1, 2001)))
    gaps = [abs((dist[~same] < t).mean() - (dist[same] >= t).mean()) for t in candidates]
    t = float(candidates[int(np.argmin(gaps))])
    return t, float(((dist[same] < t).mean() + (dist[~same] >= t).mean()) / 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=150, help="lfw549 calibration identities (default: 150)")
    ap.add_argument("--json", action="store_true", help="print JSON only")
    args = ap.parse_args()
    calibration, lfw10 = faces(calibration_photos(args.people)), faces(lfw10_photos())
    result: dict = {"calibration_faces": len(calibration), "lfw10_faces": len(lfw10), "recognisers": {}}
    for name, make in RECOGNISERS.items():
        embedder = make()
        dist, same, ms = pair_distances(embedder, calibration)
        threshold, balanced = equal_error(dist, same)
        at_fmr = float(np.quantile(dist[~same], FMR))
        d10, s10, _ = pair_distances(embedder, lfw10)
        result["recognisers"][name] = {
            "threshold": embedder.threshold,
            "threshold_fmr_0.3": round(at_fmr, 3),
            "true_match_rate_there": round(float((dist[same] < at_fmr).mean()), 4),
            "eer_threshold_lfw549": round(threshold, 4),
            "eer_balanced_accuracy_lfw549": round(balanced, 4),
            "lfw10_pair_accuracy": round(float(((d10 < embedder.threshold) == s10).mean()), 4),
            "ms_per_descriptor": round(ms, 1),
        }
    emit(
        result,
        result["recognisers"],
        [
            ("threshold", "threshold", ".3f"),
            ("threshold_fmr_0.3", "at FMR 0.3%", ".3f"),
            ("true_match_rate_there", "TMR there", ".3f"),
            ("eer_threshold_lfw549", "EER thr", ".3f"),
            ("eer_balanced_accuracy_lfw549", "bal. acc", ".4f"),
            ("lfw10_pair_accuracy", "LFW-10 acc", ".4f"),
            ("ms_per_descriptor", "ms", ".1f"),
        ],
        args.json,
        "recogniser",
    )


if __name__ == "__main__":
    main()
