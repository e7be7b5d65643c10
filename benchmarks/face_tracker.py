"""The face tracker on onnxruntime (``vcam.engine.face_mesh``) against MediaPipe's own ``FaceMesh``,
when mediapipe 0.10.21 is importable (it is not a dependency: install it in a venv with numpy < 2).

    python benchmarks/face_tracker.py [--frames 300] [--json]

Per input (the EVM video at its own size, and the same frames centred on a 1280x720 canvas) and per
``max_faces`` (1: detection only when the face is lost; 4: detection on every frame, the runtime's
setting): median and p95 ms per frame, one process, after 10 warm-up frames. With mediapipe, also
the landmark distance to MediaPipe's (mean over frames, in inter-ocular distances).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from vcam.engine.face_mesh import FaceMesh
from vcam.export.face_mesh_reference import landmarks

EVM = Path(__file__).resolve().parents[2] / "shared" / "data" / "video" / "evm" / "face.mp4"
WARM = 10


def frames(limit: int) -> dict[str, list[np.ndarray]]:
    cap = cv2.VideoCapture(str(EVM))
    own = []
    while len(own) < limit:
        ok, bgr = cap.read()
        if not ok:
            break
        own.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    h, w = own[0].shape[:2]
    top, left = (720 - h) // 2, (1280 - w) // 2
    canvas = [cv2.copyMakeBorder(f, top, 720 - h - top, left, 1280 - w - left, cv2.BORDER_REPLICATE) for f in own]
    return {f"evm {w}x{h}": own, "evm on 1280x720": canvas}


def timed(process: Callable[[np.ndarray], list[np.ndarray]], images: list[np.ndarray]) -> tuple[list[float], list[list[np.ndarray]]]:
    for image in images[:WARM]:
        process(image)
    times, found = [], []
    for image in images:
        t0 = time.perf_counter()
        found.append(process(image))
        times.append((time.perf_counter() - t0) * 1e3)
    return times, found


def mediapipe_mesh(max_faces: int) -> Callable[[np.ndarray], list[np.ndarray]] | None:
    try:
        from mediapipe.python.solutions import face_mesh
    except ImportError:
        return None
    mesh = face_mesh.FaceMesh(max_num_faces=max_faces, refine_landmarks=False)
    return lambda image: landmarks(mesh, image)


def distance(ours: list[list[np.ndarray]], theirs: list[list[np.ndarray]]) -> float:
    gaps = []
    for a, b in zip(ours, theirs, strict=True):
        if a and b:
            iod = np.linalg.norm(b[0][33, :2] - b[0][263, :2])
            gaps.append(float(np.linalg.norm(a[0][:, :2] - b[0][:, :2], axis=1).mean() / iod))
    return float(np.mean(gaps))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = []
    for name, images in frames(args.frames).items():
        for max_faces in (1, 4):
            ours_ms, ours = timed(FaceMesh(max_faces=max_faces).process, images)
            row = {"input": name, "max_faces": max_faces, "onnx_median_ms": float(np.median(ours_ms)), "onnx_p95_ms": float(np.percentile(ours_ms, 95))}
            reference = mediapipe_mesh(max_faces)
            if reference is not None:
                mp_ms, theirs = timed(reference, images)
                row |= {"mediapipe_median_ms": float(np.median(mp_ms)), "mediapipe_p95_ms": float(np.percentile(mp_ms, 95))}
                row["landmark_gap_iod"] = distance(ours, theirs)
            rows.append(row)
    if args.json:
        print(json.dumps({"frames": args.frames, "rows": rows}, indent=1))
        return
    for row in rows:
        print("  ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))


if __name__ == "__main__":
    main()
