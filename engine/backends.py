"""Inference backends: run an ONNX model file on onnxruntime (CPU or CUDA execution provider).

Contract: ``run(feeds)`` takes ``{input name: float32 array}`` and returns the outputs in the
model's output order; it raises ``ModelError`` if the file cannot be loaded.
``choose_backend("auto", path)`` prefers CUDA when onnxruntime offers it, else the CPU, and
says why in ``backend.reason``.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np
import onnxruntime as ort

from .errors import ModelError


class InferenceBackend(ABC):
    """One loaded model on one device."""

    name: str
    reason: str = ""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @property
    @abstractmethod
    def input_names(self) -> list[str]: ...

    @property
    @abstractmethod
    def metadata(self) -> dict[str, str]: ...

    @abstractmethod
    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]: ...


class OrtBackend(InferenceBackend):
    """onnxruntime session. ``provider`` is "cpu" or "cuda"; CPU threads are bounded and
    spinning is off so the session does not steal cycles from the other pipeline threads."""

    def __init__(self, path: Path, provider: str = "cpu", threads: int = 1) -> None:
        super().__init__(path)
        if not self.path.is_file():
            raise ModelError(f"model file not found: {self.path}")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if provider == "cuda" else ["CPUExecutionProvider"]
        try:
            self.session = ort.InferenceSession(str(self.path), opts, providers=providers)
        except Exception as exc:  # onnxruntime raises several unrelated types for bad files
            raise ModelError(f"cannot load model {self.path}: {str(exc).splitlines()[0]}") from None
        self.name = f"onnxruntime-{provider}"
        self._outputs = [o.name for o in self.session.get_outputs()]

    @property
    def input_names(self) -> list[str]:
        return [i.name for i in self.session.get_inputs()]

    @property
    def metadata(self) -> dict[str, str]:
        return dict(self.session.get_modelmeta().custom_metadata_map)

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        return self.session.run(self._outputs, feeds)


def choose_backend(kind: str, path: Path, threads: int = 1) -> InferenceBackend:
    """``kind`` in {"auto", "cpu", "cuda"}; "auto" uses CUDA only where onnxruntime has it."""
    available = ort.get_available_providers()
    if kind == "auto":
        if "CUDAExecutionProvider" in available:
            backend = OrtBackend(path, "cuda", threads)
            backend.reason = "auto: onnxruntime CUDA execution provider available"
        else:
            backend = OrtBackend(path, "cpu", threads)
            backend.reason = "auto: no CUDA execution provider, using CPU"
        return backend
    if kind == "cuda" and "CUDAExecutionProvider" not in available:
        raise ModelError("backend 'cuda' needs onnxruntime-gpu with a CUDA GPU (pip install 'deid-vcam[gpu]'); use --backend cpu")
    if kind not in ("cpu", "cuda"):
        raise ModelError(f"unknown backend {kind!r}; choose auto, cpu or cuda")
    backend = OrtBackend(path, kind, threads)
    backend.reason = f"requested {kind}"
    return backend
