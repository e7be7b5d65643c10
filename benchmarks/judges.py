"""Parity and sanity of the frozen judges (issue #3), as JSON + a table.

    python benchmarks/judges.py [--json]

dlib port vs dlib itself on the 100 LFW-10 photos (same dlib chip into both): max abs descriptor
difference, agreement of same/different decisions at 0.6 over all 4,950 pairs, and pair
verification accuracy (also for SFace, the second, independent recogniser); POS, CHROM, PhysNet and PhysFormer (open-rppg PURE weights) heart rate on
the real EVM face video (pulse ~52.7 bpm).
Reads ../shared/data (test data; the product never does).
"""

from __future__ import annotations

import argparse
import json
from itertools import combinations
from pathlib import Path

import cv2
import dlib
import numpy as np
import torch

from vcam.engine.crop import crop_face
from vcam.engine.pulse.rppg import METHODS
from vcam.engine.pulse.signals import heart_rate
from vcam.engine.recognisers import DLIB_THRESHOLD, DlibRecogniser, SFaceRecogniser
from vcam.engine.tracking import FaceTracker
from vcam.models.dlib_resnet import DlibFaceNet
from vcam.models.physformer import PhysFormer
from vcam.models.physnet import PhysNet

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def dlib_parity() -> dict:
    embedder, detector, net, sface = DlibRecogniser(), dlib.get_frontal_face_detector(), DlibFaceNet.from_file(), SFaceRecogniser()
    names, chips, theirs, sface_desc = [], [], [], []
    for path in sorted((DATA / "faces" / "lfw10").glob("*/*.jpg")):
        img = _rgb(path)
        rects = detector(img, 1)
        r = max(rects, key=lambda r: r.area()) if rects else dlib.rectangle(70, 70, 180, 180)
        box = (r.left(), r.top(), r.right(), r.bottom())
        chip = embedder.chip(img, box)
        sface_desc.append(sface.describe(img, box))
        names.append(path.parent.name)
        chips.append(chip)
        theirs.append(embedder.describe_chip(chip))
    with torch.no_grad():
        ours = net(torch.from_numpy(np.stack(chips)).permute(0, 3, 1, 2).float()).numpy()
    theirs = np.stack(theirs)
    agree = correct = sface_correct = pairs = 0
    for i, j in combinations(range(len(names)), 2):
        a = np.linalg.norm(ours[i] - ours[j]) < DLIB_THRESHOLD
        agree += a == (np.linalg.norm(theirs[i] - theirs[j]) < DLIB_THRESHOLD)
        correct += a == (names[i] == names[j])
        sface_correct += sface.match(sface_desc[i], sface_desc[j]) == (names[i] == names[j])
        pairs += 1
    return {
        "dlib_port_max_abs_diff": float(np.abs(ours - theirs).max()),
        "dlib_port_decision_agreement": agree / pairs,
        "lfw10_verification_accuracy": correct / pairs,
        "sface_lfw10_verification_accuracy": sface_correct / pairs,
        "lfw10_photos": len(names),
        "lfw10_pairs": pairs,
    }


def rppg_evm() -> dict:
    """HR read on the EVM video by POS, CHROM (skin means), PhysNet (32x32 crops) and PhysFormer
    (128x128 crops), each over the whole clip."""
    cap = cv2.VideoCapture(str(DATA / "video" / "evm" / "face.mp4"))
    fps = cap.get(cv2.CAP_PROP_FPS)
    means, small, full = [], [], []
    with FaceTracker(max_faces=1) as tracker:
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            img = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            (track,) = tracker.update(img)
            crop = crop_face(img, track)
            means.append(crop[track.skin_mask].mean(0))
            small.append(cv2.resize(crop, (32, 32), interpolation=cv2.INTER_AREA))
            full.append(crop)
    rgb = np.array(means)
    result = {f"{name}_hr_evm_bpm": heart_rate(method(rgb, fps), fps) for name, method in METHODS.items()}
    t = len(small) // 4 * 4
    with torch.no_grad():
        for key, net, crops in (("physnet", PhysNet, small), ("physformer", PhysFormer, full)):
            clip = torch.from_numpy(np.stack(crops[:t])).permute(3, 0, 1, 2)[None]
            result[f"{key}_hr_evm_bpm"] = heart_rate(net.pretrained("pure")(clip)[0].numpy(), fps)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    result = {**dlib_parity(), **rppg_evm()}
    if args.json:
        print(json.dumps(result))
        return
    for k, v in result.items():
        print(f"{k:<32}{v:.6g}" if isinstance(v, float) else f"{k:<32}{v}")


if __name__ == "__main__":
    main()
