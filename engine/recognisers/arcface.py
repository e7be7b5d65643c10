"""ArcFace's 5-point alignment (eye centres, nose tip, mouth corners to a 112x112 template), the input
of SFace and of the judges; landmarks from dlib's 68-point predictor, loaded once per process."""

from __future__ import annotations

import functools

import cv2
import dlib
import numpy as np

from vcam.engine.errors import ModelError
from vcam.engine.recognisers.dlib_face import face_models_dir

SFACE_SIZE = 112  # SFace's input: 112x112 px
# ArcFace's 112x112 template: eye centres, nose tip, mouth corners (x, y).
ARCFACE_TEMPLATE = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]], np.float32)


@functools.cache
def _landmarks_68() -> dlib.shape_predictor:
    """dlib's 68-point predictor, loaded once per process (70 MB; read-only, so shared by every
    aligner and thread)."""
    path = face_models_dir() / "shape_predictor_68_face_landmarks.dat"
    try:
        return dlib.shape_predictor(str(path))
    except RuntimeError as exc:
        raise ModelError(f"cannot load dlib's 68-point landmarks {path}: {exc}; reinstall face_recognition_models") from None


class ArcFaceAligner:
    """ArcFace's 5-point alignment to 112x112 (SFace's input), landmarks from dlib's 68-point
    predictor (one copy per process, whatever the number of aligners)."""

    def __init__(self) -> None:
        self._shape = _landmarks_68()

    def landmarks(self, image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        """ArcFace's 5 points (eye centres, nose tip, mouth corners) from dlib's 68 landmarks."""
        shape = self._shape(np.ascontiguousarray(image), dlib.rectangle(*map(int, box)))
        p = np.array([(pt.x, pt.y) for pt in shape.parts()], np.float32)
        return np.array([p[36:42].mean(0), p[42:48].mean(0), p[30], p[48], p[54]], np.float32)

    def alignment(self, image: np.ndarray, box: tuple[int, int, int, int], template: np.ndarray = ARCFACE_TEMPLATE) -> np.ndarray:
        """2x3 image -> template matrix (similarity) of the face in ``box`` of uint8 RGB ``image``."""
        m, _ = cv2.estimateAffinePartial2D(self.landmarks(image, box), template, method=cv2.LMEDS)
        return m

    def aligned(self, image: np.ndarray, box: tuple[int, int, int, int], size: int = SFACE_SIZE, template: np.ndarray = ARCFACE_TEMPLATE) -> np.ndarray:
        """uint8 (size, size, 3) RGB face aligned to ``template`` (default: ArcFace's, 112 px)."""
        return cv2.warpAffine(np.ascontiguousarray(image), self.alignment(image, box, template), (size, size), flags=cv2.INTER_LINEAR)
