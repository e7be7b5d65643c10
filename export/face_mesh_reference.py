"""Record what MediaPipe's own face-mesh pipeline finds on the test inputs, as the yardstick for the
converted models: ``python -m vcam.export.face_mesh_reference --data DIR --out FILE``.

Needs ``mediapipe==0.10.21`` (its legacy ``FaceMesh`` solution), which the project no longer
installs: run it in a throw-away venv. Writes one compressed ``.npz`` whose keys are the input names
(``evm`` for the EVM video in tracking mode, ``photo/<file>`` for still photos) and whose values are
``(frames, faces, 468, 3)`` float16 landmarks in pixels (x, y and MediaPipe's relative depth in x's
scale), NaN where MediaPipe found fewer faces than the most it found in any frame.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import cv2
import numpy as np

PHOTOS = ("faces/face_recognition/examples/obama.jpg", "faces/face_recognition/examples/two_people.jpg", "faces/face_recognition/examples/biden.jpg")
LFW10_PER_PERSON = 2
VIDEO = "video/evm/face.mp4"
MAX_FACES = 4


def landmarks(mesh: object, rgb: np.ndarray) -> list[np.ndarray]:
    """What MediaPipe's legacy ``FaceMesh`` ``mesh`` finds in ``rgb``: ``(468, 3)`` float32 pixels per face."""
    h, w = rgb.shape[:2]
    result = mesh.process(rgb)  # type: ignore[attr-defined]
    return [np.array([(p.x * w, p.y * h, p.z * w) for p in lm.landmark], np.float32) for lm in result.multi_face_landmarks or []]


def _stack(per_frame: list[list[np.ndarray]]) -> np.ndarray:
    faces = max(1, max(len(f) for f in per_frame))
    out = np.full((len(per_frame), faces, 468, 3), np.nan, np.float32)
    for i, found in enumerate(per_frame):
        for j, pts in enumerate(found):
            out[i, j] = pts
    return out.astype(np.float16)


def photo_paths(data: Path) -> list[Path]:
    """The still photos the reference covers: three face_recognition examples and LFW-10's first photos."""
    lfw = [p for person in sorted((data / "faces/lfw10").iterdir()) if person.is_dir() for p in sorted(person.glob("*.jpg"))[:LFW10_PER_PERSON]]
    return [data / p for p in PHOTOS] + lfw


def record(data: Path) -> dict[str, np.ndarray]:
    """Landmarks of MediaPipe's FaceMesh on the EVM video (tracking) and the photos (static)."""
    from mediapipe.python.solutions import face_mesh

    out: dict[str, np.ndarray] = {}
    with face_mesh.FaceMesh(static_image_mode=False, max_num_faces=MAX_FACES, refine_landmarks=False) as mesh:
        cap = cv2.VideoCapture(str(data / VIDEO))
        frames = []
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            frames.append(landmarks(mesh, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))
        out["evm"] = _stack(frames)
    with face_mesh.FaceMesh(static_image_mode=True, max_num_faces=MAX_FACES, refine_landmarks=False) as mesh:
        for path in photo_paths(data):
            rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
            out[f"photo/{path.relative_to(data)}"] = _stack([landmarks(mesh, rgb)])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="the shared data folder (video/evm/face.mp4, faces/...)")
    parser.add_argument("--out", type=Path, required=True, help="the .npz to write (refused if it exists)")
    args = parser.parse_args()
    if args.out.exists():
        parser.error(f"{args.out} exists; not overwriting it")
    arrays: dict[str, Any] = record(args.data)
    np.savez_compressed(args.out, **arrays)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
