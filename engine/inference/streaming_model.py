"""Stateful frame-by-frame runner for streaming ONNX AEs (format written by ``vcam.export``).

Contract: ``step(crop, state)`` takes a float32 (S, S, 3) RGB crop in [0, 1] and the per-stream
state (``None`` starts a new stream), and returns the output crop (same layout, clipped to
[0, 1]) and the new state. Metadata is validated on load; a wrong signature raises ``ModelError``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vcam.engine.errors import ModelError
from vcam.engine.inference.backends import InferenceBackend

FORMAT_STREAMING = "vcam-streaming-v1"
FORMAT_WINDOWED = "vcam-windowed-v1"


@dataclass(frozen=True)
class ModelInfo:
    """What the model file says about itself."""

    path: Path
    input_size: int
    state_shapes: tuple[tuple[int, ...], ...]
    trained: bool
    metadata: dict[str, str]


def read_model_info(path: Path, metadata: dict[str, str]) -> ModelInfo:
    """Validate ``metadata`` of a streaming model file; raises ``ModelError`` naming the problem."""
    fmt = metadata.get("vcam.format")
    if fmt != FORMAT_STREAMING:
        raise ModelError(f"{path}: not a deid-vcam streaming model (format {fmt!r}, expected {FORMAT_STREAMING!r}); export one with vcam-export --streaming")
    try:
        size = int(metadata["vcam.input_size"])
        shapes = tuple(tuple(int(d) for d in s) for s in json.loads(metadata["vcam.state_shapes"]))
    except (KeyError, ValueError, TypeError) as exc:
        raise ModelError(f"{path}: model metadata is incomplete ({exc}); re-export it with vcam-export") from None
    if metadata.get("vcam.colour") != "RGB" or metadata.get("vcam.range") != "0-1":
        raise ModelError(f"{path}: model expects {metadata.get('vcam.colour')} in {metadata.get('vcam.range')}, the runtime feeds RGB in 0-1")
    return ModelInfo(path, size, shapes, metadata.get("vcam.trained") == "true", metadata)


class StreamingModel:
    """A streaming AE on an inference backend."""

    def __init__(self, backend: InferenceBackend) -> None:
        self.backend = backend
        self.info = read_model_info(backend.path, backend.metadata)
        expected = {"frame", "reset", *(f"state_{i}" for i in range(len(self.info.state_shapes)))}
        if set(backend.input_names) != expected:
            raise ModelError(f"{backend.path}: model inputs {sorted(backend.input_names)} do not match the streaming signature {sorted(expected)}")

    def initial_state(self) -> list[np.ndarray]:
        return [np.zeros(s, np.float32) for s in self.info.state_shapes]

    def step(self, crop: np.ndarray, state: list[np.ndarray] | None) -> tuple[np.ndarray, list[np.ndarray]]:
        """Run one frame; ``state=None`` starts a new stream (temporal context = this frame)."""
        reset = np.array([1.0 if state is None else 0.0], np.float32)
        state = self.initial_state() if state is None else state
        feeds = {"frame": np.ascontiguousarray(crop.transpose(2, 0, 1)[None]), "reset": reset}
        feeds.update({f"state_{i}": s for i, s in enumerate(state)})
        out, *new_state = self.backend.run(feeds)
        return np.clip(out[0].transpose(1, 2, 0), 0.0, 1.0), new_state
