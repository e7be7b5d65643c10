"""Optional (not in CI): our torch PhysNet/PhysFormer vs. open-rppg's original Keras models.

    python benchmarks/keras_parity.py --keras-python /path/to/venv/bin/python [--json]

The Keras side needs ``keras jax h5py einops numpy`` in its own environment (JAX wants numpy 2,
MediaPipe numpy 1, so they cannot share one). This script fetches the same pinned open-rppg wheel,
feeds both implementations the same uint8 clip of real EVM face crops (PhysNet 128x32x32,
PhysFormer 160x128x128), runs Keras in float32 policy, and reports the max abs difference and
correlation of the output pulses. open-rppg's ``models.py`` is loaded straight from the wheel
as part of a stub package (its ``__init__`` and its runtime dependencies are not needed) with a stub
``pkg_resources``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

KERAS_SIDE = r"""
import importlib, sys, types
import numpy as np
sys.modules["pkg_resources"] = types.ModuleType("pkg_resources")
pkg_dir, h5dir, io = sys.argv[1], sys.argv[2], sys.argv[3]
package = types.ModuleType("rppg")  # the wheel's package without its __init__ (and its imports)
package.__path__ = [pkg_dir]
sys.modules["rppg"] = package
models = importlib.import_module("rppg.models")
import keras
keras.mixed_precision.set_global_policy("float32")
data = np.load(io + "/in.npz")
out = {}
for name, cls, key in (("physnet", models.PhysNet, "physnet.pure"), ("physformer", models.PhysFormer, "PhysFormer.pure")):
    x = data[name]
    model = cls()
    model(np.zeros((1, *x.shape), "float32"))
    model.load_weights(f"{h5dir}/{key}.weights.h5")
    out[name] = np.asarray(model(x[None].astype("float32") / 255.0))[0]
np.savez(io + "/out.npz", **out)
"""


def evm_clips() -> dict[str, np.ndarray]:
    """uint8 clips of tracked real face crops: PhysNet (128, 32, 32, 3), PhysFormer (160, 128, 128, 3)."""
    import cv2

    from vcam.engine.crop import crop_face
    from vcam.engine.tracking import FaceTracker

    cap = cv2.VideoCapture(str(Path(__file__).resolve().parents[2] / "shared" / "data" / "video" / "evm" / "face.mp4"))
    crops = []
    with FaceTracker(max_faces=1) as tracker:
        while len(crops) < 160:
            ok, bgr = cap.read()
            if not ok:
                break
            img = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            crops.append(np.round(crop_face(img, tracker.update(img)[0]) * 255).astype(np.uint8))
    small = [cv2.resize(c, (32, 32), interpolation=cv2.INTER_AREA) for c in crops[:128]]
    return {"physnet": np.stack(small), "physformer": np.stack(crops[:160])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keras-python", required=True, help="python of an environment with keras, jax, h5py, einops")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    import torch

    from vcam.models.physformer import PhysFormer
    from vcam.models.physnet import PhysNet
    from vcam.models.weights import H5_FILES, _download_wheel

    clips = evm_clips()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        with zipfile.ZipFile(_download_wheel(tmp_path)) as wheel:
            wheel.extractall(tmp_path, [n for n in wheel.namelist() if n.startswith("rppg/") and n.endswith(".py") and not n.endswith("__init__.py")])
            for key in ("physnet.pure", "physformer.pure"):
                (tmp_path / Path(H5_FILES[key]).name).write_bytes(wheel.read(H5_FILES[key]))
        np.savez(tmp_path / "in.npz", **clips)
        (tmp_path / "keras_side.py").write_text(KERAS_SIDE)
        run = subprocess.run(
            [args.keras_python, str(tmp_path / "keras_side.py"), str(tmp_path / "rppg"), str(tmp_path), str(tmp_path)], capture_output=True, text=True
        )
        if run.returncode != 0:
            sys.exit(f"keras side failed: {run.stderr.strip().splitlines()[-1] if run.stderr.strip() else run.returncode}")
        keras_out = dict(np.load(tmp_path / "out.npz"))
    result = {}
    for name, cls in (("physnet", PhysNet), ("physformer", PhysFormer)):
        x = torch.from_numpy(clips[name]).permute(3, 0, 1, 2)[None].float() / 255.0
        with torch.no_grad():
            ours = cls.pretrained("pure")(x)[0].numpy()
        theirs = keras_out[name].reshape(-1)
        result[f"{name}_keras_max_abs_diff"] = float(np.abs(ours - theirs).max())
        result[f"{name}_keras_correlation"] = float(np.corrcoef(ours, theirs)[0, 1])
    print(json.dumps(result) if args.json else "\n".join(f"{k:<32}{v:.3g}" for k, v in result.items()))


if __name__ == "__main__":
    main()
