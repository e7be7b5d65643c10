"""Virtual people for the anonymise filter: shapes in crop coordinates (:mod:`.shape`), a person
drawn from a seed without any photograph (:mod:`.identity`) and the mesh warp that moves it onto a
frame's landmarks (:mod:`.warp`)."""

from vcam.engine.virtual_face.identity import VirtualPerson, draw_person
from vcam.engine.virtual_face.shape import UserShape, mean_face, virtual_shape
from vcam.engine.virtual_face.warp import MeshWarp

__all__ = ["MeshWarp", "UserShape", "VirtualPerson", "draw_person", "mean_face", "virtual_shape"]
