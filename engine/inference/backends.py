"""Inference backends: run an ONNX model file on onnxruntime's CPU or CUDA execution provider
(CUDA comes with ``onnxruntime-gpu``) or natively on TensorRT (:mod:`.tensorrt_backend`). A torch
backend for development lives in ``vcam.export.torch_backend``.

Contract: ``run(feeds)`` takes ``{input name: float32 array}`` and returns the outputs in the
model's output order; loading raises ``ModelError`` with the fix if the file or provider is
unusable. ``choose_backend("auto", path)`` prefers TensorRT, then CUDA, then the CPU, and says why
in ``backend.reason``. Full precision unless INT8 is asked for: the INT8 companion
``<model>.int8.onnx`` runs only with ``precision="int8"``, because quantisation can undo an
adversarial perturbation (the AE's model card has the measurement).
"""

from __future__ import annotations

import tempfile
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import onnxruntime as ort

from vcam.engine.errors import ModelError

if TYPE_CHECKING:
    import onnx  # 0.5 s to import (ml_dtypes): only callers that build graphs pay it

PROVIDERS = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
}
BACKENDS = ("auto", "tensorrt", "cuda", "cpu")
# What each GPU backend needs installed. onnxruntime-gpu and onnxruntime are one module in two
# packages: the GPU one replaces the other, it cannot sit beside it (so it is no extra).
GPU_INSTALL = {
    "cuda": "onnxruntime-gpu instead of onnxruntime (pip uninstall -y onnxruntime && pip install onnxruntime-gpu)",
    "tensorrt": "pip install 'deid-vcam[gpu]' (TensorRT and cuda-python)",
}
PRECISIONS = ("auto", "fp32", "int8")


def session_options(threads: int = 1) -> ort.SessionOptions:
    """CPU threads bounded and spinning off, so a session does not steal cycles from the other
    pipeline threads (or from torch in the same process) between calls."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return opts


def cpu_session(model: onnx.ModelProto, options: ort.SessionOptions) -> ort.InferenceSession:
    """A CPU session of an in-memory model. Built through a temporary file: a session built from
    bytes keeps them for its lifetime (onnxruntime's Python wrapper, for a provider fallback),
    86 MB for SFace's gradient graphs. Raises what onnxruntime raises for a refused graph."""
    with tempfile.TemporaryDirectory(prefix="vcam-onnx-") as folder:
        path = Path(folder) / "model.onnx"
        path.write_bytes(model.SerializeToString())
        return ort.InferenceSession(str(path), options, providers=[PROVIDERS["cpu"]])


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
    """onnxruntime session on ``provider`` "cpu" or "cuda" (see ``session_options``)."""

    def __init__(self, path: Path, provider: str = "cpu", threads: int = 1, options: ort.SessionOptions | None = None) -> None:
        super().__init__(path)
        if not self.path.is_file():
            raise ModelError(f"model file not found: {self.path}")
        try:
            providers = [PROVIDERS[provider], PROVIDERS["cpu"]] if provider != "cpu" else [PROVIDERS["cpu"]]
            self.session = ort.InferenceSession(str(self.path), options or session_options(threads), providers=providers)
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


def int8_companion(path: Path) -> Path:
    """Where ``vcam-export --int8`` puts the INT8 version of ``path``: ``<stem>.int8.onnx``."""
    return Path(path).with_suffix(".int8.onnx")


def _usable(kind: str) -> bool:
    if kind == "tensorrt":
        from vcam.engine.inference import tensorrt_backend

        return tensorrt_backend.available()
    return PROVIDERS[kind] in ort.get_available_providers()


def choose_backend(kind: str, path: Path, threads: int = 1, precision: str = "auto") -> InferenceBackend:
    """``kind`` in ``BACKENDS``: "auto" takes the fastest usable one here (TensorRT, then the CUDA
    provider, then the CPU). ``precision`` in ``PRECISIONS``: "auto" and "fp32" run ``path`` (fp16
    on TensorRT), "int8" its INT8 companion file (on the CPU or TensorRT)."""
    if kind not in BACKENDS:
        raise ModelError(f"unknown backend {kind!r}; choose {', '.join(BACKENDS)}")
    if precision not in PRECISIONS:
        raise ModelError(f"unknown precision {precision!r}; choose {', '.join(PRECISIONS)}")
    path, int8 = Path(path), int8_companion(path)
    if kind == "auto":
        kind = next(k for k in ("tensorrt", "cuda", "cpu") if _usable(k))
        reason = f"auto: {kind} is the fastest backend usable here"
    elif not _usable(kind):
        raise ModelError(f"backend {kind!r} needs an NVIDIA GPU and {GPU_INSTALL[kind]}; use --backend cpu")
    else:
        reason = f"requested {kind}"
    if precision == "int8" and not int8.is_file():
        raise ModelError(f"no INT8 model at {int8}; make one with vcam-export --streaming --int8 --calib VIDEO")
    use_int8 = kind != "cuda" and precision == "int8"
    if use_int8:
        reason += f", INT8 model {int8.name}"
    if kind == "tensorrt":
        from vcam.engine.inference.tensorrt_backend import TensorRTBackend

        backend: InferenceBackend = TensorRTBackend(int8 if use_int8 else path, "int8" if use_int8 else "fp16")
    else:
        backend = OrtBackend(int8 if use_int8 else path, kind, threads)
    backend.reason = reason
    return backend
