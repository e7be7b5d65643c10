"""Privacy: how well do face recognisers still identify the protected faces?

Embeddings come from the engine's recognisers (dlib, SFace; anything implementing
``vcam.engine.recognisers.Recogniser``) on full frames with the tracked face's box, exactly what an
attacker receiving the stream could compute. Distances follow each recogniser's own metric, and
"match" means distance < the recogniser's own threshold.

* ``match_rate``: share of protected probes verified as their person (distance to the person's
  gallery template, the mean embedding of their original photos, below the threshold).
* ``roc`` / ``eer``: genuine (probe vs own gallery) and impostor (probe vs other galleries)
  distances, swept over thresholds.
* ``rank1``: share of probes whose nearest gallery template is their own person.
* ``closed_set_accuracy``: a softmax classifier fitted on embeddings of *original* frames.
* ``parrot_accuracy``: the adaptive attacker -- the same classifier fitted on embeddings of
  *protected* frames of other clips of each person, or of the first half of a person's only
  clip (it has learned what protection looks like).
* ``jitter``: mean distance between consecutive protected frames' embeddings.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from vcam.engine.face_regions import face_box
from vcam.engine.frames import FaceTrack
from vcam.engine.recognisers import Recogniser
from vcam.engine.tracking import FaceTracker


def photo_embedding(embedder: Recogniser, image: np.ndarray, tracker: FaceTracker) -> np.ndarray | None:
    """Embedding of the face in a still photo (box from a static MediaPipe detection)."""
    tracks = tracker.update(image)
    return embedder.describe(image, face_box(tracks[0])) if tracks else None


def gallery_template(embedder: Recogniser, photos: list[np.ndarray]) -> np.ndarray | None:
    with FaceTracker(max_faces=1, static=True) as tracker:
        embs = [e for p in photos if (e := photo_embedding(embedder, p, tracker)) is not None]
    return np.mean(embs, axis=0) if embs else None


def frame_embeddings(embedder: Recogniser, frames: list[np.ndarray], tracks: list[FaceTrack | None], idx: list[int]) -> np.ndarray:
    """Embeddings [len(idx), d] of ``frames[i]`` in the box of ``tracks[i]`` (the raw frame's face)."""
    if any(tracks[i] is None for i in idx):
        raise ValueError("frame_embeddings: every frame in idx needs a face track")
    return np.stack([embedder.describe(frames[i], face_box(t)) for i in idx if (t := tracks[i]) is not None])


def found_face_rates(
    embedder: Recogniser, probes: list[tuple[np.ndarray, tuple[int, int, int, int] | None, str]], templates: dict[str, np.ndarray]
) -> dict[str, float]:
    """The attacker that finds the face itself: each probe is (frame, the box its own detector found
    or None, the person's name). ``match_rate`` and ``rank1`` count a frame where it found no face as
    a miss, so hiding the face from the detector counts as protection here (and only here)."""
    names = sorted(templates)
    matches = hits = 0
    for frame, box, who in probes:
        if box is None:
            continue
        d = embedder.describe(frame, box)
        dist = [embedder.distance(d, templates[n]) for n in names]
        matches += dist[names.index(who)] < embedder.threshold
        hits += names[int(np.argmin(dist))] == who
    n = max(len(probes), 1)
    return {"found": sum(box is not None for _, box, _ in probes) / n, "match_rate": matches / n, "rank1": hits / n}


def distances(embedder: Recogniser, probes: np.ndarray, template: np.ndarray) -> np.ndarray:
    return np.array([embedder.distance(p, template) for p in probes])


def match_rate(embedder: Recogniser, probes: np.ndarray, template: np.ndarray) -> float:
    return float(np.mean(distances(embedder, probes, template) < embedder.threshold))


def roc(genuine: np.ndarray, impostor: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(thresholds, false-accept rate, true-accept rate) for "match if distance < threshold"."""
    thresholds = np.unique(np.concatenate([genuine, impostor, [-np.inf, np.inf]]))
    far = np.array([(impostor < t).mean() for t in thresholds])
    tar = np.array([(genuine < t).mean() for t in thresholds])
    return thresholds, far, tar


def eer(genuine: np.ndarray, impostor: np.ndarray) -> float:
    """Equal error rate: where false accepts equal false rejects (interpolated between the two
    thresholds that bracket the crossing). 0 for separable scores, ~0.5 for a recogniser that
    cannot tell the people apart."""
    _, far, tar = roc(genuine, impostor)
    frr = 1.0 - tar
    diff = far - frr  # rises from -1 to +1 as the threshold grows
    k = int(np.argmax(diff >= 0))
    if k == 0:
        return float(far[0])
    w = diff[k] / (diff[k] - diff[k - 1]) if diff[k] != diff[k - 1] else 0.0
    return float(far[k] - w * (far[k] - far[k - 1]))


def rank1(embedder: Recogniser, probes: np.ndarray, labels: list[str], templates: dict[str, np.ndarray]) -> float:
    names = sorted(templates)
    hits = [names[int(np.argmin([embedder.distance(p, templates[n]) for n in names]))] == y for p, y in zip(probes, labels, strict=True)]
    return float(np.mean(hits))


class EmbeddingClassifier:
    """Softmax regression on standardised embeddings (the closed-set attacker's classifier)."""

    def __init__(self, x: np.ndarray, labels: list[str], epochs: int = 300, seed: int = 0) -> None:
        torch.manual_seed(seed)
        self.names = sorted(set(labels))
        xt = torch.from_numpy(x).float()
        self.mean, self.std = xt.mean(0), xt.std(0) + 1e-6
        self.head = nn.Linear(x.shape[1], len(self.names))
        y = torch.tensor([self.names.index(n) for n in labels])
        opt = torch.optim.AdamW(self.head.parameters(), lr=1e-2, weight_decay=0.05)
        for _ in range(epochs):
            opt.zero_grad()
            nn.functional.cross_entropy(self.head((xt - self.mean) / self.std), y).backward()
            opt.step()

    def accuracy(self, x: np.ndarray, labels: list[str]) -> float:
        with torch.no_grad():
            pred = self.head((torch.from_numpy(x).float() - self.mean) / self.std).argmax(1).numpy()
        return float(np.mean([self.names[p] == y for p, y in zip(pred, labels, strict=True)]))


def jitter(embedder: Recogniser, protected: np.ndarray) -> float:
    return float(np.mean([embedder.distance(a, b) for a, b in zip(protected[:-1], protected[1:], strict=True)])) if len(protected) > 1 else 0.0
