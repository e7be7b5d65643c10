"""Evaluation clips: full RGB frames with what is known about them.

``EvalClip.frames`` are uint8 (H, W, 3) RGB frames at ``fps``; ``bvp`` is the ground-truth pulse
per frame when the dataset has one (injected pulse of an animated photo, contact PPG of a
recording), else ``None``; ``identity`` groups clips of one person and ``gallery`` holds that
person's original photos (uint8 RGB) for the verification attacks, if any.

Sources: a folder of identity-labelled photos (``<root>/<identity>/<photo>.jpg``; every photo is
animated into a clip with a random injected pulse, as in training), a single video file, or a
real rPPG dataset folder (PURE, UBFC-rPPG, generic; see ``vcam.models.data.datasets``).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vcam.engine.errors import SourceError, VcamError
from vcam.engine.video.sources import INJECTED_PULSE, AnimatedPhotoSource, VideoFileSource

from ..data.datasets import VIDEO_SUFFIXES, load_dataset
from ..data.synthetic import photo_identities


@dataclass
class EvalClip:
    name: str
    frames: list[np.ndarray]
    fps: float
    identity: str
    bvp: np.ndarray | None = None
    gallery: list[np.ndarray] = field(default_factory=list)


def read_rgb(path: Path) -> np.ndarray:
    image = cv2.imread(str(path))
    if image is None:
        raise SourceError(f"cannot read image {path}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def photo_clips(
    root: Path,
    identities: list[str] | None = None,
    seconds: float = 10.0,
    size: int = 320,
    fps: float = 30.0,
    seed: int = 0,
    per_identity: int | None = None,
    other_photos: bool = False,
    hr_range: tuple[float, float] = (50.0, 120.0),
    amplitude: float = INJECTED_PULSE,
) -> list[EvalClip]:
    """One animated clip per photo of ``identities`` (all if None; the first ``per_identity``
    photos of each if given); the gallery is every photo of the identity, or with ``other_photos``
    every photo but the clip's own (the attacker has other pictures of the person, not the very
    one the call shows: its hair, clothes and background). HR is drawn per clip from ``hr_range``
    (default: the resting video-call range); ``amplitude`` is the injected pulse's (0: the clips' pulse-free
    twins, the same motion and noise without a pulse)."""
    photos = photo_identities(Path(root))
    clips = []
    for ident in identities or sorted(photos):
        gallery = [read_rgb(p) for p in photos[ident]]
        for path, image in list(zip(photos[ident], gallery, strict=True))[:per_identity]:
            clip_seed = seed * 100_003 + zlib.crc32(f"{ident}/{path.name}".encode()) % 100_000
            rng = np.random.default_rng(clip_seed)
            try:
                src = AnimatedPhotoSource(
                    image,
                    size,
                    size,
                    fps,
                    hr_bpm=float(rng.uniform(*hr_range)),
                    amplitude=amplitude,
                    frames=round(seconds * fps),
                    seed=clip_seed,
                    motion=1.0,
                    perspective=0.03,
                    jpeg_quality=90,
                    name=str(path),
                )
            except SourceError:
                continue  # no face in this photo
            frames = []
            while (f := src.read()) is not None:
                frames.append(f)
            shown = [g for p, g in zip(photos[ident], gallery, strict=True) if p != path] if other_photos else gallery
            clips.append(EvalClip(f"{ident}/{path.stem}", frames, fps, ident, src.bvp[: len(frames)].astype(np.float64), shown))
    return clips


def video_clip(path: Path, max_seconds: float | None = None) -> EvalClip:
    """A single video; its identity is the file name and it has no gallery (verification then
    uses the raw frames as the gallery)."""
    with VideoFileSource(path) as src:
        frames: list[np.ndarray] = []
        while (max_seconds is None or len(frames) < max_seconds * src.fps) and (f := src.read()) is not None:
            frames.append(f)
        return EvalClip(Path(path).stem, frames, src.fps, Path(path).stem)


def recording_clips(root: Path, max_seconds: float | None = 60.0) -> list[EvalClip]:
    """Clips of a real rPPG dataset, with the contact PPG resampled onto the frames."""
    clips = []
    for rec in load_dataset(Path(root)):
        frames: list[np.ndarray] = []
        for f in rec.read_frames():
            if max_seconds is not None and len(frames) >= max_seconds * rec.fps:
                break
            frames.append(f)
        clips.append(EvalClip(rec.name, frames, rec.fps, rec.subject, rec.ppg_at(rec.frame_times[: len(frames)])))
    return clips


def load_clips(spec: str | Path, **photo_options: Any) -> list[EvalClip]:
    """``spec``: a video file, a folder of identity-labelled photos, or an rPPG dataset folder."""
    path = Path(spec)
    if path.is_file() and path.suffix.lower() in VIDEO_SUFFIXES:
        return [video_clip(path)]
    if not path.is_dir():
        raise VcamError(f"dataset not found: {path} (expected a video file or a folder)")
    try:
        return recording_clips(path)
    except VcamError:
        pass
    try:
        return photo_clips(path, **photo_options)
    except VcamError:
        raise VcamError(
            f"{path}: not a video, an rPPG dataset (PURE, UBFC-rPPG, generic video+csv) or a photo folder (<root>/<identity>/<photo>.jpg)"
        ) from None
