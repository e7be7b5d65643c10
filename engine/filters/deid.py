"""``deid``: the paper's streaming de-identification autoencoder, one temporal state per face track."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from vcam.engine.errors import ModelError
from vcam.engine.filters.base import FaceFilter, clamp_strength
from vcam.engine.inference.backends import choose_backend
from vcam.engine.inference.streaming_model import StreamingModel


class DeidFilter(FaceFilter):
    """The streaming de-identification AE; refuses models not marked as trained."""

    name = "deid"
    residual = True

    def __init__(self, model: StreamingModel, allow_untrained: bool = False) -> None:
        if not model.info.trained and not allow_untrained:
            raise ModelError(f"{model.info.path} holds untrained (random) weights; train a model with vcam-train or use --filter blur")
        self.model = model
        config = json.loads(model.info.metadata.get("vcam.training_config", "{}"))
        self.recognisers = frozenset({"dlib"} | ({"sface"} if config.get("delta_sface") else set()))
        self._states: dict[int, list[np.ndarray]] = {}

    def process(self, crop: np.ndarray, track_id: int, strength: float = 1.0, landmarks: np.ndarray | None = None) -> np.ndarray:
        out, self._states[track_id] = self.model.step(crop, self._states.get(track_id))
        strength = clamp_strength(strength)
        return out if strength == 1.0 else crop + np.float32(strength) * (out - crop)

    def forget(self, live_ids: set[int]) -> None:
        for tid in set(self._states) - live_ids:
            del self._states[tid]


def build(model: Path | None, backend: str, threads: int, precision: str, allow_untrained: bool) -> DeidFilter:
    """The AE in ``model`` on ``backend``; ``ModelError`` with the fix if there is none or it is a pattern."""
    if model is not None and Path(model).suffix == ".npz":
        raise ModelError(f"{model} is an identity pattern, not an AE model; use --filter pattern with it")
    if model is None or not Path(model).is_file():
        raise ModelError(
            f"filter 'deid' needs a trained model and none was found{f' at {model}' if model else ''}; "
            "train one with vcam-train, pass --model PATH, or use --filter blur"
        )
    return DeidFilter(StreamingModel(choose_backend(backend, Path(model), threads, precision)), allow_untrained)
