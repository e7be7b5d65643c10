"""MediaPipe's 468-point face-mesh model on onnxruntime, read in a rotated square (``Roi``)."""

from __future__ import annotations

import cv2
import numpy as np

from vcam.engine.asset_files import asset
from vcam.engine.face_mesh.roi import Roi
from vcam.engine.inference.backends import OrtBackend

SIZE = 192
POINTS = 468


class LandmarkModel:
    """The shipped face-mesh model on one onnxruntime CPU thread."""

    def __init__(self, threads: int = 1) -> None:
        self._model = OrtBackend(asset("face_mesh", "landmarks.onnx"), threads=threads)
        self._input = self._model.input_names[0]

    def __call__(self, image: np.ndarray, roi: Roi) -> tuple[np.ndarray, float]:
        """Landmarks ``(468, 3)`` float32 in image pixels (x, y, depth scaled like x; smaller depth
        is nearer) of the face in ``roi`` of the uint8 RGB ``image``, and the model's probability
        that a face is there."""
        square = cv2.warpAffine(image, roi.to_square(SIZE), (SIZE, SIZE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        points, flag = self._model.run({self._input: (square.astype(np.float32) / 255.0)[None]})
        presence = float(1.0 / (1.0 + np.exp(-np.float64(flag.ravel()[0]))))
        return roi.from_square(points.reshape(POINTS, 3), SIZE), presence
