"""INT8 static quantisation (onnxruntime, QDQ, per-channel weights) of a streaming AE.

Calibration runs the fp32 model over real face crops frame by frame, so every calibration
sample carries the states the model really produces; the int8 file keeps the fp32 file's
``vcam.*`` metadata (plus ``vcam.precision = int8``), so the runtime accepts it unchanged.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

from vcam.engine.inference.backends import OrtBackend
from vcam.engine.inference.streaming_model import StreamingModel


class _StreamFeeds(CalibrationDataReader):
    """Feeds of consecutive streaming steps over ``crops`` (float32 [N, S, S, 3] RGB in [0, 1])."""

    def __init__(self, model: StreamingModel, crops: np.ndarray) -> None:
        feeds, state = [], None
        for crop in crops:
            current = model.initial_state() if state is None else state
            feed = {"frame": np.ascontiguousarray(crop.transpose(2, 0, 1)[None]), "reset": np.array([1.0 if state is None else 0.0], np.float32)}
            feed.update({f"state_{i}": s for i, s in enumerate(current)})
            feeds.append(feed)
            _, state = model.step(crop, state)
        self._it = iter(feeds)

    def get_next(self) -> dict | None:
        return next(self._it, None)


def quantize_streaming(fp32_path: Path, out_path: Path, calibration_crops: np.ndarray) -> Path:
    """Write the int8 QDQ version of ``fp32_path`` to ``out_path``; returns it."""
    fp32_path, out_path = Path(fp32_path), Path(out_path)
    reader = _StreamFeeds(StreamingModel(OrtBackend(fp32_path)), calibration_crops)
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(fp32_path), str(prepared))
        quantize_static(
            str(prepared), str(out_path), reader, quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8
        )
    meta = {p.key: p.value for p in onnx.load(str(fp32_path)).metadata_props}
    model = onnx.load(str(out_path))
    onnx.helper.set_model_props(model, {**meta, "vcam.precision": "int8"})
    onnx.save(model, str(out_path))
    return out_path
