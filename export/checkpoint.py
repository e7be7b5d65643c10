"""Load a ``vcam-train`` checkpoint (or an exported file's architecture) as a ``DeidAutoencoder``.

A run folder holds ``checkpoint.pt`` (``{"ae": state_dict, ...}``, loaded with
``weights_only=True``) and ``config.json`` (the ``TrainConfig``: channels, residual output).
"""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import torch

from vcam.engine.errors import ModelError
from vcam.models.autoencoder import DeidAutoencoder


def load_checkpoint(path: str | Path) -> tuple[DeidAutoencoder, dict]:
    """(AE in eval mode, the run's training config) from ``path`` (a checkpoint file or its run folder)."""
    path = Path(path)
    ckpt = path / "checkpoint.pt" if path.is_dir() else path
    config_file = ckpt.parent / "config.json"
    if not ckpt.is_file():
        raise ModelError(f"checkpoint not found: {ckpt}")
    if not config_file.is_file():
        raise ModelError(f"{config_file} is missing (vcam-train writes it next to the checkpoint)")
    try:
        cfg = json.loads(config_file.read_text())
        state = torch.load(ckpt, weights_only=True, map_location="cpu")
        ae = DeidAutoencoder(cfg["c1"], cfg["c2"], causal=True, residual=cfg["residual"], residual_scale=cfg.get("residual_scale", 1.0))
        ae.load_state_dict(state["ae"])
    except (OSError, ValueError, KeyError, RuntimeError, TypeError) as exc:
        raise ModelError(f"cannot load checkpoint {ckpt}: {str(exc).splitlines()[0]}") from None
    return ae.eval(), cfg


def architecture_of(onnx_path: Path) -> DeidAutoencoder:
    """A randomly initialised AE with the architecture recorded in an exported file's metadata."""
    meta = {p.key: p.value for p in onnx.load(str(onnx_path)).metadata_props}
    try:
        arch = json.loads(meta["vcam.arch"])
    except (KeyError, ValueError) as exc:
        raise ModelError(f"{onnx_path}: no vcam.arch metadata ({exc})") from None
    return DeidAutoencoder(arch["c1"], arch["c2"], causal=arch["causal"], residual=arch["residual"], residual_scale=arch.get("residual_scale", 1.0)).eval()
