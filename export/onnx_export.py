"""Export the causal AE to ONNX: the runtime's streaming format (one frame + cached state per
step) and a windowed format (a whole clip, dynamic length T) for offline use.

Graph: inputs ``frame`` [1, 3, S, S] float32 RGB [0, 1], ``reset`` [1] float32 (1.0 on a stream's
first frame), ``state_0..state_{n-1}``; outputs ``output`` [1, 3, S, S] and ``state_i_out``.
Metadata (``vcam.*`` keys) describes the contract; the runtime validates it
(:mod:`vcam.engine.inference.streaming_model`).
"""

from __future__ import annotations

import contextlib
import json
import warnings
from collections.abc import Iterator
from pathlib import Path

import onnx
import torch

from vcam.engine.inference.streaming_model import FORMAT_STREAMING, FORMAT_WINDOWED
from vcam.models.autoencoder import DeidAutoencoder, StreamingWrapper, weights_sha256


def model_metadata(ae: DeidAutoencoder, fmt: str, size: int, trained: bool, extra: dict | None) -> dict[str, str]:
    return {
        "vcam.format": fmt,
        "vcam.arch": json.dumps(
            {"name": "DeidAutoencoder", "c1": ae.c1, "c2": ae.c2, "causal": ae.causal, "residual": ae.residual, "residual_scale": ae.residual_scale}
        ),
        "vcam.input_size": str(size),
        "vcam.colour": "RGB",
        "vcam.range": "0-1",
        "vcam.state_shapes": json.dumps(ae.state_shapes(size)),
        "vcam.trained": "true" if trained else "false",
        "vcam.weights_sha256": weights_sha256(ae),
        **(extra or {}),
    }


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """No grad, and no TorchScript-exporter warning about strided slices it cannot constant-fold
    (harmless: onnxruntime folds them at load) in users' terminals."""
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Constant folding", category=UserWarning)
        yield


def _save_with_metadata(path: Path, meta: dict[str, str]) -> Path:
    model = onnx.load(str(path))
    onnx.helper.set_model_props(model, meta)
    onnx.save(model, str(path))
    return path


def export_windowed(ae: DeidAutoencoder, path: str | Path, size: int = 128, trained: bool = True, extra: dict | None = None) -> Path:
    """Write ``ae`` as a windowed ONNX file: ``clip`` [1, 3, T, S, S] -> ``output``, T dynamic."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _quiet_exporter():
        torch.onnx.export(
            ae.eval(),
            (torch.rand(1, 3, 8, size, size),),
            str(path),
            input_names=["clip"],
            output_names=["output"],
            dynamic_axes={"clip": {2: "T"}, "output": {2: "T"}},
            opset_version=17,
            dynamo=False,
        )
    return _save_with_metadata(path, model_metadata(ae, FORMAT_WINDOWED, size, trained, extra))


def export_streaming(ae: DeidAutoencoder, path: str | Path, size: int = 128, trained: bool = True, extra: dict | None = None) -> Path:
    """Write ``ae`` as a streaming ONNX file at ``path``; returns the path.

    ``trained=False`` marks the file so the runtime refuses it for real protection (tests and
    speed benchmarks only).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ae = ae.eval()
    shapes = ae.state_shapes(size)
    n = len(shapes)
    args = (torch.rand(1, 3, size, size), torch.ones(1), *[torch.zeros(s) for s in shapes])
    in_names = ["frame", "reset"] + [f"state_{i}" for i in range(n)]
    out_names = ["output"] + [f"state_{i}_out" for i in range(n)]
    with _quiet_exporter():
        torch.onnx.export(StreamingWrapper(ae), args, str(path), input_names=in_names, output_names=out_names, opset_version=17, dynamo=False)
    return _save_with_metadata(path, model_metadata(ae, FORMAT_STREAMING, size, trained, extra))
