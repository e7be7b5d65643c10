"""``vcam-export``: turn a ``vcam-train`` checkpoint into the runtime's model files.

    vcam-export --checkpoint runs/default/checkpoint.pt --out model.onnx --streaming
                [--int8 --calib VIDEO] [--tensorrt [--fp16]]

``--streaming`` writes the frame-by-frame format the runtime runs (otherwise: windowed, dynamic
T, for offline use). ``--int8`` also writes ``<out stem>.int8.onnx`` (static QDQ, calibrated on
the face crops of ``--calib``), run with ``vcam-run --precision int8``. ``--tensorrt`` pre-builds the
TensorRT engine into the user cache (needs an NVIDIA GPU). Parity against torch is checked on
real face crops (``--calib``, else the built-in demo face) and printed; it must be <= 1e-4.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from vcam.engine.crop import video_face_crops
from vcam.engine.errors import ModelError, VcamError
from vcam.engine.inference.backends import int8_companion
from vcam.engine.video.sources import DemoSource, VideoFileSource

from .cli import Parser, guarded, quiet_native_logs, train_extra_missing

PARITY_LIMIT = 1e-4


def main(argv: list[str] | None = None) -> int:
    ap = Parser(prog="vcam-export", description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", required=True, type=Path, help="checkpoint.pt (or its run folder) from vcam-train")
    ap.add_argument("--out", required=True, type=Path, help="output .onnx path")
    ap.add_argument("--streaming", action="store_true", help="frame-by-frame format with cached state (what vcam-run needs)")
    ap.add_argument("--int8", action="store_true", help="also write <out stem>.int8.onnx (needs --streaming and --calib)")
    ap.add_argument("--calib", type=Path, help="video with a face: INT8 calibration and parity crops")
    ap.add_argument("--calib-frames", type=int, default=200, help="face crops taken from --calib (default: 200)")
    ap.add_argument("--tensorrt", action="store_true", help="pre-build the TensorRT engine (NVIDIA GPU only)")
    ap.add_argument("--fp16", action="store_true", help="TensorRT: allow FP16 kernels")
    args = ap.parse_args(argv)
    quiet_native_logs()
    try:
        from vcam.export.checkpoint import load_checkpoint
        from vcam.export.onnx_export import export_streaming, export_windowed
        from vcam.export.parity import precision_psnr, torch_vs_onnx
    except ImportError as exc:
        return train_extra_missing("vcam-export", exc)

    def body() -> int:
        if args.int8 and not (args.streaming and args.calib):
            raise VcamError("--int8 needs --streaming and --calib VIDEO (calibration face crops)")
        if args.tensorrt and not args.streaming:
            raise VcamError("--tensorrt needs --streaming")
        if args.out.suffix != ".onnx":
            raise VcamError(f"--out must end in .onnx (got {args.out})")
        ae, cfg = load_checkpoint(args.checkpoint)
        source = VideoFileSource(args.calib) if args.calib else DemoSource(640, 480, frames=64)
        with source:
            crops = video_face_crops(source, args.calib_frames)
        extra = {"vcam.training_commit": str(cfg.get("commit", "unknown")), "vcam.training_config": json.dumps(cfg, sort_keys=True)}
        export = export_streaming if args.streaming else export_windowed
        path = export(ae, args.out, trained=True, extra=extra)
        print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB, {'streaming' if args.streaming else 'windowed'})")
        if args.streaming:
            diff = torch_vs_onnx(ae, path, crops[:64])
            print(f"parity onnxruntime vs torch on {min(len(crops), 64)} face crops: max |diff| = {diff:.1e}")
            if diff > PARITY_LIMIT:
                raise ModelError(f"exported model differs from torch by {diff:.1e} (> {PARITY_LIMIT:.0e}); not usable")
        if args.int8:
            from vcam.export.quantize import quantize_streaming

            half = len(crops) // 2
            int8 = quantize_streaming(path, int8_companion(path), crops[:half])
            print(
                f"wrote {int8} ({int8.stat().st_size / 1e6:.2f} MB); INT8 vs fp32 PSNR on {len(crops) - half} held-out crops: "
                f"{precision_psnr(path, int8, crops[half:]):.1f} dB; it runs only with --precision int8: check its privacy "
                f"first (python benchmarks/train_default.py --model {int8}), quantisation can undo the perturbation"
            )
        if args.tensorrt:
            from vcam.engine.inference.tensorrt_backend import build_engine

            for model, precision in ((path, "fp16" if args.fp16 else "fp32"),) + (((int8_companion(path), "int8"),) if args.int8 else ()):
                print(f"TensorRT engine: {build_engine(model, precision)}")
        return 0

    return guarded("vcam-export", body)


if __name__ == "__main__":
    sys.exit(main())
