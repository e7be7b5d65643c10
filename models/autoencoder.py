"""The de-identification autoencoder of Savic & Zhao (BMVC 2023, Tab. 1), in causal form.

A 3-D conv U-Net: Conv3d 3->32 -> avgpool(1,2,2) -> 32->64 -> avgpool -> 64->64 -> upsample
+ skip -> 64->32 -> upsample + skip -> 32->3 -> tanh; LeakyReLU(0.01), no BatchNorm, additive
skips, replicate padding, no temporal down-sampling (notes/models.md §1.1).

``causal=True`` pads time only from the past (two copies of the first frame), so frame t of the
output depends on frames <= t and the network can run frame by frame: :meth:`step` consumes one
frame plus a cached state (the last two inputs of every conv) and returns exactly what the
windowed forward returns for that frame. ``causal=False`` is the paper-exact centred padding.

Tensors: clips ``[B, 3, T, H, W]`` float32 RGB in [0, 1]; frames ``[B, 3, H, W]``.
:func:`from_onnx` reads the AE back from a file ``vcam-export`` wrote (to fine-tune a shipped model).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import onnx
import torch
import torch.nn.functional as F
from google.protobuf.message import DecodeError
from torch import nn


class CausalConv3d(nn.Module):
    """3x3x3 conv with replicate spatial padding and causal (or centred) replicate time padding."""

    def __init__(self, cin: int, cout: int, causal: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv3d(cin, cout, 3, padding=0)
        self.causal = causal

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (1, 1, 1, 1, 0, 0), mode="replicate")
        first, last = x[:, :, :1], x[:, :, -1:]
        x = torch.cat([first, first, x] if self.causal else [first, x, last], dim=2)
        return self.conv(x)

    def step(self, x: torch.Tensor, state: torch.Tensor, reset: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One causal step. ``x`` [B, C, H, W]; ``state`` [B, C, 2, H+2, W+2] (padded past inputs);
        ``reset`` [1] float, 1.0 on a stream's first frame (state := copies of ``x``)."""
        cur = F.pad(x, (1, 1, 1, 1), mode="replicate").unsqueeze(2)
        state = torch.where(reset > 0.5, cur, state)  # one broadcasting select, no blend arithmetic
        window = torch.cat([state, cur], dim=2)
        # A 3x3x3 conv over exactly 3 frames is a 3x3 conv over the 3*C stacked channels: the
        # exported step then holds only 2-D convs, which runtimes optimise (and quantise) best.
        weight = self.conv.weight.flatten(1, 2)  # [O, C*3, 3, 3], channel-major like the input
        return F.conv2d(window.flatten(1, 2), weight, self.conv.bias), window[:, :, 1:]


class DeidAutoencoder(nn.Module):
    """Paper AE (channels c1=32, c2=64 by default). ``residual`` adds ``residual_scale`` x the
    tanh output to the input, which bounds the perturbation (L-inf <= ``residual_scale``)."""

    def __init__(self, c1: int = 32, c2: int = 64, causal: bool = True, residual: bool = False, residual_scale: float = 1.0) -> None:
        super().__init__()
        self.c1, self.c2, self.causal, self.residual, self.residual_scale = c1, c2, causal, residual, residual_scale
        self.enc1 = CausalConv3d(3, c1, causal)
        self.enc2 = CausalConv3d(c1, c2, causal)
        self.mid = CausalConv3d(c2, c2, causal)
        self.dec2 = CausalConv3d(c2, c1, causal)
        self.dec1 = CausalConv3d(c1, 3, causal)

    def _act(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(x, 0.01)

    def _out(self, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        y = torch.tanh(y)
        return x + self.residual_scale * y if self.residual else y

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        """``[B, 3, T, H, W]`` -> ``[B, 3, T, H, W]``."""
        x1 = self._act(self.enc1(clip))
        x2 = self._act(self.enc2(F.avg_pool3d(x1, (1, 2, 2))))
        x3 = self._act(self.mid(F.avg_pool3d(x2, (1, 2, 2))))
        u2 = F.interpolate(x3, scale_factor=(1, 2, 2), mode="nearest") + x2
        u2 = self._act(self.dec2(u2))
        u1 = F.interpolate(u2, scale_factor=(1, 2, 2), mode="nearest") + x1
        return self._out(self.dec1(u1), clip)

    def state_shapes(self, size: int = 128) -> list[tuple[int, ...]]:
        """Shapes of the per-conv streaming states for a ``size``² input, batch 1."""
        spec = [(3, size), (self.c1, size // 2), (self.c2, size // 4), (self.c2, size // 2), (self.c1, size)]
        return [(1, c, 2, s + 2, s + 2) for c, s in spec]

    def step(self, frame: torch.Tensor, reset: torch.Tensor, states: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """One frame ``[B, 3, H, W]`` -> (output frame, new states); requires ``causal=True``."""
        if not self.causal:
            raise ValueError("only a causal autoencoder can be stepped frame by frame")
        s = iter(states)
        new: list[torch.Tensor] = []

        def conv(layer: CausalConv3d, x: torch.Tensor) -> torch.Tensor:
            y, st = layer.step(x, next(s), reset)
            new.append(st)
            return y

        x1 = self._act(conv(self.enc1, frame))
        x2 = self._act(conv(self.enc2, F.avg_pool2d(x1, 2)))
        x3 = self._act(conv(self.mid, F.avg_pool2d(x2, 2)))
        u2 = self._act(conv(self.dec2, F.interpolate(x3, scale_factor=2, mode="nearest") + x2))
        u1 = F.interpolate(u2, scale_factor=2, mode="nearest") + x1
        return self._out(conv(self.dec1, u1), frame), new


class StreamingWrapper(nn.Module):
    """``forward(frame, reset, *states) -> (output, *states)``: the signature exported to ONNX."""

    def __init__(self, ae: DeidAutoencoder) -> None:
        super().__init__()
        self.ae = ae

    def forward(self, frame: torch.Tensor, reset: torch.Tensor, *states: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out, new = self.ae.step(frame, reset, list(states))
        return (out, *new)


def weights_sha256(model: nn.Module) -> str:
    """Hash of the model's parameters (names, shapes and float32 bytes), for provenance."""
    h = hashlib.sha256()
    for name, p in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(p.detach().float().contiguous().numpy().tobytes())
    return h.hexdigest()


def _load_onnx(path: str | Path) -> onnx.ModelProto:
    try:
        return onnx.load(str(path))
    except DecodeError:
        raise ValueError(f"{path} is not an ONNX file") from None


def onnx_metadata(path: str | Path) -> dict[str, str]:
    """The metadata of an ONNX file (``vcam-export`` writes ``vcam.arch``, ``vcam.training_config``, ...).

    Raises ValueError if the file is not ONNX."""
    return {p.key: p.value for p in _load_onnx(path).metadata_props}


def from_onnx(path: str | Path) -> DeidAutoencoder:
    """The causal AE whose weights a ``vcam-export`` ONNX file (streaming or windowed) holds.
    Every conv's weight is found through its bias's name, reshaped from the streaming step's
    2-D layout where needed, and the result must hash to the file's ``vcam.weights_sha256``.

    Raises ValueError if the file is not such an export or its weights do not match its hash."""
    model = _load_onnx(path)
    meta = {p.key: p.value for p in model.metadata_props}
    try:
        arch = json.loads(meta["vcam.arch"])
        ae = DeidAutoencoder(arch["c1"], arch["c2"], causal=True, residual=arch["residual"], residual_scale=arch["residual_scale"])
        expected = meta["vcam.weights_sha256"]
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{path} is not a model written by vcam-export (metadata {exc})") from None
    inits = {i.name: torch.from_numpy(onnx.numpy_helper.to_array(i).copy()) for i in model.graph.initializer}
    state = ae.state_dict()
    for node in model.graph.node:
        if node.op_type == "Conv" and len(node.input) == 3 and node.input[2] in inits:
            bias = node.input[2].removeprefix("ae.")
            weight = bias.removesuffix("bias") + "weight"
            if bias in state and weight in state and node.input[1] in inits:
                state[bias] = inits[node.input[2]]
                state[weight] = inits[node.input[1]].reshape(state[weight].shape)
    ae.load_state_dict(state)
    if weights_sha256(ae) != expected:
        raise ValueError(f"{path}: the weights read back do not match its vcam.weights_sha256")
    return ae
