"""Pretrained rPPG weights from the PyPI wheel ``open-rppg`` (MIT; PURE- and RLAP-trained Keras-3
h5 files in ``rppg/weights/``), fetched through the package registry only.

``ensure_weights(name)`` downloads the pinned wheel without its dependencies (``pip download``),
checks its sha256, reads the one h5 file it needs with h5py, converts the float16 Keras tensors
to float32 torch tensors under the module's own parameter names, and caches them as
``<user cache dir>/deid-vcam/weights/<name>.pt``; later calls load that file with
``torch.load(weights_only=True)`` (no pickle of untrusted data). open-rppg's own code and its
jax/keras dependencies are never installed or imported.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import h5py
import numpy as np
import platformdirs
import torch

from vcam.engine.errors import ModelError

Net = TypeVar("Net", bound=torch.nn.Module)

WHEEL = "open-rppg==0.1.1"
WHEEL_FILE = "open_rppg-0.1.1-py3-none-any.whl"
WHEEL_SHA256 = "8283c0b54eeb53524d866436147d8112ee26f130730fb848cafc5b39d89249c6"
H5_FILES = {
    "physnet.pure": "rppg/weights/physnet.pure.weights.h5",
    "physnet.rlap": "rppg/weights/physnet.rlap.weights.h5",
    "physformer.pure": "rppg/weights/PhysFormer.pure.weights.h5",
    "physformer.rlap": "rppg/weights/PhysFormer.rlap.weights.h5",
}


def weights_dir() -> Path:
    return Path(platformdirs.user_cache_dir("deid-vcam")) / "weights"


def _download_wheel(dest: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--disable-pip-version-check", WHEEL, "-d", str(dest)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    wheel = dest / WHEEL_FILE
    if result.returncode != 0 or not wheel.is_file():
        why = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "no wheel"
        raise ModelError(f"could not download {WHEEL} from the package index ({why}); check the network and run vcam-weights again")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != WHEEL_SHA256:
        raise ModelError(f"{WHEEL_FILE} has sha256 {digest}, expected {WHEEL_SHA256}; refusing to use it")
    return wheel


def h5_tensors(data: bytes) -> dict[str, np.ndarray]:
    """Every dataset of a Keras-3 weights h5 file, float32, keyed by its path."""
    out: dict[str, np.ndarray] = {}
    with h5py.File(io.BytesIO(data), "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, np.asarray(obj, np.float32)) if isinstance(obj, h5py.Dataset) else None)
    return out


def load_frozen(net: Net, name: str, convert: Callable[[dict[str, np.ndarray]], dict[str, torch.Tensor]], cache: Path | None = None) -> Net:
    """``net`` with weight set ``name`` loaded, in eval mode, without gradients (a frozen judge).
    Weights are kept channels-last (3-D), the faster layout for these networks on CPU (outputs equal
    to 1e-5); inputs may stay in the default layout."""
    net.load_state_dict(ensure_weights(name, convert, cache))
    net.to(memory_format=torch.channels_last_3d)  # type: ignore[call-overload]  # documented, missing from torch's overloads
    return net.eval().requires_grad_(False)


def ensure_weights(name: str, convert: Callable[[dict[str, np.ndarray]], dict[str, torch.Tensor]], cache: Path | None = None) -> dict[str, torch.Tensor]:
    """The torch state dict of weight set ``name`` (see ``H5_FILES``), fetching it if needed."""
    if name not in H5_FILES:
        raise ModelError(f"unknown weight set {name!r}; known: {', '.join(H5_FILES)}")
    path = (cache or weights_dir()) / f"{name}.pt"
    if path.is_file():
        try:
            return torch.load(path, weights_only=True)
        except Exception as exc:  # corrupt cache: say how to fix it
            raise ModelError(f"cached weights {path} are unreadable ({type(exc).__name__}); delete the file and run vcam-weights again") from None
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(_download_wheel(Path(tmp))) as wheel:
            state = convert(h5_tensors(wheel.read(H5_FILES[name])))
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return state
