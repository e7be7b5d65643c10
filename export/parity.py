"""Parity checks of exported models on real face crops (float32 [N, S, S, 3] RGB in [0, 1]).

* ``torch_vs_onnx``: max |ONNX streaming output - torch causal clip output| over the crops.
* ``precision_psnr``: PSNR (dB) of one streaming model's outputs against another's (fp32 vs INT8).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vcam.engine.inference.backends import OrtBackend
from vcam.engine.inference.streaming_model import StreamingModel
from vcam.models.autoencoder import DeidAutoencoder


def stream(model: StreamingModel, crops: np.ndarray) -> np.ndarray:
    """Outputs of ``model`` stepped over ``crops`` as one stream."""
    state, outs = None, []
    for crop in crops:
        out, state = model.step(crop, state)
        outs.append(out)
    return np.stack(outs)


def torch_vs_onnx(ae: DeidAutoencoder, onnx_path: Path, crops: np.ndarray) -> float:
    with torch.no_grad():
        ref = ae.eval()(torch.from_numpy(crops).permute(3, 0, 1, 2)[None])[0].permute(1, 2, 3, 0).clamp(0, 1).numpy()
    return float(np.abs(stream(StreamingModel(OrtBackend(onnx_path)), crops) - ref).max())


def precision_psnr(reference: Path, other: Path, crops: np.ndarray) -> float:
    a, b = (stream(StreamingModel(OrtBackend(p)), crops) for p in (reference, other))
    return float(10 * np.log10(1.0 / max(float(np.mean((a - b) ** 2)), 1e-12)))
