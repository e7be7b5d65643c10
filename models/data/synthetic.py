"""Semi-synthetic training clips from REAL face photos with a known, injected pulse.

Each clip animates one identity-labelled photo with ``AnimatedPhotoSource`` (head motion with
slight perspective, lighting drift, sensor noise, JPEG compression, a contact-PPG-shaped pulse
of random HR 45-180 bpm with HRV and a dicrotic notch on the skin pixels), then crops the face
with the runtime's own tracker and cropper, so training sees exactly what the runtime feeds the
AE. The injected pulse is the ground truth. Splits are identity-disjoint.

Photo folders use one sub-folder per identity (LFW layout): ``<root>/<identity>/<photo>.jpg``;
a JSON manifest ``{"<identity>": ["<photo path relative to the manifest>", ...]}`` works too.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vcam.engine.crop import crop_face
from vcam.engine.errors import SourceError, VcamError
from vcam.engine.tracking import FaceTracker
from vcam.engine.video.sources import AnimatedPhotoSource

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass
class Clip:
    """``frames`` float32 [T, 128, 128, 3] RGB in [0, 1]; ``skin`` bool [T, 128, 128];
    ``blend`` float16 [T, 128, 128] in [0, 1], the compositor's feathered face-oval mask (the
    runtime pastes the AE's change only there); ``bvp`` float32 [T] injected pulse;
    ``identity`` the photo's label."""

    frames: np.ndarray
    skin: np.ndarray
    blend: np.ndarray
    bvp: np.ndarray
    hr_bpm: float
    identity: str
    source: str


def photo_identities(root: Path, only: Sequence[str] = ()) -> dict[str, list[Path]]:
    """``{identity: photos}`` of a folder with one sub-folder per identity, or of a JSON manifest
    mapping identity -> photo paths relative to it (keys starting with ``_`` and values that are
    not lists are ignored). ``only``, if given, keeps just those identities (each must exist)."""
    root = Path(root)
    if root.suffix.lower() == ".json" and root.is_file():
        try:
            manifest = json.loads(root.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise VcamError(f"cannot read photo manifest {root}: {exc}") from None
        if not isinstance(manifest, dict):
            raise VcamError(f"{root}: expected a JSON object {{identity: [photo paths]}}")
        ids = {
            k: sorted(root.parent / p for p in v if isinstance(p, str) and Path(p).suffix.lower() in PHOTO_SUFFIXES)
            for k, v in sorted(manifest.items())
            if not k.startswith("_") and isinstance(v, list)
        }
        if missing := [p for v in ids.values() for p in v if not p.is_file()]:
            raise VcamError(f"{root}: photo not found: {missing[0]}")
    elif root.is_dir():
        ids = {d.name: sorted(p for p in d.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES) for d in sorted(root.iterdir()) if d.is_dir()}
    else:
        raise VcamError(f"photo folder not found: {root}")
    if only:
        if unknown := sorted(set(only) - set(ids)):
            raise VcamError(f"{root} has no identity {unknown[0]!r}")
        ids = {k: v for k, v in ids.items() if k in only}
    ids = {k: v for k, v in ids.items() if v}
    if not ids:
        raise VcamError(f"{root} has no identities with photos (expected <root>/<identity>/<photo>.jpg or a JSON manifest)")
    return ids


def _val_size(n_ids: int, val_fraction: float) -> int:
    return min(max(1, round(n_ids * val_fraction)), n_ids - 1)


def split_folds(n_ids: int, val_fraction: float = 0.2) -> int:
    """How many disjoint validation folds ``split_identities`` has for ``n_ids`` identities (one,
    with an empty validation group, for a single identity)."""
    n_val = _val_size(n_ids, val_fraction)
    return n_ids // n_val if n_val else 1


def split_identities(ids: list[str], val_fraction: float = 0.2, seed: int = 0, fold: int = 0) -> tuple[list[str], list[str]]:
    """Identity-disjoint (train, validation) split; at least one identity in each. The identities,
    shuffled by ``seed``, fall into ``split_folds`` disjoint validation groups; ``fold`` picks one
    (k-fold cross-validation: each identity is validated in at most one fold; all of them when the
    group size divides their number, as for LFW-10's ten at 0.2). Raises ValueError for a fold out
    of range."""
    order = list(np.random.default_rng(seed).permutation(sorted(ids)))
    n_val, folds = _val_size(len(order), val_fraction), split_folds(len(order), val_fraction)
    if not 0 <= fold < folds:
        raise ValueError(f"validation fold {fold} out of range: {len(order)} identities at val_fraction {val_fraction} make {folds} folds (0..{folds - 1})")
    val = order[fold * n_val : (fold + 1) * n_val]
    return sorted(set(order) - set(val)), sorted(val)


def make_clip(
    photo: Path | np.ndarray, identity: str, length: int = 64, seed: int = 0, size: int = 256, tracker: FaceTracker | None = None, source: str | None = None
) -> Clip | None:
    """One clip of ``length`` frames from a photo file or a uint8 RGB image (``source`` names
    it then); ``None`` if the face is not found in every frame."""
    rng = np.random.default_rng(seed)
    if isinstance(photo, np.ndarray):
        image, source = photo, source or identity
    else:
        image, source = cv2.cvtColor(cv2.imread(str(photo)), cv2.COLOR_BGR2RGB), str(photo)
    hr = float(rng.uniform(45.0, 180.0))
    try:
        src = AnimatedPhotoSource(
            image,
            size,
            size,
            hr_bpm=hr,
            amplitude=float(rng.uniform(0.003, 0.008)),
            frames=length,
            seed=seed,
            motion=float(rng.uniform(0.5, 1.5)),
            perspective=float(rng.uniform(0.0, 0.05)),
            jpeg_quality=int(rng.integers(70, 96)),
            name=source,
        )
    except SourceError:
        return None
    own = tracker is None
    tracker = tracker or FaceTracker(max_faces=1)
    crops, skins, blends = [], [], []
    try:
        while (img := src.read()) is not None:
            tracks = tracker.update(img)
            if not tracks:
                return None
            crops.append(crop_face(img, tracks[0]))
            skins.append(tracks[0].skin_mask)
            blends.append(tracks[0].blend_mask.astype(np.float16))
    finally:
        if own:
            tracker.close()
    return Clip(np.stack(crops), np.stack(skins), np.stack(blends), src.bvp[:length].astype(np.float32), hr, identity, source)
