"""``adaptive``: the identity pattern as each face's start, adapted to that
face while it is on screen by steps of dlib's and SFace's descriptor gradients."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from vcam.engine.background import lower_priority
from vcam.engine.filters.base import clamp_strength
from vcam.engine.filters.identity_pattern import load_pattern, warp_pattern
from vcam.engine.filters.pattern import PatternFilter, learned_with, pattern_file
from vcam.engine.recognisers import CHIP_SIZE, SFACE_SIZE, ArcFaceAligner, DlibRecogniser
from vcam.engine.recognisers.dlib_gradient import DescriptorGradient, IdentityGradient
from vcam.engine.recognisers.sface_gradient import SFaceGradient


def _local_contrast(chip: np.ndarray, window: int = 7) -> np.ndarray:
    """float32 (H, W) local standard deviation of ``chip``'s grey level in ``window`` px, scaled
    to mean 1: where a face has texture, SSIM tolerates change; on smooth skin it does not."""
    grey = chip.mean(axis=2)
    mean = cv2.blur(grey, (window, window))
    std = np.sqrt(np.maximum(cv2.blur(grey * grey, (window, window)) - mean * mean, 0.0))
    return std / max(float(std.mean()), 1e-6)


@dataclass
class _Job:
    """A recogniser's reading running beside the frame loop, and what applying it needs."""

    name: str
    future: Future  # -> (reference, distance, gradient or None)
    views: _FaceViews  # the frame it reads, to carry its gradient into the chip frame
    contrast: np.ndarray | None  # the step's weights; None for a settled face's check


@dataclass
class _AdaptiveTrack:
    change: np.ndarray  # float32 (150, 150, 3): the track's change at strength 1, in dlib's chip frame
    references: dict[str, np.ndarray] = field(default_factory=dict)  # each recogniser's descriptor of the raw face
    readings: dict[str, float] = field(default_factory=dict)  # each recogniser's last distance, protected to raw face
    referenced_at: int = 0  # the frame the references were read on
    adapting: bool = True  # some recogniser was below its target at the last reading
    checks: int = 0  # a settled face's checks so far: the recognisers take turns
    frames: int = 0
    job: _Job | None = None  # a background recogniser's reading in progress
    stale: set[str] = field(default_factory=set)  # background recognisers whose reference is to be re-read with their next reading


class _FaceViews:
    """One crop as each recogniser sees it: dlib's chip (the frame the change lives in) and SFace's
    ArcFace-aligned face (aligned on first use); images in 0..255 for the gradient graphs."""

    def __init__(self, crop: np.ndarray, chip: np.ndarray, placement: np.ndarray, aligner: ArcFaceAligner | None) -> None:
        self.crop, self.chip, self.placement, self._aligner = crop, chip, placement, aligner
        self._to_face: np.ndarray | None = None

    @property
    def to_face(self) -> np.ndarray:
        """SFace's 2x3 crop -> face matrix, from the raw crop's landmarks."""
        if self._to_face is None:
            assert self._aligner is not None, "only recognisers other than dlib need the face matrix, and they come with an aligner"
            h, w = self.crop.shape[:2]
            self._to_face = self._aligner.alignment(np.round(np.clip(self.crop, 0.0, 1.0) * 255).astype(np.uint8), (0, 0, w - 1, h - 1))
        return self._to_face

    def face(self, name: str, change: np.ndarray | None = None) -> np.ndarray:
        """The raw face, or with ``change`` (chip frame, already scaled by the strength) added."""
        if name == "dlib":
            return np.clip(self.chip if change is None else self.chip + change, 0.0, 1.0) * 255
        crop = self.crop if change is None else np.clip(self.crop + warp_pattern(change, self.placement, self.crop.shape[1::-1]), 0.0, 1.0)
        return cv2.warpAffine(crop, self.to_face, (SFACE_SIZE, SFACE_SIZE), flags=cv2.INTER_LINEAR) * 255

    def to_chip(self, name: str, grad: np.ndarray) -> np.ndarray:
        """A gradient on ``name``'s face carried into the chip frame (direction, not magnitude)."""
        if name == "dlib":
            return grad
        chip_to_face = self.to_face @ np.vstack([self.placement, [0.0, 0.0, 1.0]])
        return cv2.warpAffine(grad, chip_to_face, (CHIP_SIZE, CHIP_SIZE), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)


class AdaptivePatternFilter(PatternFilter):
    """The universal pattern as each face's starting point, then adapted to that face while it is
    on screen against each recogniser it knows (dlib, and SFace when given ``sface``): while some
    recogniser's distance between the protected and the raw face is below its target (``target``
    for dlib's Euclidean distance, ``sface_target`` for SFace's 1 - cosine), each frame takes one
    step of the gradient (``identity_gradient``, ``sface_gradient``) of the recogniser furthest
    below its target, and a face's first frame, the one an attacker sees first, up to
    ``first_steps``. A step moves the track's change by a tenth of the budget's norm; the change
    is kept within ``psnr_db`` on the crop (times the strength), weighted by the face's local
    contrast (SSIM tolerates change in texture, not on smooth skin), with zero mean per colour
    channel so it does not move the face's mean colour, which is what rPPG reads.
    Once every recogniser is past its target the change stays still, and one recogniser in turn
    re-reads the distance (forward pass only) every ``check_every`` frames; adapting resumes when
    a check finds a recogniser more than ``hysteresis`` below its target (without it, distances
    that hover at the target restarted the expensive steps every few frames); one of those checks in
    every ``reference_every`` frames re-reads the raw face's descriptors instead. A gradient costs
    a few times a distance (benchmarks/gradient_graphs.py), so a frame costs at most one gradient
    (a face's first frame up to ``first_steps``);
    a settled face costs a warp on most frames. With ``background``, SFace's readings (and its
    re-read references) run on one worker thread beside the frame loop and are applied on the first
    frame after they finish, so no frame waits for them; meanwhile dlib's steps go on."""

    name = "adaptive"

    def __init__(
        self,
        pattern: np.ndarray,
        gradient: DescriptorGradient | None = None,
        embedder: DlibRecogniser | None = None,
        psnr_db: float = 34.0,
        step: float = 0.1,
        target: float = 1.2,
        first_steps: int = 4,
        check_every: int = 5,
        reference_every: int = 30,
        smoothing: float = 0.8,
        sface: SFaceGradient | None = None,
        sface_target: float = 1.2,
        aligner: ArcFaceAligner | None = None,
        hysteresis: float = 0.1,
        background: bool = False,
        learned_with: frozenset[str] = frozenset({"dlib"}),
    ) -> None:
        super().__init__(pattern, embedder, smoothing)
        self.judges: dict[str, IdentityGradient] = {"dlib": gradient or DescriptorGradient()}
        self.targets = {"dlib": target}
        if sface is not None:
            self.judges["sface"], self.targets["sface"] = sface, sface_target
        self.recognisers = learned_with | frozenset(self.judges)
        self.aligner = (aligner or ArcFaceAligner()) if sface is not None else None
        self.psnr_db, self.step, self.first_steps, self.hysteresis = psnr_db, step, first_steps, hysteresis
        self.check_every, self.reference_every = check_every, reference_every
        self._tracks: dict[int, _AdaptiveTrack] = {}
        self.background = {"sface"} & set(self.judges) if background else set()
        # The background recogniser yields the CPU to the frame's own threads (a lower priority).
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="vcam-sface", initializer=lower_priority) if self.background else None

    def process(self, crop: np.ndarray, track_id: int, strength: float = 1.0, landmarks: np.ndarray | None = None) -> np.ndarray:
        h, w = crop.shape[:2]
        placement = self._place(crop, track_id)
        track = self._tracks.setdefault(track_id, _AdaptiveTrack(self.pattern.copy()))
        s = np.float32(clamp_strength(strength))
        budget = h * w * 3 * 10 ** (-self.psnr_db / 10)  # squared L2 norm of the crop's change at strength 1
        if track.job is not None and track.job.future.done():
            job, track.job = track.job, None
            reference, distance, grad = job.future.result()  # a failed reading raises here, into the pipeline's fallback
            track.references[job.name] = reference
            self._take(track, job.name, distance, grad, job.views, job.contrast, placement, budget)
        if track.adapting or track.frames % self.check_every == 0:
            chip = cv2.warpAffine(crop, placement, (CHIP_SIZE, CHIP_SIZE), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
            views = _FaceViews(crop, chip, placement, self.aligner)
            if reread := not track.references or track.frames - track.referenced_at >= self.reference_every:
                track.stale = set(self.judges) & self.background
                track.references.update({name: judge.describe(views.face(name)) for name, judge in self.judges.items() if name not in track.stale})
                track.referenced_at = track.frames
            if track.adapting:
                self._adapt(track, views, s, budget)
            elif not reread:  # a settled face's check: one recogniser in turn, forward pass only
                self._read(track, list(self.judges)[track.checks % len(self.judges)], views, s, None, budget)
                track.checks += 1
        change = self._bound(track, placement, (w, h), budget)
        track.frames += 1
        return np.clip(crop + s * change, 0.0, 1.0)

    def _adapt(self, track: _AdaptiveTrack, views: _FaceViews, s: np.float32, budget: float) -> None:
        """This frame's gradient steps (one, or up to ``first_steps`` on a face's first frame)."""
        contrast = _local_contrast(views.chip)[..., None]
        for k in range(self.first_steps if track.frames == 0 else 1):
            # a first frame's extra steps are dlib's: cheap, and one step of SFace's never got a new face past its threshold
            candidates = [n for n in (self.targets if k == 0 else ["dlib"]) if not (track.job and track.job.name == n)]
            name = min(candidates, key=lambda n: track.readings.get(n, -1.0) / self.targets[n])  # unread first
            if track.readings.get(name, -1.0) >= self.targets[name]:
                break  # only a recogniser whose reading is still running is below its target
            self._read(track, name, views, s, contrast, budget)
            if not track.adapting:
                break

    def _read(self, track: _AdaptiveTrack, name: str, views: _FaceViews, s: np.float32, contrast: np.ndarray | None, budget: float) -> None:
        """Read recogniser ``name``'s distance on this frame (and its gradient, to step, given the
        step's ``contrast`` weights), now or, for a background recogniser, beside the frame loop."""
        judge, face = self.judges[name], views.face(name, s * track.change)
        if name in self.background:
            if track.job is None:
                assert self._worker is not None  # there is one whenever a recogniser runs in the background
                raw = views.face(name) if name in track.stale or name not in track.references else None
                track.stale.discard(name)
                track.job = _Job(name, self._worker.submit(_reading, judge, raw, track.references.get(name), face, contrast is not None), views, contrast)
            return
        if contrast is None:
            distance, grad = judge.distance(face, track.references[name]), None
        else:
            distance, grad, _ = judge(face, track.references[name])
        self._take(track, name, distance, grad, views, contrast, views.placement, budget)

    def _take(
        self,
        track: _AdaptiveTrack,
        name: str,
        distance: float,
        grad: np.ndarray | None,
        views: _FaceViews,
        contrast: np.ndarray | None,
        placement: np.ndarray,
        budget: float,
    ) -> None:
        """Apply a reading: record it, and step (a gradient below the target) or decide whether a settled face adapts again."""
        track.readings[name] = distance
        if contrast is None:
            track.adapting = track.adapting or distance < self.targets[name] - self.hysteresis
            return
        if distance < self.targets[name] and grad is not None:
            grad = views.to_chip(name, grad) * contrast
            grad -= grad.mean(axis=(0, 1))
            track.change += np.float32(self.step * budget**0.5) * grad / max(float(np.linalg.norm(grad)), 1e-12)
            self._bound(track, placement, views.crop.shape[1::-1], budget)
        track.adapting = any(track.readings.get(n, -1.0) < t for n, t in self.targets.items())

    @staticmethod
    def _bound(track: _AdaptiveTrack, placement: np.ndarray, size: tuple[int, ...], budget: float) -> np.ndarray:
        """The track's change warped onto the crop, the change first scaled down to fit ``budget`` there."""
        change = warp_pattern(track.change, placement, size)
        if (energy := float(np.sum(change**2))) > budget:
            scale = np.float32((budget / energy) ** 0.5)
            track.change *= scale
            change *= scale
        return change

    def forget(self, live_ids: set[int]) -> None:
        super().forget(live_ids)
        for tid in set(self._tracks) - live_ids:
            del self._tracks[tid]


def _reading(
    judge: IdentityGradient, raw: np.ndarray | None, reference: np.ndarray | None, face: np.ndarray, gradient: bool
) -> tuple[np.ndarray, float, np.ndarray | None]:
    """A background reading: (reference, re-read from ``raw`` if given, distance of ``face``, its gradient if asked)."""
    reference = judge.describe(raw) if raw is not None else reference
    assert reference is not None, "a reading needs the raw face or a reference"
    if not gradient:
        return reference, judge.distance(face, reference), None
    distance, grad, _ = judge(face, reference)
    return reference, distance, grad


def build(model: Path | None, background: bool) -> AdaptivePatternFilter:
    """Steps against dlib and SFace, each gradient on one thread (they share the cores with tracking
    and the monitors); with ``background`` SFace's readings run on a worker thread beside the frame
    loop, without it in the loop, so a run is reproducible (the evaluations)."""
    pattern, meta = load_pattern(pattern_file(model, "adaptive"))
    return AdaptivePatternFilter(pattern, DescriptorGradient(threads=1), sface=SFaceGradient(threads=1), background=background, learned_with=learned_with(meta))
