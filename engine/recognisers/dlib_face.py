"""dlib's ResNet (registry package ``face_recognition_models``): 5-point landmarks, 150x150 face chip
(padding 0.25), 128-d descriptor, Euclidean distance < 0.6."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import dlib
import numpy as np

from vcam.engine.errors import ModelError
from vcam.engine.recognisers.base import Recogniser

DLIB_THRESHOLD = 0.6
CHIP_SIZE = 150  # dlib's aligned face chip: 150x150 px, padding 0.25
CHIP_PADDING = 0.25


def face_models_dir() -> Path:
    """Folder of ``face_recognition_models`` (found without importing it: its import needs
    ``pkg_resources``, which new setuptools no longer ships)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or spec.origin is None:
        raise ModelError("face_recognition_models is not installed: pip install face_recognition_models")
    return Path(spec.origin).parent / "models"


class DlibRecogniser(Recogniser):
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

    def shape(self, image: np.ndarray, box: tuple[int, int, int, int]) -> dlib.full_object_detection:
        """dlib's 5 landmarks of the face in ``box`` (x0, y0, x1, y1)."""
        return self._shape(image, dlib.rectangle(*map(int, box)))

    def chip(self, image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        """uint8 (150, 150, 3) RGB aligned face chip of the face in ``box`` (any memory layout: dlib
        itself rejects views such as a transposed tensor's)."""
        image = np.ascontiguousarray(image)
        return dlib.get_face_chip(image, self.shape(image, box), size=CHIP_SIZE, padding=CHIP_PADDING)

    def chip_matrix(self, image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        """float64 2x3 matrix mapping ``chip``'s pixel (x, y) to ``image``'s: the chip's corners land
        on dlib's chip rectangle rotated by its angle about its centre (dlib's extract_image_chip)."""
        details = dlib.get_face_chip_details(self.shape(np.ascontiguousarray(image), box), CHIP_SIZE, CHIP_PADDING)
        r = details.rect
        cx, cy = (r.left() + r.right()) / 2, (r.top() + r.bottom()) / 2
        sx, sy = (r.right() - r.left()) / (details.cols - 1), (r.bottom() - r.top()) / (details.rows - 1)
        c, s = np.cos(details.angle), np.sin(details.angle)
        rot = np.array([[c, -s], [s, c]]) @ np.diag([sx, sy])
        centre_chip = np.array([(details.cols - 1) / 2, (details.rows - 1) / 2])
        return np.hstack([rot, (np.array([cx, cy]) - rot @ centre_chip)[:, None]])

    def describe_chip(self, chip: np.ndarray) -> np.ndarray:
        """128-d descriptor of an aligned 150x150 face chip."""
        return np.asarray(self._net.compute_face_descriptor(chip))

    def describe(self, image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        """128-d descriptor of the face in ``box`` of ``image`` (uint8 RGB)."""
        return self.describe_chip(self.chip(image, box))
