"""The fail-closed rules: while the filter protects, which faces and frames get the safe fallback
instead of the filter's output, so that no raw face reaches the sink.

* a face beyond ``max_faces``, or every face of a frame that is already late (``late``), gets
  the fallback without running the filter;
* a face whose filter raised gets the fallback (with ``off``, which does not protect, the error
  propagates: there is nothing to fail closed to);
* a frame without faces, less than ``hold_s`` after the last face was seen, is obscured whole
  (a tracker that loses the face for a moment must not show it).

The pipeline asks the policy per face and per frame; the policy holds only the time the last face
was seen. Whole-frame errors (anything raised while processing a frame) are obscured by the
pipeline itself.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FailClosed:
    """The rules above for ``max_faces`` protected faces and a ``hold_s`` hold after a face is lost."""

    max_faces: int
    hold_s: float
    last_face_t: float | None = None  # when a face was last seen (frame time, seconds)

    def skip_filter(self, protects: bool, index: int, late: bool) -> str | None:
        """Why face number ``index`` of a frame gets the fallback without the filter ("deadline",
        "too many faces"), or None if it gets the filter."""
        if not protects:
            return None
        if late:
            return "deadline"
        return "too many faces" if index >= self.max_faces else None

    @staticmethod
    def filter_failed(protects: bool, exc: Exception) -> str:
        """The fallback reason for a face whose filter raised ``exc``; re-raises it when the
        filter does not protect."""
        if not protects:
            raise exc
        return "filter error"

    def hide_frame(self, protects: bool, t: float, faces: int) -> bool:
        """Whether the frame at time ``t`` with ``faces`` faces must be obscured whole (a face
        was seen less than ``hold_s`` ago and none is found now); records when faces are seen."""
        if faces:
            self.last_face_t = t
            return False
        return protects and self.last_face_t is not None and t - self.last_face_t < self.hold_s
