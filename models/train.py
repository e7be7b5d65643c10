"""Training of the de-identification AE (Savic & Zhao, BMVC 2023, §3) against frozen judges.

Per step, for a batch of clips (T frames of 128x128 face crops from the runtime's tracker):
``out = AE(clip)``; L_rec (MSE + SSIM); L_id on K random frames with the closed-set classifier
(softmax over the training identities on the frozen dlib embedding, chips sampled
differentiably with the transform dlib finds on the original frame; with ``chip_jitter`` the
protected chips are re-aligned at random, since an attacker aligns the protected frame itself);
the open-set term (hinge on the dlib distance of protected vs original frames; with
``delta_sface`` also on SFace's cosine distance, its faces aligned to the ArcFace template the
same way; with ``open_set_centroid`` also against the identity's centroid, the mean embedding of
its training frames, since a gallery attacker compares with such a template); L_rppg = negative
Pearson of the frozen PhysNet's pulse on ``out`` vs on the original (both at 32x32). ``beta``
weighs L_id and is used with a positive sign because ``deidentification`` already returns the
*negative* cross-entropy. ``init_from`` starts the AE from another run's weights or an exported
model's (fine-tuning; optimiser and schedule start afresh).

Writes ``<out>/config.json``, ``<out>/checkpoint.pt`` (every epoch; ``resume=True`` continues from
it; loaded with ``weights_only=True``) and ``<out>/log.jsonl`` (every loss term and validation
metric per epoch).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import subprocess
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from pytorch_msssim import ssim

from vcam.engine.errors import VcamError
from vcam.engine.recognisers import DlibRecogniser, Recogniser, SFaceRecogniser

from .autoencoder import DeidAutoencoder, from_onnx, onnx_metadata
from .data.morph import morph_identities
from .data.synthetic import Clip, make_clip, photo_identities, split_identities
from .dlib_resnet import DlibFaceNet
from .face_align import chip_transform, jitter_transforms, sample_chips, sface_transform
from .identity_classifier import IdentityClassifier, train_head
from .losses import LossWeights, deidentification, frames, negative_pearson, open_set_identity, reconstruction, sample_frames
from .physnet import PhysNet
from .sface_torch import SFACE_SIZE, SFaceNet


@dataclass
class TrainConfig:
    photos: str
    extra_photos: str | None = None
    extra_identities: list[str] = dataclasses.field(default_factory=list)
    morph_identities: int = 0  # synthetic training identities, each a morph of two training identities
    out: str = "runs/default"
    clip_len: int = 64
    clips_per_photo: int = 1
    val_fraction: float = 0.2
    epochs: int = 20
    batch: int = 1
    lr: float = 3e-4
    lr_final_fraction: float = 0.1
    weight_decay: float = 0.05
    c1: int = 32
    c2: int = 64
    residual: bool = True
    residual_scale: float = 1.0
    alpha: float = 1.5
    beta: float = 0.3
    gamma: float = 0.1
    lam: float = 0.1
    delta: float = 0.3
    delta_sface: float = 0.0
    open_set_centroid: bool = False
    open_set_margin: float = 0.1
    k_frames: int = 8
    chip_jitter: float = 0.0
    composite_mask: bool = False  # losses see the AE's change only inside the compositor's face-oval mask, as the runtime pastes it
    bf16: bool = False  # the AE's training passes under bfloat16 autocast (for CPUs with AVX512-BF16/AMX); validation and export stay float32
    seed: int = 0  # initialisation, batch order, frame sampling, jitter (and the data, unless data_seed is set)
    data_seed: int | None = None  # the identity split, the clips and the morphs; repeat runs on the same data vary only seed
    val_fold: int = 0  # which of the split's disjoint validation groups is held out (k-fold: 0 .. 1 / val_fraction - 1)
    max_steps_per_epoch: int | None = None
    validate_every: int = 1  # validate after every Nth epoch and after the last (~105 s each on the default data)
    init_from: str | None = None  # a run directory, checkpoint.pt or vcam-export ONNX whose AE weights training starts from

    def __post_init__(self) -> None:
        """VcamError naming the first value a run cannot use."""
        if self.clip_len % 4:
            raise VcamError("clip_len must be divisible by 4 (PhysNet's temporal pooling)")
        for name, least in (("morph_identities", 0), ("validate_every", 1), ("val_fold", 0)):
            if not isinstance(value := getattr(self, name), int) or isinstance(value, bool) or value < least:
                raise VcamError(f"{name} must be a whole number >= {least}")

    @classmethod
    def from_record(cls, record: dict) -> TrainConfig:
        """The config a run recorded (config.json, a model's ``vcam.training_config``), without the extra keys."""
        return cls(**{f.name: record[f.name] for f in dataclasses.fields(cls) if f.name in record})

    def autoencoder(self) -> DeidAutoencoder:
        """A fresh causal AE of this config's architecture (c1, c2, residual, residual_scale)."""
        return DeidAutoencoder(self.c1, self.c2, causal=True, residual=self.residual, residual_scale=self.residual_scale)

    @property
    def data_rng_seed(self) -> int:
        """The seed of the split, clips and morphs: ``data_seed``, else ``seed``."""
        return self.seed if self.data_seed is None else self.data_seed

    def split(self, ids: list[str]) -> tuple[list[str], list[str]]:
        """(training, validation) identities of ``ids`` under this config's split settings; VcamError
        for a ``val_fold`` the split does not have."""
        try:
            return split_identities(ids, self.val_fraction, self.data_rng_seed, self.val_fold)
        except ValueError as exc:
            raise VcamError(str(exc)) from None


@dataclass
class TrainClip:
    """A clip as tensors, with the dlib chip (and SFace face) transforms of its original frames
    (training clips only: validation lets the attackers align the faces themselves)."""

    video: torch.Tensor  # [3, T, 128, 128]
    blend: torch.Tensor  # [1, T, 128, 128] float16, the compositor's mask
    label: int
    identity: str
    chip_tf: torch.Tensor | None = None  # [T, 2, 3]
    sface_tf: torch.Tensor | None = None  # [T, 2, 3]

    def paste_mask(self, t: int, composite_mask: bool) -> torch.Tensor:
        """float32 ``[1, H, W]`` weights of frame ``t`` where the runtime pastes a change: the
        compositor's mask with ``composite_mask``, else everywhere."""
        return self.blend[:, t].float() if composite_mask else torch.ones_like(self.blend[:, t], dtype=torch.float32)

    def transforms(self, recogniser: str) -> torch.Tensor:
        """``chip_tf`` ("dlib") or ``sface_tf`` ("sface"); ``ValueError`` if this clip has none."""
        tf = {"dlib": self.chip_tf, "sface": self.sface_tf}[recogniser]
        if tf is None:
            raise ValueError(f"clip of {self.identity} has no {recogniser} alignment")
        return tf


def _prepare(clips: list[Clip], ids: list[str], embedder: DlibRecogniser | None, sface: SFaceRecogniser | None) -> list[TrainClip]:
    """Tensors of ``clips`` with the alignment transforms of the embedders given (``None``: none)."""
    out = []
    for c in clips:
        images = [np.round(f * 255).astype(np.uint8) for f in c.frames]
        box = (0, 0, c.frames.shape[2] - 1, c.frames.shape[1] - 1)
        aligners: list[tuple[Any, Callable[..., np.ndarray]]] = [(embedder, chip_transform), (sface, sface_transform)]
        tf, stf = (None if e is None else torch.from_numpy(np.stack([align(e, im, box) for im in images])).float() for e, align in aligners)
        out.append(
            TrainClip(
                torch.from_numpy(c.frames).permute(3, 0, 1, 2).contiguous(),
                torch.from_numpy(c.blend)[None],
                ids.index(c.identity) if c.identity in ids else -1,
                c.identity,
                tf,
                stf,
            )
        )
    return out


def source_commit() -> str:
    """The git commit of the code that runs, or "unknown" outside a git checkout."""
    try:
        res = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=Path(__file__).parent)
    except OSError:
        return "unknown"
    return res.stdout.strip() if res.returncode == 0 else "unknown"


def build_clips(cfg: TrainConfig, training: bool = True) -> tuple[list[Clip], list[Clip], list[str]]:
    """Identity-disjoint train/validation clips: ``photos`` is split; the identities of
    ``extra_photos`` (only ``extra_identities`` if given) are added to training only, and so are
    ``morph_identities`` morphs of two training identities each. All of it follows ``data_seed``
    (``seed`` if unset). ``training=False`` makes only the validation clips (the training list is
    empty; the identities are the split's)."""
    seed = cfg.data_rng_seed
    photos: dict[str, list[Any]] = photo_identities(Path(cfg.photos))  # paths, and images of morphs
    train_ids, val_ids = cfg.split(list(photos))
    if cfg.extra_photos and training:
        extra = photo_identities(Path(cfg.extra_photos), cfg.extra_identities)
        if shared := sorted(set(extra) & set(photos)):
            raise VcamError(f"identity {shared[0]!r} is in both {cfg.photos} and {cfg.extra_photos}")
        photos.update(extra)
        train_ids = sorted([*train_ids, *extra])
    morphs = morph_identities({i: photos[i] for i in train_ids}, cfg.morph_identities, seed) if cfg.morph_identities and training else {}
    photos.update(morphs)
    train_ids = sorted([*train_ids, *morphs])
    train: list[Clip] = []
    val: list[Clip] = []
    for ident, paths in photos.items():
        if ident in train_ids and not training:
            continue
        for i, path in enumerate(paths):
            for j in range(cfg.clips_per_photo):
                clip = make_clip(path, ident, cfg.clip_len, seed=seed * 100_003 + zlib.crc32(f"{ident}/{i}/{j}".encode()) % 100_000)
                if clip is not None:
                    (train if ident in train_ids else val).append(clip)
    return train, val, train_ids


class Judges:
    """The frozen networks: dlib embedding, closed-set classifier, PhysNet (and SFace if asked for)."""

    def __init__(self, train: list[TrainClip], sface: bool = False, centroids: bool = False) -> None:
        self.net = DlibFaceNet.from_file()
        per_clip = [sample_chips(c.video[:, ::8].transpose(0, 1) * 255, c.transforms("dlib")[::8]) for c in train]
        chips = torch.cat(per_clip)
        labels = torch.cat([torch.full((len(x),), c.label) for x, c in zip(per_clip, train, strict=True)])
        self.classifier: IdentityClassifier = train_head(self.net, chips, labels)
        self.physnet = PhysNet.pretrained("pure")
        self.sface = SFaceNet.from_file() if sface else None
        self.centroids: dict[str, torch.Tensor] = {}
        if centroids:
            self.centroids["dlib"] = _per_label_mean(self.classifier.embed(chips), labels)
            if self.sface is not None:
                with torch.no_grad():
                    faces = [self.sface(sample_chips(c.video[:, ::8].transpose(0, 1) * 255, c.transforms("sface")[::8], SFACE_SIZE)) for c in train]
                self.centroids["sface"] = _per_label_mean(F.normalize(torch.cat(faces), dim=1), labels)

    def pulse(self, video: torch.Tensor) -> torch.Tensor:
        """[B, 3, T, 128, 128] -> PhysNet pulse [B, T] (``physnet_pulse``)."""
        return physnet_pulse(self.physnet, video)


def physnet_pulse(physnet: PhysNet, video: torch.Tensor) -> torch.Tensor:
    """[B, 3, T, 128, 128] in [0, 1] -> PhysNet pulse [B, T] at 32x32 (T divisible by 4)."""
    return physnet(F.avg_pool3d(video, (1, 4, 4)))


def protect(
    ae: DeidAutoencoder, batch: list[TrainClip], composite_mask: bool = False, bf16: bool = False, strength: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """(original, protected) ``[B, 3, T, H, W]`` float32 of a batch; with ``composite_mask`` the AE's
    change counts only inside the compositor's face-oval mask, as the runtime pastes it; ``bf16``
    runs the AE under bfloat16 autocast; ``strength`` scales the AE's change as the runtime's
    strength does (``x + s * (AE(x) - x)``)."""
    video = torch.stack([c.video for c in batch])
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        out = ae(video)
    out = out.float()
    if strength != 1.0:
        out = video + strength * (out - video)
    if composite_mask:
        blend = torch.stack([c.blend for c in batch]).float()
        out = video + blend * (out - video)
    return video, out


def loss_terms(
    ae: DeidAutoencoder,
    judges: Judges,
    batch: list[TrainClip],
    w: LossWeights,
    gen: torch.Generator,
    chip_jitter: float = 0.0,
    composite_mask: bool = False,
    bf16: bool = False,
) -> dict[str, torch.Tensor]:
    """Every loss term for one batch; the protected chips are re-aligned at random by up to
    ``chip_jitter`` chip pixels (the attacker aligns the protected frame itself)."""
    video, out = protect(ae, batch, composite_mask, bf16)
    idx = sample_frames(video.shape[2], w.k_frames, gen)
    tf = torch.cat([c.transforms("dlib")[idx] for c in batch])
    tf_out = jitter_transforms(tf, chip_jitter, gen) if chip_jitter > 0 else tf
    originals, protected = (v[:, :, idx].transpose(1, 2).flatten(0, 1) * 255 for v in (video, out))  # [B*K, 3, H, W]
    chips_out = sample_chips(protected, tf_out)
    with torch.no_grad():
        emb_in = judges.net(sample_chips(originals, tf))
        target = judges.pulse(video)
    emb_out = judges.net(chips_out)
    labels = torch.tensor([c.label for c in batch]).repeat_interleave(len(idx))
    probs = torch.softmax(judges.classifier.head(emb_out), dim=1)
    terms = {
        "rec": reconstruction(out, video),
        "id": deidentification(probs, labels, w.lam),
        "open_id": open_set_identity(*_with_centroids(emb_out, emb_in, judges.centroids.get("dlib"), labels), margin=w.open_set_margin),
        "rppg": negative_pearson(judges.pulse(out), target),
    }
    if judges.sface is not None:
        stf = torch.cat([c.transforms("sface")[idx] for c in batch])
        stf_out = jitter_transforms(stf, chip_jitter, gen, SFACE_SIZE) if chip_jitter > 0 else stf
        with torch.no_grad():
            ref = judges.sface(sample_chips(originals, stf, SFACE_SIZE))
        prot = judges.sface(sample_chips(protected, stf_out, SFACE_SIZE, outside=originals))
        terms["open_id_sface"] = open_set_identity(
            *_with_centroids(prot, ref, judges.centroids.get("sface"), labels), SFaceRecogniser.threshold, w.open_set_margin, cosine=True
        )
    return terms


def _with_centroids(out: torch.Tensor, ref: torch.Tensor, centroids: torch.Tensor | None, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The (protected, reference) pairs of an open-set hinge: each protected frame against its
    original and, if ``centroids`` are given, also against its identity's centroid."""
    if centroids is None:
        return out, ref
    return torch.cat([out, out]), torch.cat([ref, centroids[labels]])


def _per_label_mean(x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """[N, D] rows, [N] labels 0..C-1 -> [C, D] means."""
    return torch.stack([x[labels == k].mean(0) for k in range(int(labels.max()) + 1)])


def attacker_frames(video: torch.Tensor, every: int = 8) -> list[np.ndarray]:
    """Every ``every``-th frame of ``[1, 3, T, H, W]`` in [0, 1] as an attacker sees it: uint8 RGB
    ``[H, W, 3]`` (its face box is the whole crop)."""
    return [(video[0, :, t].permute(1, 2, 0).contiguous().numpy() * 255).round().astype(np.uint8) for t in range(0, video.shape[2], every)]


def _descriptors(video: torch.Tensor, attackers: dict[str, Recogniser]) -> dict[str, list[np.ndarray]]:
    """Per attacker, the descriptors of ``attacker_frames(video)``, the whole crop as the face box."""
    out: dict[str, list[np.ndarray]] = {name: [] for name in attackers}
    for frame in attacker_frames(video):
        for name, attacker in attackers.items():
            out[name].append(attacker.describe(frame, (0, 0, frame.shape[1] - 1, frame.shape[0] - 1)))
    return out


def attacker_references(clips: list[TrainClip], attackers: dict[str, Recogniser]) -> dict[str, list[tuple[str, np.ndarray]]]:
    """Per attacker, (identity, descriptor) of every 8th original frame of ``clips``, in order
    (the originals do not change, so a run computes them once)."""
    refs: dict[str, list[tuple[str, np.ndarray]]] = {name: [] for name in attackers}
    for c in clips:
        for name, descriptors in _descriptors(c.video[None], attackers).items():
            refs[name].extend((c.identity, d) for d in descriptors)
    return refs


@torch.no_grad()
def validate(
    ae: DeidAutoencoder,
    physnet: PhysNet,
    clips: list[TrainClip],
    attackers: dict[str, Recogniser],
    refs: dict[str, list[tuple[str, np.ndarray]]],
    composite_mask: bool = False,
    strength: float = 1.0,
) -> dict[str, float]:
    """PSNR, SSIM and PhysNet pulse correlation of the protected clips, and per attacker (the
    runtime's dlib and SFace on uint8 frames, each aligning the face itself) the share of every
    8th protected frame it matches with the original frame (``val_<name>_match_rate``) and with
    the identity's template, the mean of its original frames (``val_<name>_template_match_rate``);
    ``refs`` is ``attacker_references(clips, attackers)``; ``strength`` as in ``protect``.
    The attackers' own path matters: a fine-tuned model's SFace match on its own frames was 3 %
    through the training judges' chips, 35 % through cv2.warpAffine with the same matrix (SFace's
    face reached 18 % beyond the crop on a measured frame, where the judges repeated the protected edge)."""
    psnr, sim, corr = [], [], []
    protected: dict[str, list[np.ndarray]] = {name: [] for name in attackers}
    for c in clips:
        video, out = protect(ae, [c], composite_mask, strength=strength)
        out = out.clamp(0, 1)
        psnr.append(float(10 * torch.log10(1 / F.mse_loss(out, video))))
        sim.append(float(ssim(frames(out), frames(video), data_range=1.0)))
        corr.append(1 - float(negative_pearson(physnet_pulse(physnet, out), physnet_pulse(physnet, video))))
        for name, descriptors in _descriptors(out, attackers).items():
            protected[name].extend(descriptors)
    metrics = {"val_psnr_db": float(np.mean(psnr)), "val_ssim": float(np.mean(sim)), "val_bvp_r": float(np.mean(corr))}
    for name, attacker in attackers.items():
        pairs = list(zip(refs[name], protected[name], strict=True))
        templates = {i: np.mean([e for j, e in refs[name] if j == i], axis=0) for i in {i for i, _ in refs[name]}}
        metrics[f"val_{name}_match_rate"] = float(np.mean([attacker.match(p, e) for (_, e), p in pairs]))
        metrics[f"val_{name}_template_match_rate"] = float(np.mean([attacker.match(p, templates[i]) for (i, _), p in pairs]))
    return metrics


def init_weights(path: str, role: str = "init_from") -> tuple[dict[str, torch.Tensor], str]:
    """The AE weights ``path`` names and the sha256 of the file they come from: a run directory,
    its checkpoint.pt, or an ONNX file ``vcam-export`` wrote (e.g. a shipped model). Errors start
    with ``role``."""
    p = Path(path)
    file = p / "checkpoint.pt" if p.is_dir() else p
    if not file.is_file():
        raise VcamError(f"{role}: no checkpoint at {file}")
    data = file.read_bytes()
    if file.suffix == ".onnx":
        try:
            state = from_onnx(file).state_dict()
        except ValueError as exc:
            raise VcamError(f"{role}: {exc}") from None
    else:
        state = torch.load(io.BytesIO(data), weights_only=True)["ae"]
    return state, hashlib.sha256(data).hexdigest()


def load_weights(ae: DeidAutoencoder, path: str, role: str = "init_from") -> str:
    """Load ``init_weights(path)`` into ``ae`` and return the file's sha256; raises VcamError
    (starting with ``role``) if the file is missing or holds another architecture."""
    state, sha = init_weights(path, role)
    try:
        ae.load_state_dict(state)
    except RuntimeError:
        raise VcamError(f"{role}: {path} is not an AE of this config's c1/c2 ({ae.c1}/{ae.c2})") from None
    return sha


def recorded_config(path: str, role: str = "check") -> dict:
    """The training config the weights at ``path`` recorded: a run directory's (or its
    checkpoint's) config.json, or a ``vcam-export`` ONNX file's ``vcam.training_config``;
    ``{}`` if there is none. Raises VcamError (starting with ``role``) if ``path`` does not exist
    or is a file named .onnx that is not ONNX."""
    p = Path(path)
    if not p.exists():
        raise VcamError(f"{role}: no checkpoint at {path}")
    if p.suffix == ".onnx" and p.is_file():
        try:
            return json.loads(onnx_metadata(p).get("vcam.training_config", "{}"))
        except ValueError as exc:
            raise VcamError(f"{role}: {exc}") from None
    config = (p if p.is_dir() else p.parent) / "config.json"
    return json.loads(config.read_text()) if config.is_file() else {}


def validation_set(cfg: TrainConfig) -> list[TrainClip]:
    """``cfg``'s validation clips as tensors, without alignment transforms (attackers align the
    protected faces themselves)."""
    _, val_clips, _ = build_clips(cfg, training=False)
    return _prepare(val_clips, [], None, None)


def check(cfg: TrainConfig, weights: str, strengths: tuple[float, ...] = (1.0,)) -> list[dict]:
    """The training's validation (``validate``) of the AE weights ``weights`` names (as
    ``init_weights``) on ``cfg``'s validation clips, once per strength, with the compositor's mask
    if ``cfg.composite_mask``. Each record: weights, sha256, strength, composite_mask, clips and the
    ``val_*`` metrics; the figures of a run's last logged validation at strength 1."""
    ae = cfg.autoencoder()
    sha = load_weights(ae, weights, "--check")
    val_set = validation_set(cfg)
    attackers: dict[str, Recogniser] = {"dlib": DlibRecogniser(), "sface": SFaceRecogniser()}
    refs = attacker_references(val_set, attackers)
    physnet = PhysNet.pretrained("pure")
    head = {"weights": weights, "sha256": sha, "composite_mask": cfg.composite_mask, "clips": len(val_set)}
    return [{**head, "strength": s, **validate(ae, physnet, val_set, attackers, refs, cfg.composite_mask, s)} for s in strengths]


def _epoch_order(n: int, batch: int, cap: int | None, gen: torch.Generator) -> list[list[int]]:
    order = torch.randperm(n, generator=gen).tolist()
    batches = [order[b : b + batch] for b in range(0, n, batch)]
    return batches[:cap] if cap is not None else batches


def train(
    cfg: TrainConfig,
    resume: bool = False,
    log: Callable[[dict], None] = print,
    progress: Callable[[int, int, int], None] | None = None,
    stop_after: int | None = None,
) -> Path:
    """Train and return the checkpoint path. ``log`` gets one record per epoch; ``progress``
    (if given) is called after every step with (epoch, step, steps in the epoch). The learning
    rate follows a cosine from ``lr`` down to ``lr * lr_final_fraction`` over the whole run.
    ``stop_after`` ends the run after that epoch (0-based) without changing the schedule, so a
    time-boxed run and a later ``resume`` give exactly the uninterrupted run."""
    out = Path(cfg.out)
    ae = cfg.autoencoder()
    init = {}
    if cfg.init_from:
        init = {"init_sha256": load_weights(ae, cfg.init_from)}
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    train_clips, val_clips, train_ids = build_clips(cfg)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps({**dataclasses.asdict(cfg), "commit": source_commit(), **init}, indent=2))
    embedder, sface = DlibRecogniser(), SFaceRecogniser()
    attackers: dict[str, Recogniser] = {"dlib": embedder, "sface": sface}
    with_sface = sface if cfg.delta_sface > 0 else None
    train_set, val_set = _prepare(train_clips, train_ids, embedder, with_sface), _prepare(val_clips, train_ids, None, None)
    judges = Judges(train_set, sface=with_sface is not None, centroids=cfg.open_set_centroid)
    val_refs = attacker_references(val_set, attackers)
    opt = torch.optim.AdamW(ae.parameters(), lr=cfg.lr, betas=(0.9, 0.99), eps=1e-8, weight_decay=cfg.weight_decay)
    per_epoch = len(_epoch_order(len(train_set), cfg.batch, cfg.max_steps_per_epoch, torch.Generator()))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, cfg.epochs * per_epoch), eta_min=cfg.lr * cfg.lr_final_fraction)
    ckpt, start = out / "checkpoint.pt", 0
    if resume and ckpt.is_file():
        state = torch.load(ckpt, weights_only=True)
        ae.load_state_dict(state["ae"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        gen.set_state(state["gen"])
        start = int(state["epoch"]) + 1
    w = LossWeights(cfg.alpha, cfg.beta, cfg.gamma, cfg.lam, cfg.delta, cfg.delta_sface, cfg.k_frames, cfg.open_set_margin)
    for epoch in range(start, cfg.epochs if stop_after is None else min(cfg.epochs, stop_after + 1)):
        t0, sums = time.monotonic(), dict[str, float]()
        batches = _epoch_order(len(train_set), cfg.batch, cfg.max_steps_per_epoch, gen)
        for steps, batch in enumerate(batches, 1):
            terms = loss_terms(ae, judges, [train_set[i] for i in batch], w, gen, cfg.chip_jitter, cfg.composite_mask, cfg.bf16)
            total = w.alpha * terms["rec"] + w.beta * terms["id"] + w.gamma * terms["rppg"] + w.delta * terms["open_id"]
            if "open_id_sface" in terms:
                total = total + w.delta_sface * terms["open_id_sface"]
            opt.zero_grad()
            total.backward()
            opt.step()
            sched.step()
            for k, v in {**terms, "total": total}.items():
                sums[k] = sums.get(k, 0.0) + v.item()
            if progress is not None:
                progress(epoch, steps, len(batches))
        steps = len(batches)
        record = {
            "epoch": epoch,
            "steps": steps,
            "seconds": round(time.monotonic() - t0, 1),
            "lr": sched.get_last_lr()[0],
            **{k: v / max(steps, 1) for k, v in sums.items()},
        }
        if (epoch + 1) % cfg.validate_every == 0 or epoch == cfg.epochs - 1:
            record.update(validate(ae, judges.physnet, val_set, attackers, val_refs, cfg.composite_mask))
        with (out / "log.jsonl").open("a") as f:
            f.write(json.dumps(record) + "\n")
        torch.save({"ae": ae.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(), "gen": gen.get_state(), "epoch": epoch}, ckpt)
        log(record)
    return ckpt
