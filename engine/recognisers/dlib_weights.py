"""dlib's ResNet face recogniser file (``dlib_face_recognition_resnet_model_v1.dat``) read into
numpy arrays, without dlib or pickle: the weights both the torch port (``vcam.models.dlib_resnet``)
and the runtime's descriptor gradient (``identity_gradient``) are built from.

    weights = read_dlib_weights(face_models_dir() / "dlib_face_recognition_resnet_model_v1.dat")

File format (dlib serialisation): layer details appear input -> output after the loss header;
each layer starts with its length-prefixed tag string (``con_4``, ``affine_``, ``fc_2``, ...);
integers are dlib varints (low nibble = byte count, bit 7 = sign, then little-endian bytes);
each parameter tensor is ``varint 2, n, k, nr, nc`` followed by raw little-endian float32, and a
layer's parameter tensor comes first after its tag (a conv's filter count and size follow it).

Layer order (``STAGES``): the 7x7 stem, then one residual block per entry (channels, whether it
starts by down-sampling), each with two 3x3 convolutions and two affine layers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vcam.engine.errors import ModelError

_TAGS = (b"con_4", b"affine_", b"fc_2", b"input_rgb_image_sized")
# Channels of each residual stage and whether it starts with a down-sampling block.
STAGES = [
    (32, False),
    (32, False),
    (32, False),
    (64, True),
    (64, False),
    (64, False),
    (64, False),
    (128, True),
    (128, False),
    (128, False),
    (256, True),
    (256, False),
    (256, False),
    (256, True),
]


@dataclass
class DlibWeights:
    mean_rgb: np.ndarray  # (3,)
    convs: list[tuple[np.ndarray, np.ndarray]]  # (weight OIHW, bias)
    affines: list[tuple[np.ndarray, np.ndarray]]  # (gamma, beta)
    fc: np.ndarray  # (256, 128): descriptor = features @ fc


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    head = buf[i]
    n = head & 0x0F
    if n > 8 or head & 0x70:
        raise ValueError("not a dlib varint")
    value = int.from_bytes(buf[i + 1 : i + 1 + n], "little")
    return (-value if head & 0x80 else value), i + 1 + n


def _tensor_after(buf: bytes, start: int, end: int) -> tuple[np.ndarray, int]:
    """The first serialised tensor (version 2) in ``buf[start:end]`` and the offset after it."""
    i = start
    while i < end - 2:
        if buf[i] == 1 and buf[i + 1] == 2:
            try:
                j, dims = i + 2, []
                for _ in range(4):
                    v, j = _varint(buf, j)
                    dims.append(v)
                size = int(np.prod(dims))
                if all(d > 0 for d in dims) and j + 4 * size <= end:
                    return np.frombuffer(buf, "<f4", size, j).reshape(dims).astype(np.float32), j + 4 * size
            except (ValueError, IndexError):
                pass
        i += 1
    raise ValueError(f"no tensor between bytes {start} and {end}")


def _layer_tags(buf: bytes) -> list[tuple[int, bytes]]:
    """(offset after the tag, tag) of every length-prefixed known tag, in file order."""
    found = []
    for tag in _TAGS:
        needle = bytes([1, len(tag)]) + tag
        i = buf.find(needle)
        while i >= 0:
            found.append((i + len(needle), tag))
            i = buf.find(needle, i + 1)
    return sorted(found)


def read_dlib_weights(path: Path) -> DlibWeights:
    """Parse the .dat file; raises ``ModelError`` naming the fix if it is missing or corrupt."""
    try:
        buf = Path(path).read_bytes()
        tags = _layer_tags(buf)
        ends = [t[0] for t in tags[1:]] + [len(buf)]
        convs, affines, fc, mean = [], [], None, None
        for (start, tag), end in zip(tags, ends, strict=True):
            if tag == b"input_rgb_image_sized":
                mean = _read_input_means(buf, start)
            elif tag == b"con_4":  # params tensor, then num_filters, nr, nc, strides, paddings
                params, j = _tensor_after(buf, start, end)
                params = params.ravel()
                filters, j = _varint(buf, j)
                kh, j = _varint(buf, j)
                kw, j = _varint(buf, j)
                n_in = (params.size - filters) // (filters * kh * kw)
                convs.append((params[: filters * n_in * kh * kw].reshape(filters, n_in, kh, kw), params[filters * n_in * kh * kw :]))
            elif tag == b"affine_":
                params = _tensor_after(buf, start, end)[0].ravel()
                c = params.size // 2
                affines.append((params[:c], params[c:]))
            else:
                fc = _tensor_after(buf, start, end)[0].reshape(256, 128)
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read dlib face model {path}: {exc}; reinstall face_recognition_models") from None
    if len(convs) != 29 or len(affines) != 29 or fc is None or mean is None:
        raise ModelError(f"{path} is not dlib_face_recognition_resnet_model_v1 ({len(convs)} conv layers); reinstall face_recognition_models")
    return DlibWeights(mean, convs, affines, fc)


def _read_input_means(buf: bytes, start: int) -> np.ndarray:
    """input_rgb_image_sized stores its channel means as dlib floats (mantissa, exponent varints)."""
    j, means = start, list[float]()
    while len(means) < 3:
        mantissa, j = _varint(buf, j)
        exponent, j = _varint(buf, j)
        means.append(mantissa * 2.0**exponent)
    return np.array(means, np.float32)
