"""Inference backends: run an ONNX model file on onnxruntime's CPU, CUDA or TensorRT execution
provider (the GPU ones come with ``onnxruntime-gpu``; TensorRT engines and timing caches are kept
in the user cache dir, keyed by onnxruntime). A torch backend for development lives in
``vcam.export.torch_backend``.

Contract: ``run(feeds)`` takes ``{input name: float32 array}`` and returns the outputs in the
model's output order; loading raises ``ModelError`` with the fix if the file or provider is
unusable. ``choose_backend("auto", path)`` prefers TensorRT, then CUDA, then the CPU, and says
why in ``backend.reason``.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import numpy as np
import onnxruntime as ort

from .errors import ModelError

PROVIDERS = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
}


def session_options(threads: int = 1) -> ort.SessionOptions:
    """CPU threads bounded and spinning off, so a session does not steal cycles from the other
    pipeline threads (or from torch in the same process) between calls."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return opts


def _provider_list(provider: str, fp16: bool) -> list:
    """Execution providers in fallback order for onnxruntime."""
    if provider == "tensorrt":
        import platformdirs

        cache = platformdirs.user_cache_dir("deid-vcam") + f"/tensorrt-ort{ort.__version__}"
        options = {"trt_fp16_enable": fp16, "trt_engine_cache_enable": True, "trt_engine_cache_path": cache,
                   "trt_timing_cache_enable": True, "trt_timing_cache_path": cache}
        return [("TensorrtExecutionProvider", options), "CUDAExecutionProvider", "CPUExecutionProvider"]
    if provider == "cuda":
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


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
    """onnxruntime session on ``provider`` "cpu", "cuda" or "tensorrt" (see ``session_options``)."""

    def __init__(self, path: Path, provider: str = "cpu", threads: int = 1, fp16: bool = True) -> None:
        super().__init__(path)
        if not self.path.is_file():
            raise ModelError(f"model file not found: {self.path}")
        try:
            self.session = ort.InferenceSession(str(self.path), session_options(threads), providers=_provider_list(provider, fp16))
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
    """``kind`` in {"auto", "cpu", "cuda", "tensorrt"}; "auto" takes the fastest provider that
    onnxruntime offers on this machine (TensorRT, then CUDA, then CPU)."""
    available = ort.get_available_providers()
    if kind == "auto":
        kind = next(k for k in ("tensorrt", "cuda", "cpu") if PROVIDERS[k] in available)
        reason = f"auto: {PROVIDERS[kind]} is the fastest provider onnxruntime offers here"
    elif kind not in PROVIDERS:
        raise ModelError(f"unknown backend {kind!r}; choose auto, cpu, cuda or tensorrt")
    elif PROVIDERS[kind] not in available:
        raise ModelError(f"backend {kind!r} needs onnxruntime-gpu with an NVIDIA GPU (pip install 'deid-vcam[gpu]'; for tensorrt also the TensorRT libraries); use --backend cpu")
    else:
        reason = f"requested {kind}"
    backend = OrtBackend(path, kind, threads)
    backend.reason = reason
    return backend
