"""Development backend: run a torch ``DeidAutoencoder`` in-process behind the runtime's
``InferenceBackend`` contract (same input/output names and metadata as the streaming ONNX), so a
model being trained can be tried in the real pipeline without exporting it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vcam.engine.inference.backends import InferenceBackend
from vcam.engine.inference.streaming_model import FORMAT_STREAMING
from vcam.export.onnx_export import model_metadata
from vcam.models.autoencoder import DeidAutoencoder


class TorchBackend(InferenceBackend):
    name = "torch"
    reason = "requested torch (development)"

    def __init__(self, ae: DeidAutoencoder, size: int = 128, trained: bool = True) -> None:
        super().__init__(Path("<torch>"))
        self.ae = ae.eval()
        self._meta = model_metadata(ae, FORMAT_STREAMING, size, trained, None)
        self._n_states = len(ae.state_shapes(size))

    @property
    def input_names(self) -> list[str]:
        return ["frame", "reset"] + [f"state_{i}" for i in range(self._n_states)]

    @property
    def metadata(self) -> dict[str, str]:
        return dict(self._meta)

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        states = [torch.from_numpy(feeds[f"state_{i}"]) for i in range(self._n_states)]
        with torch.no_grad():
            out, new = self.ae.step(torch.from_numpy(feeds["frame"]), torch.from_numpy(feeds["reset"]), states)
        return [out.numpy(), *(s.numpy() for s in new)]
