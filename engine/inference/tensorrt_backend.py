"""Native TensorRT backend: build (or load from cache) a serialized engine for an ONNX model with
the TensorRT Python API and run it with CUDA through ``cuda-python``.

Written against TensorRT 10's documented API (``Builder.build_serialized_network``, a timing cache
through ``IBuilderConfig.create_timing_cache``/``set_timing_cache``, named I/O tensors with
``set_tensor_address`` and ``execute_async_v3``) and cuda-python's ``cudart``. It needs an NVIDIA
GPU with ``pip install 'deid-vcam[gpu]'``; none exists on the development machine, so this path is
not exercised there (``available()`` is False and the backend refuses with the fix).

Engines and timing caches live in the user cache dir, keyed by the model's weights hash, the
precision, the GPU (name + compute capability) and the TensorRT version, because a plan is only
valid for the exact GPU and TensorRT that built it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import platformdirs

from vcam.engine.errors import ModelError
from vcam.engine.inference.backends import GPU_INSTALL, InferenceBackend

PRECISIONS = ("fp32", "fp16", "int8")


def _modules() -> tuple[Any, Any]:
    """(tensorrt, cudart) or raise ModelError naming what is missing."""
    try:
        import tensorrt as trt
    except ImportError:
        raise ModelError(f"TensorRT is not installed: {GPU_INSTALL['tensorrt']} on a machine with an NVIDIA GPU, or use --backend cpu") from None
    try:
        from cuda.bindings import runtime as cudart
    except ImportError:
        try:
            from cuda import cudart
        except ImportError:
            raise ModelError(f"cuda-python is not installed ({GPU_INSTALL['tensorrt']}); the TensorRT backend needs it for GPU memory") from None
    return trt, cudart


def _check(result: tuple[Any, ...]) -> Any:
    """Unwrap a cuda-python ``(error, value...)`` tuple; raise ModelError on a CUDA error."""
    err, *values = result
    if int(err) != 0:
        raise ModelError(f"CUDA call failed with error {int(err)} ({err})")
    return values[0] if len(values) == 1 else tuple(values)


def available() -> bool:
    """True if TensorRT, cuda-python and at least one CUDA device are present."""
    try:
        _, cudart = _modules()
        return int(_check(cudart.cudaGetDeviceCount())) > 0
    except ModelError:
        return False


def engine_key(onnx_path: Path, precision: str) -> str:
    """Cache key: model content hash + precision + GPU name/compute capability + TensorRT version."""
    trt, cudart = _modules()
    props = _check(cudart.cudaGetDeviceProperties(0))
    gpu = props.name.decode(errors="replace") if isinstance(props.name, bytes) else str(props.name)
    model = hashlib.sha256(Path(onnx_path).read_bytes()).hexdigest()[:16]
    return f"{model}-{precision}-{gpu.replace(' ', '_')}-sm{props.major}{props.minor}-trt{trt.__version__}"


def cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir("deid-vcam")) / "tensorrt"


def build_engine(onnx_path: Path, precision: str = "fp16", cache: Path | None = None) -> Path:
    """Build (or reuse) the serialized engine for ``onnx_path``; returns the ``.plan`` path.

    ``precision``: "fp32", "fp16" (FP16 kernels allowed) or "int8" (for a QDQ int8 ONNX from
    ``vcam-export --int8``: explicit quantisation, FP16 allowed for the rest).
    """
    if precision not in PRECISIONS:
        raise ModelError(f"unknown TensorRT precision {precision!r}; choose {', '.join(PRECISIONS)}")
    trt, _ = _modules()
    cache = cache or cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    key = engine_key(onnx_path, precision)
    plan_path, timing_path = cache / f"{key}.plan", cache / f"timing-{key.split('-', 2)[2]}.cache"
    if plan_path.is_file():
        return plan_path
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # explicit batch is the only mode in TensorRT 10
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(Path(onnx_path).read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ModelError(f"TensorRT cannot parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    if precision in ("fp16", "int8"):
        config.set_flag(trt.BuilderFlag.FP16)
    if precision == "int8":
        config.set_flag(trt.BuilderFlag.INT8)
    timing = config.create_timing_cache(timing_path.read_bytes() if timing_path.is_file() else b"")
    config.set_timing_cache(timing, ignore_mismatch=False)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise ModelError(f"TensorRT failed to build an engine for {onnx_path} (see the TensorRT log above)")
    timing_path.write_bytes(bytes(config.get_timing_cache().serialize()))
    plan_path.write_bytes(bytes(plan))
    return plan_path


class TensorRTBackend(InferenceBackend):
    """A TensorRT engine for a streaming ONNX model; host arrays in, host arrays out (the
    per-frame state is small: one copy each way per step)."""

    def __init__(self, onnx_path: Path, precision: str = "fp16") -> None:
        super().__init__(onnx_path)
        if not self.path.is_file():
            raise ModelError(f"model file not found: {self.path}")
        trt, cudart = _modules()
        if not available():
            raise ModelError("no CUDA GPU found for the TensorRT backend; use --backend cpu")
        self._cudart = cudart
        graph = onnx.load(str(self.path), load_external_data=False)
        self._meta = {p.key: p.value for p in graph.metadata_props}
        plan = build_engine(self.path, precision)
        self._engine = trt.Runtime(trt.Logger(trt.Logger.WARNING)).deserialize_cuda_engine(plan.read_bytes())
        if self._engine is None:
            raise ModelError(f"cannot load TensorRT engine {plan}; delete it to rebuild")
        self._context = self._engine.create_execution_context()
        self._stream = _check(cudart.cudaStreamCreate())
        names = [self._engine.get_tensor_name(i) for i in range(self._engine.num_io_tensors)]
        self._inputs = [n for n in names if self._engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        self._outputs = [o.name for o in graph.graph.output]  # the ONNX output order, as onnxruntime returns it
        self._host = {n: np.zeros(tuple(self._engine.get_tensor_shape(n)), np.float32) for n in names}
        self._device = {}
        for n, arr in self._host.items():
            self._device[n] = _check(cudart.cudaMalloc(arr.nbytes))
            self._context.set_tensor_address(n, int(self._device[n]))
        self.name = f"tensorrt-{precision}"

    @property
    def input_names(self) -> list[str]:
        return list(self._inputs)

    @property
    def metadata(self) -> dict[str, str]:
        return dict(self._meta)

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        cudart = self._cudart
        h2d, d2h = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice, cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        staged = [np.ascontiguousarray(feeds[n], np.float32) for n in self._inputs]  # alive until the sync
        for n, src in zip(self._inputs, staged, strict=True):
            _check(cudart.cudaMemcpyAsync(self._device[n], src.ctypes.data, src.nbytes, h2d, self._stream))
        if not self._context.execute_async_v3(int(self._stream)):
            raise ModelError("TensorRT inference failed")
        for n in self._outputs:
            _check(cudart.cudaMemcpyAsync(self._host[n].ctypes.data, self._device[n], self._host[n].nbytes, d2h, self._stream))
        _check(cudart.cudaStreamSynchronize(self._stream))
        return [self._host[n].copy() for n in self._outputs]

    def close(self) -> None:
        for ptr in self._device.values():
            self._cudart.cudaFree(ptr)
        self._device.clear()
