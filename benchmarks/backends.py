"""Backend speed of the streaming AE step (128x128, batch 1): torch eager, onnxruntime fp32 and
INT8, at 1 and 2 threads, for the paper-size AE (3->32->64) and the shipped half-width one
(3->16->32); plus the compute floor (FLOPs per frame / this CPU's measured conv throughput) and
where onnxruntime's time goes (per op type, from its profiler).

    python benchmarks/backends.py            # table
    python benchmarks/backends.py --json     # one JSON object

Targets (issue #6, this 2-core CPU): paper-size streaming <= 10 ms/frame fp32 or <= 6 ms INT8
with <= 0.5 dB PSNR loss. Top-level keys are the paper-size AE at 2 threads: ``torch_ms``,
``ort_fp32_ms``, ``ort_int8_ms``, ``int8_psnr_db`` (INT8 vs fp32 outputs on held-out real face
crops), ``floor_ms``. Random weights: speed does not depend on their values; the INT8 PSNR does a
little, so ``int8_psnr_db`` is also reported for the shipped model when it exists.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from vcam.engine.crop import video_face_crops
from vcam.engine.inference.backends import OrtBackend, int8_companion, session_options
from vcam.engine.inference.streaming_model import StreamingModel
from vcam.engine.video.sources import DemoSource
from vcam.export.checkpoint import architecture_of
from vcam.export.onnx_export import export_streaming
from vcam.export.parity import precision_psnr
from vcam.export.quantize import quantize_streaming
from vcam.export.torch_backend import TorchBackend
from vcam.models.autoencoder import DeidAutoencoder

DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "engine" / "assets" / "deid_default.onnx"
STEPS = 200


def step_ms(model: StreamingModel, crops: np.ndarray, steps: int = STEPS) -> float:
    """Median ms of one streaming step (after 20 warm-up steps)."""
    state, times = None, []
    for i in range(steps + 20):
        t0 = time.perf_counter()
        _, state = model.step(crops[i % len(crops)], state)
        if i >= 20:
            times.append(time.perf_counter() - t0)
    return round(float(np.median(times)) * 1000, 2)


def flops_per_frame(ae: DeidAutoencoder, size: int = 128) -> float:
    """Multiply-adds x 2 of the five 3x3x3 convs in one streaming step."""
    c1, c2 = ae.c1, ae.c2
    layers = [(3, c1, size), (c1, c2, size // 2), (c2, c2, size // 4), (c2, c1, size // 2), (c1, 3, size)]
    return float(sum(2 * cin * 27 * cout * s * s for cin, cout, s in layers))


def conv_gflops(threads: int) -> float:
    """This CPU's sustained 3x3 conv throughput (GFLOP/s) with torch, a large well-shaped conv."""
    torch.set_num_threads(threads)
    x, w = torch.rand(1, 192, 64, 64), torch.rand(64, 192, 3, 3)
    with torch.no_grad():
        for _ in range(5):
            F.conv2d(x, w, padding=1)
        t0 = time.perf_counter()
        n = 30
        for _ in range(n):
            F.conv2d(x, w, padding=1)
    return 2 * 192 * 9 * 64 * 64 * 64 * n / (time.perf_counter() - t0) / 1e9


def op_breakdown(path: Path, crops: np.ndarray, threads: int) -> dict[str, float]:
    """Share of onnxruntime node time per op type over 100 steps (its profiler)."""
    opts = session_options(threads)
    with tempfile.TemporaryDirectory() as tmp:
        opts.enable_profiling = True
        opts.profile_file_prefix = str(Path(tmp) / "prof")
        backend = OrtBackend(path, threads=threads, options=opts)
        step_ms(StreamingModel(backend), crops, 100)
        events = json.loads(Path(backend.session.end_profiling()).read_text())
    per_op: dict[str, float] = defaultdict(float)
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            per_op[e["args"]["op_name"]] += e["dur"]
    total = sum(per_op.values()) or 1.0
    return {k: round(v / total, 3) for k, v in sorted(per_op.items(), key=lambda kv: -kv[1]) if v / total >= 0.01}


def measure(ae: DeidAutoencoder, crops: np.ndarray, tmp: Path, name: str, fp32: Path | None = None) -> dict:
    """All backends for one AE; ``fp32`` reuses an exported model (and its INT8 companion)."""
    half = len(crops) // 2
    if fp32 is None:
        fp32 = export_streaming(ae, tmp / f"{name}.onnx", trained=False)
    int8 = int8_companion(fp32)
    if not int8.is_file():
        int8 = quantize_streaming(fp32, tmp / f"{name}.int8.onnx", crops[:half])
    row: dict = {"flops_per_frame": flops_per_frame(ae), "int8_psnr_db": round(precision_psnr(fp32, int8, crops[half:]), 2)}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        row[f"torch_ms_{threads}t"] = step_ms(StreamingModel(TorchBackend(ae, trained=False)), crops)
        row[f"ort_fp32_ms_{threads}t"] = step_ms(StreamingModel(OrtBackend(fp32, threads=threads)), crops)
        row[f"ort_int8_ms_{threads}t"] = step_ms(StreamingModel(OrtBackend(int8, threads=threads)), crops)
    row["ort_fp32_ops_2t"] = op_breakdown(fp32, crops, 2)
    return row


def run() -> dict:
    with DemoSource(640, 480, frames=120) as src:
        crops = video_face_crops(src)
    gflops = {t: round(conv_gflops(t), 1) for t in (1, 2)}
    results: dict = {"conv_gflops_1t": gflops[1], "conv_gflops_2t": gflops[2]}
    with tempfile.TemporaryDirectory() as tmp:
        torch.manual_seed(0)
        paper = measure(DeidAutoencoder(32, 64, residual=True).eval(), crops, Path(tmp), "paper")
        results["paper"] = paper
        if DEFAULT_MODEL.is_file():
            shipped = architecture_of(DEFAULT_MODEL)
            results["shipped"] = measure(shipped, crops, Path(tmp), "shipped", DEFAULT_MODEL)
    results.update(
        {
            "torch_ms": paper["torch_ms_2t"],
            "ort_fp32_ms": paper["ort_fp32_ms_2t"],
            "ort_int8_ms": paper["ort_int8_ms_2t"],
            "int8_psnr_db": paper["int8_psnr_db"],
            "floor_ms": round(paper["flops_per_frame"] / (gflops[2] * 1e9) * 1000, 2),
        }
    )
    return results


def table(r: dict) -> str:
    lines = [
        f"conv throughput: {r['conv_gflops_1t']} GFLOP/s (1 thread), {r['conv_gflops_2t']} GFLOP/s (2 threads)",
        f"{'model':8} {'threads':>7} {'torch ms':>9} {'ORT fp32':>9} {'ORT int8':>9} {'floor ms':>9} {'int8 PSNR':>10}",
    ]
    for name in ("paper", "shipped"):
        if name not in r:
            continue
        m = r[name]
        for t in (1, 2):
            floor = m["flops_per_frame"] / (r[f"conv_gflops_{t}t"] * 1e9) * 1000
            lines.append(
                f"{name:8} {t:>7} {m[f'torch_ms_{t}t']:>9.2f} {m[f'ort_fp32_ms_{t}t']:>9.2f} {m[f'ort_int8_ms_{t}t']:>9.2f} "
                f"{floor:>9.2f} {m['int8_psnr_db']:>9.1f}dB"
            )
        lines.append(f"{'':8} ORT fp32 time by op (2 threads): " + ", ".join(f"{k} {v:.0%}" for k, v in m["ort_fp32_ops_2t"].items()))
    return "\n".join(lines)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    result = run()
    print(json.dumps(result, indent=2) if ap.parse_args().json else table(result))
