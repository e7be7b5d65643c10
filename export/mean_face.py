"""Build the mean face shape the anonymise filter draws its virtual people from
(``engine/assets/mean_face.npz``): ``python -m vcam.export.mean_face [--data DIR] [--out FILE]``.

The runtime's tracker (MediaPipe face mesh, static mode) reads every photo of the lfw549 identities
outside the suggested validation split; each face's 468 landmarks, in the runtime's crop coordinates
(``vcam.engine.tracking.similarity_matrix``) with MediaPipe's relative depth, are averaged. Only that
average (468 x 3 floats, a population statistic that belongs to nobody) is written, with the number
of faces and the source recorded beside it; no photo or per-person value is kept. The card is ``engine/assets/mean_face.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from vcam.engine.tracking import FaceTracker, similarity_matrix, transform_points
from vcam.engine.virtual_face.shape import MEAN_FACE
from vcam.models.evaluation.clips import read_rgb

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces" / "lfw549"


def mean_shape(data: Path) -> tuple[np.ndarray, int]:
    """Mean crop-space landmarks (x, y, depth) over the non-validation photos of ``data``, and how many faces."""
    meta = json.loads((data / "identities.json").read_text())
    held_out = set(meta["_split_suggestion"]["val"])
    total, count = np.zeros((468, 3)), 0
    with FaceTracker(max_faces=1, static=True) as tracker:
        for person in sorted(p for p in data.iterdir() if p.is_dir() and p.name not in held_out):
            for photo in sorted(person.glob("*.jpg")):
                faces = tracker.detect(read_rgb(photo), depth=True)  # detect, not update: photos are not frames of one video
                if faces:
                    matrix = similarity_matrix(faces[0][:, :2])
                    scale = np.sqrt(abs(np.linalg.det(matrix[:, :2])))
                    total += np.column_stack([transform_points(matrix, faces[0][:, :2]), faces[0][:, 2] * scale])
                    count += 1
    if not count:
        raise SystemExit(f"no face found under {data}")
    return (total / count).astype(np.float32), count


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA, help="lfw549 folder (default: ../shared/data/faces/lfw549)")
    ap.add_argument("--out", type=Path, default=MEAN_FACE)
    args = ap.parse_args()
    if not (args.data / "identities.json").is_file():
        sys.exit(f"error: {args.data} is not the lfw549 folder (no identities.json)")
    shape, count = mean_shape(args.data)
    np.savez_compressed(args.out, landmarks=shape[:, :2], depth=shape[:, 2], faces=np.int64(count), source=np.str_("lfw549 minus its validation split"))
    print(f"{args.out}: mean of {count} faces")


if __name__ == "__main__":
    main()
