"""Physiological utility: does the protected stream carry the same pulse as the raw one?

Each rPPG judge turns face crops (float32 [N, S, S, 3] RGB in [0, 1]) and skin masks into a pulse
(one value per frame): POS and CHROM on the skin's mean colour (the runtime's numpy versions),
PhysNet (32x32 input) and PhysFormer (128x128) with their frozen PURE-trained weights. Long clips
are cut into 10 s chunks for the networks (each chunk z-scored, then joined).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np
import torch

from vcam.engine.pulse import rppg
from vcam.engine.pulse.signals import bandpass, heart_rate, hr_errors, pearson, snr_db, spectral_similarity, windowed_hr

JUDGES = ("pos", "chrom", "physnet", "physformer")
CHUNK_S = 10.0


def skin_means(crops: np.ndarray, skin: np.ndarray) -> np.ndarray:
    """Mean RGB over each crop's skin mask: [N, 3]."""
    w = skin.reshape(len(skin), -1, 1).astype(np.float64)
    return (crops.reshape(len(crops), -1, 3) * w).sum(1) / np.maximum(w.sum(1), 1.0)


class PulseJudges:
    """The four judges; the networks load on first use (their weights come from ``vcam-weights``)."""

    def __init__(self) -> None:
        self._nets: dict[str, torch.nn.Module] = {}

    def _net(self, name: str) -> torch.nn.Module:
        if name not in self._nets:
            from ..physformer import PhysFormer
            from ..physnet import PhysNet

            self._nets[name] = (PhysNet if name == "physnet" else PhysFormer).pretrained("pure")
        return self._nets[name]

    def pulse(self, judge: str, crops: np.ndarray, skin: np.ndarray, fps: float) -> np.ndarray:
        if judge == "pos":
            return rppg.pos(skin_means(crops, skin), fps)
        if judge == "chrom":
            return rppg.chrom(skin_means(crops, skin), fps)
        size = 32 if judge == "physnet" else 128
        small = np.stack([cv2.resize(c, (size, size), interpolation=cv2.INTER_AREA) for c in crops]) if crops.shape[1] != size else crops
        chunk = int(CHUNK_S * fps) // 4 * 4
        parts = []
        for s in range(0, len(small) // 4 * 4, chunk):
            piece = small[s : s + chunk]
            piece = piece[: len(piece) // 4 * 4]
            if len(piece) < 32:
                break
            with torch.no_grad():
                parts.append(self._net(judge)(torch.from_numpy(np.ascontiguousarray(piece)).permute(3, 0, 1, 2)[None])[0].numpy())
        out = np.concatenate(parts) if parts else np.zeros(0)
        return np.pad(out, (0, len(crops) - len(out)), mode="edge") if 0 < len(out) < len(crops) else out


@dataclass
class PulseAgreement:
    """One judge on one clip: protected vs raw (and vs ground truth where known)."""

    hr_raw: float
    hr_protected: float
    dhr: float  # |HR protected - HR raw| over the whole clip, bpm
    hr_mae: float  # over 30 s windows (the whole clip when shorter)
    hr_rmse: float
    bvp_r: float  # Pearson r of the band-passed pulses
    ss: float  # band-limited spectral similarity
    hr_truth: float | None = None
    dhr_truth_raw: float | None = None
    dhr_truth_protected: float | None = None
    snr_true_db: float | None = None  # SNR of the protected pulse at the true HR (the truth's, else the raw reading)

    def as_dict(self) -> dict:
        return asdict(self)


def agreement(raw: np.ndarray, prot: np.ndarray, fps: float, truth: np.ndarray | None = None) -> PulseAgreement:
    hr_raw, hr_prot = heart_rate(raw, fps), heart_rate(prot, fps)
    errors = hr_errors(windowed_hr(prot, fps), windowed_hr(raw, fps))
    res = PulseAgreement(
        hr_raw, hr_prot, abs(hr_prot - hr_raw), errors.mae, errors.rmse, pearson(bandpass(raw, fps), bandpass(prot, fps)), spectral_similarity(raw, prot, fps)
    )
    if truth is not None and len(truth) == len(raw):
        res.hr_truth = heart_rate(truth, fps)
        res.dhr_truth_raw, res.dhr_truth_protected = abs(hr_raw - res.hr_truth), abs(hr_prot - res.hr_truth)
    res.snr_true_db = snr_db(prot, fps, res.hr_truth if res.hr_truth is not None else hr_raw)
    return res
