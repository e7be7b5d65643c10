"""Face mesh over a stream of images: detection where a face may be new, tracking from landmarks."""

from __future__ import annotations

import numpy as np

from vcam.engine.face_mesh.detector import Detection, FaceDetector
from vcam.engine.face_mesh.landmarks import LandmarkModel
from vcam.engine.face_mesh.roi import Roi

# Landmarks that are level on an upright face (outer corners of the person's right and left eye),
# and the detector's keypoints for the same (its eye keypoints).
_EYE_CORNERS = (33, 263)
_EYE_KEYPOINTS = (0, 1)
SAME_FACE_IOU = 0.5


def _from_detection(d: Detection) -> Roi:
    return Roi.around(d.box, d.keypoints[_EYE_KEYPOINTS[0]], d.keypoints[_EYE_KEYPOINTS[1]])


def _from_landmarks(pts: np.ndarray) -> Roi:
    box = np.concatenate([pts[:, :2].min(0), pts[:, :2].max(0)])
    return Roi.around(box, pts[_EYE_CORNERS[0], :2], pts[_EYE_CORNERS[1], :2])


class FaceMesh:
    """Up to ``max_faces`` faces per image, each as ``(468, 3)`` landmarks in pixels.

    Like MediaPipe's face-mesh graph: in ``static`` mode every image is searched by the detector; in
    tracking mode a face found in the previous image is read again in the square its landmarks give,
    and the detector runs only while fewer than ``max_faces`` faces are tracked (a detection that
    overlaps a tracked square by IoU > 0.5 is the same face and is dropped). A face is kept while the
    landmark model's face probability is at least ``min_presence``.
    """

    def __init__(self, max_faces: int = 4, static: bool = False, min_detection: float = 0.5, min_presence: float = 0.5) -> None:
        self.max_faces, self.static = max_faces, static
        self.min_detection, self.min_presence = min_detection, min_presence
        self._detector = FaceDetector()
        self._landmarks = LandmarkModel()
        self._tracked: list[Roi] = []

    def process(self, image: np.ndarray) -> list[np.ndarray]:
        """Landmarks of every face in the uint8 RGB ``image``."""
        rois = [] if self.static else list(self._tracked)
        if len(rois) < self.max_faces:
            found = [_from_detection(d) for d in self._detector(image, self.min_detection)[: self.max_faces]]
            rois = [r for r in found if all(r.iou(t) <= SAME_FACE_IOU for t in rois)] + rois
        faces = []
        for roi in rois[: self.max_faces]:
            pts, presence = self._landmarks(image, roi)
            if presence >= self.min_presence:
                faces.append(pts)
        self._tracked = [_from_landmarks(p) for p in faces]
        return faces

    def reset(self) -> None:
        """Forget the tracked faces: the next image is searched from scratch."""
        self._tracked = []
