"""One clip through one filter -> every per-clip measurement; clips -> per-filter privacy summary.

Usage::

    from vcam.engine.filters import make_filter
    from vcam.engine.recognisers import DlibRecogniser
    from vcam.models.evaluation.clips import photo_clips
    from vcam.models.evaluation.evaluate import evaluate_clip, privacy_summary, templates_for
    from vcam.models.evaluation.utility import PulseJudges

    clips = photo_clips(root, ["George_W_Bush"])
    attackers, judges = {"dlib": DlibRecogniser()}, PulseJudges()
    results = [evaluate_clip(c, lambda: make_filter("blur"), attackers, judges)["direct"] for c in clips]
    summary = privacy_summary(results, templates_for(clips, results, attackers), attackers)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from vcam.engine.filters import FaceFilter
from vcam.engine.pipeline import Analysis
from vcam.engine.recognisers import Recogniser

from . import fidelity, privacy
from .clips import EvalClip
from .protect import KEEP_PULSE, ProtectedRun, PulseSetting, protect_clip, track_clip, transport
from .utility import PulseJudges, agreement


@dataclass
class ClipResult:
    clip: str
    identity: str
    filter_ms: float
    fallback_share: float
    crop_psnr: float
    crop_ssim: float
    frame_psnr: float
    frame_ssim: float
    flicker: float
    pulse: dict[str, dict] = field(default_factory=dict)  # judge -> PulseAgreement fields
    emb_raw: dict[str, np.ndarray] = field(default_factory=dict)  # attacker -> [n, d]
    emb_out: dict[str, np.ndarray] = field(default_factory=dict)
    signals: dict[str, np.ndarray] = field(default_factory=dict)  # judge -> [2, n] raw / protected pulse
    example: np.ndarray | None = None  # |protected - raw| of the middle frame's face crop, float32 [S, S, 3]
    strength_mean: float | None = None  # the filter's mean strength over the clip (varies with auto strength)

    def save(self, path: Path) -> None:
        """``<path>.json`` (numbers) + ``<path>.npz`` (arrays), so an evaluation can resume."""
        arrays: dict[str, Any] = {f"emb_raw.{k}": v for k, v in self.emb_raw.items()} | {f"emb_out.{k}": v for k, v in self.emb_out.items()}
        arrays |= {f"signals.{k}": v for k, v in self.signals.items()}
        if self.example is not None:
            arrays["example"] = self.example
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path.with_suffix(".npz"), **arrays)
        path.with_suffix(".json").write_text(json.dumps(self.scalars()))

    @classmethod
    def load(cls, path: Path) -> ClipResult | None:
        """A saved result, or None if it is missing or incomplete."""
        try:
            result = cls(**json.loads(path.with_suffix(".json").read_text()))
            with np.load(path.with_suffix(".npz"), allow_pickle=False) as z:
                for key in z.files:
                    kind, _, name = key.partition(".")
                    if kind == "example":
                        result.example = z[key]
                    else:
                        getattr(result, kind)[name] = z[key]
        except (OSError, ValueError, TypeError):
            return None
        return result

    def scalars(self) -> dict:
        """The per-clip numbers (no arrays) for report.json."""
        return {k: v for k, v in self.__dict__.items() if k not in ("emb_raw", "emb_out", "signals", "example")}


PATHS = ("direct", "transport")  # the filter's output as sent / as the meeting app receives it


@dataclass
class RawSide:
    """What depends only on the clip, not on the filter (tracking, the raw pulses and
    embeddings): computed once and shared by every filter and path."""

    clip: EvalClip
    pulse: dict[str, np.ndarray] = field(default_factory=dict)  # judge -> raw pulse
    emb: dict[str, np.ndarray] = field(default_factory=dict)  # attacker -> raw embeddings

    @cached_property
    def analyses(self) -> list[Analysis]:
        return track_clip(self.clip)


def measure_run(
    run: ProtectedRun, raw: RawSide, attackers: dict[str, Recogniser], judges: PulseJudges, judge_names: tuple[str, ...], every: int = 10
) -> ClipResult:
    """Measure one protected run (identity on every ``every``-th face frame). An output equal to
    the raw frames (``off`` sent directly) reuses the raw side's pulses and embeddings."""
    clip = raw.clip
    raw_crops, out_crops, skin = run.crops()
    n = len(run.face_frames)
    step = max(1, n // 30)
    sample = run.face_frames[::step]
    result = ClipResult(
        clip.name,
        clip.identity,
        run.filter_ms,
        float(np.mean([f is not None for f in run.fallbacks])),
        fidelity.psnr(raw_crops, out_crops),
        fidelity.ssim(raw_crops[::step], out_crops[::step]),
        fidelity.psnr(run.raw, run.out),
        fidelity.ssim(np.stack([run.raw[i] for i in sample]), np.stack([run.out[i] for i in sample])),
        fidelity.flicker(raw_crops, out_crops),
    )
    result.example = np.abs(out_crops[n // 2] - raw_crops[n // 2])
    result.strength_mean = float(np.mean(run.strengths)) if run.strengths else None
    unchanged = all(np.array_equal(a, b) for a, b in zip(run.raw, run.out, strict=True))
    idx = run.face_frames[::every]
    truth = clip.bvp[run.face_frames] if clip.bvp is not None else None
    for judge in judge_names:
        if judge not in raw.pulse:
            raw.pulse[judge] = judges.pulse(judge, raw_crops, skin, clip.fps)
        out_pulse = raw.pulse[judge] if unchanged else judges.pulse(judge, out_crops, skin, clip.fps)
        result.pulse[judge] = agreement(raw.pulse[judge], out_pulse, clip.fps, truth).as_dict()
        result.signals[judge] = np.stack([raw.pulse[judge], out_pulse])
    for name, embedder in attackers.items():
        if name not in raw.emb:
            raw.emb[name] = privacy.frame_embeddings(embedder, run.raw, run.tracks, idx)
        result.emb_raw[name] = raw.emb[name]
        result.emb_out[name] = raw.emb[name] if unchanged else privacy.frame_embeddings(embedder, run.out, run.tracks, idx)
    return result


def evaluate_clip(
    clip: EvalClip | RawSide,
    make_filter: Callable[[], FaceFilter],
    attackers: dict[str, Recogniser],
    judges: PulseJudges,
    judge_names: tuple[str, ...] = ("pos", "physnet"),
    paths: tuple[str, ...] = ("direct",),
    strength: float = 1.0,
    auto_strength: bool = False,
    pulse: PulseSetting = KEEP_PULSE,
) -> dict[str, ClipResult]:
    """Protect a clip once as the runtime does (at ``strength``, raised by auto strength if
    ``auto_strength``; the heart rate kept, hidden or replaced as ``pulse`` says) and measure it on each of
    ``paths``: ``direct`` and/or ``transport`` (after the I420 + H.264 path to the meeting app).
    Pass the clip's ``RawSide`` instead of the clip to share its raw-side work across filters."""
    raw = clip if isinstance(clip, RawSide) else RawSide(clip)
    run = protect_clip(raw.clip, make_filter, strength, analyses=raw.analyses, auto_strength=auto_strength, pulse=pulse)
    return {p: measure_run(transport(run, raw.clip.fps) if p == "transport" else run, raw, attackers, judges, judge_names) for p in paths}


def templates_for(clips: list[EvalClip], results: list[ClipResult], attackers: dict[str, Recogniser]) -> dict[str, dict[str, np.ndarray]]:
    """attacker -> identity -> gallery template: the mean embedding of the identity's original
    photos, or of its raw video frames when it has no photos."""
    out: dict[str, dict[str, np.ndarray]] = {}
    for name, embedder in attackers.items():
        out[name] = {}
        for ident in sorted({c.identity for c in clips}):
            photos = next((c.gallery for c in clips if c.identity == ident and c.gallery), [])
            template = privacy.gallery_template(embedder, photos) if photos else None
            if template is None:
                template = np.concatenate([r.emb_raw[name] for r in results if r.identity == ident]).mean(0)
            out[name][ident] = template
    return out


def privacy_summary(
    results: list[ClipResult], templates: dict[str, dict[str, np.ndarray]], attackers: dict[str, Recogniser], raw_results: list[ClipResult] | None = None
) -> dict[str, dict]:
    """Per attacker: match rate, EER, rank-1, closed-set and parrot accuracy, jitter.

    ``raw_results`` (the unprotected run of the same clips) trains the closed-set classifier on
    original frames; without it the raw embeddings of ``results`` are used (they are the same frames).
    """
    summary = {}
    for name, embedder in attackers.items():
        gallery = templates[name]
        probes = np.concatenate([r.emb_out[name] for r in results])
        labels = [r.identity for r in results for _ in range(len(r.emb_out[name]))]
        genuine = np.array([embedder.distance(p, gallery[y]) for p, y in zip(probes, labels, strict=True)])
        impostor = np.array([embedder.distance(p, gallery[o]) for p, y in zip(probes, labels, strict=True) for o in gallery if o != y])
        row = {
            "match_rate": float(np.mean(genuine < embedder.threshold)),
            "eer": privacy.eer(genuine, impostor) if len(impostor) else None,
            "rank1": privacy.rank1(embedder, probes, labels, gallery) if len(gallery) > 1 else None,
            "jitter": float(np.mean([privacy.jitter(embedder, r.emb_out[name]) for r in results])),
            "genuine": genuine.tolist(),
            "impostor": impostor.tolist(),
        }
        if len(gallery) > 1:
            source = raw_results or results
            raw_x = np.concatenate([r.emb_raw[name] for r in source])
            raw_y = [r.identity for r in source for _ in range(len(r.emb_raw[name]))]
            row["closed_set_accuracy"] = privacy.EmbeddingClassifier(raw_x, raw_y).accuracy(probes, labels)
            row["parrot_accuracy"] = parrot_accuracy(results, name)
        summary[name] = row
    return summary


def parrot_accuracy(results: list[ClipResult], attacker: str) -> float | None:
    """The attacker who has seen protected footage of everyone: a classifier fitted on protected
    frames of the even-numbered clips of each identity, tested on the odd-numbered ones. An
    identity with a single clip contributes its first half to training and its second half to
    testing (adjacent footage: an easier test, so a conservative privacy figure)."""
    train: list[tuple[str, np.ndarray]] = []
    test: list[tuple[str, np.ndarray]] = []
    for ident in sorted({r.identity for r in results}):
        own = [r.emb_out[attacker] for r in results if r.identity == ident]
        if len(own) == 1:
            own = [own[0][: len(own[0]) // 2], own[0][len(own[0]) // 2 :]]
        train += [(ident, e) for e in own[::2] if len(e)]
        test += [(ident, e) for e in own[1::2] if len(e)]
    if len({ident for ident, _ in train}) < 2:
        return None

    def stack(pairs: list[tuple[str, np.ndarray]]) -> tuple[np.ndarray, list[str]]:
        return np.concatenate([e for _, e in pairs]), [ident for ident, e in pairs for _ in range(len(e))]

    return privacy.EmbeddingClassifier(*stack(train)).accuracy(*stack(test))
