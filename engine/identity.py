"""dlib face recogniser (ResNet, 128-d descriptors; registry package ``face_recognition_models``).

``FaceEmbedder.describe(image, box)`` aligns the face inside ``box`` (5-point landmarks, dlib's
150x150 face chip with padding 0.25) and returns its float64 (128,) descriptor. Two faces are the
same person when the Euclidean distance is below ``DLIB_THRESHOLD`` (0.6).
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import dlib
import numpy as np

from .errors import ModelError

DLIB_THRESHOLD = 0.6


def face_models_dir() -> Path:
    """Folder of ``face_recognition_models`` (found without importing it: its import needs
    ``pkg_resources``, which new setuptools no longer ships)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or spec.origin is None:
        raise ModelError("face_recognition_models is not installed: pip install face_recognition_models")
    return Path(spec.origin).parent / "models"


class FaceEmbedder:
    """dlib's ResNet descriptor on chips aligned with dlib's 5-point shape predictor."""

    threshold = DLIB_THRESHOLD
    name = "dlib"

    def __init__(self) -> None:
        d = face_models_dir()
        try:
            self._shape = dlib.shape_predictor(str(d / "shape_predictor_5_face_landmarks.dat"))
            self._net = dlib.face_recognition_model_v1(str(d / "dlib_face_recognition_resnet_model_v1.dat"))
        except RuntimeError as exc:
            raise ModelError(f"cannot load dlib face models from {d}: {exc}; reinstall face_recognition_models") from None

    def chip(self, image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        """uint8 (150, 150, 3) RGB aligned face chip of the face in ``box`` (x0, y0, x1, y1)."""
        shape = self._shape(image, dlib.rectangle(*map(int, box)))
        return dlib.get_face_chip(image, shape, size=150, padding=0.25)

    def describe(self, image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        """128-d descriptor of the face in ``box`` of ``image`` (uint8 RGB)."""
        return np.asarray(self._net.compute_face_descriptor(self.chip(image, box)))
