"""MediaPipe's face tracker run on onnxruntime: the short-range BlazeFace detector finds faces, the
468-point face-mesh model places landmarks in a rotated square around each, and each face's next
square comes from its own landmarks, as in MediaPipe's face-mesh graph. No mediapipe at run time:
the models and the landmark topology are shipped files (``assets/face_mesh/``, built by
``export/face_mesh_models.py``)."""

from vcam.engine.face_mesh.mesh import FaceMesh
from vcam.engine.face_mesh.topology import REGIONS

__all__ = ["FaceMesh", "REGIONS"]
