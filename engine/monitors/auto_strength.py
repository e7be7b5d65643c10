"""Auto strength: close the loop between the identity monitor and the filter's strength.

While the live identity monitor's gauge (dlib's distance of the outgoing face to the user's
enrolled face) says the face is still recognisable, the strength goes up a step per reading,
up to MAX_STRENGTH; after ``calm_readings`` readings in a row that are clear of the threshold
it comes back down a smaller step, never below the user's strength (the floor). So each user
gets the least perturbation that this recogniser no longer matches, rising within seconds and
relaxing slowly. The applied strength glides to each new value at ``glide_per_s`` instead of
jumping: a step in the perturbation is a step in the face's mean colour, which the pulse
readers see (engine/assets/deid_default.md measures what jumps cost the pulse).

Usage::

    auto = AutoStrength()
    auto.update(reading, floor=1.0)   # each new IdentityReading (about one a second)
    auto.advance(frame_time_s)        # each frame
    strength = auto.strength(1.0)     # what the filter uses for this frame

Only the gauge's recogniser drives it: the shipped model leaves SFace matching most frames
even at MAX_STRENGTH (model card), so following SFace would just pin the strength at the top.
"""

from __future__ import annotations

from dataclasses import dataclass

from vcam.engine.filters import MAX_STRENGTH
from vcam.engine.monitors import IdentityReading


@dataclass
class AutoStrength:
    """The boost above the user's strength; ``update`` it with each identity reading."""

    step_up: float = 0.1  # per reading that is within ``margin`` of a match
    step_down: float = 0.05  # per ``calm_readings`` clear readings in a row
    calm_readings: int = 5
    margin: float = 0.05  # "recognisable": distance < threshold + margin (act before the match)
    glide_per_s: float = 0.1  # how fast the applied boost follows ``boost``
    boost: float = 0.0  # the target
    applied: float = 0.0
    _calm: int = 0
    _t: float | None = None

    def update(self, reading: IdentityReading, floor: float) -> None:
        """Step the boost on a new ``reading`` (pass each one once; enrolling readings are
        ignored); ``floor`` is the user's strength."""
        if not reading.enrolled or reading.distance is None:
            return
        if reading.distance < reading.threshold + self.margin:
            # One step above what is applied now: readings that arrive faster than the glide
            # (each measured at a strength still on its way up) do not pile up steps.
            self.boost = min(max(self.boost, self.applied + self.step_up), max(MAX_STRENGTH - floor, 0.0))
            self._calm = 0
        else:
            self._calm += 1
            if self._calm >= self.calm_readings:
                self.boost = max(self.boost - self.step_down, 0.0)
                self._calm = 0

    def advance(self, t: float) -> None:
        """Move the applied boost towards the target for the time since the last call (``t``
        in seconds, e.g. the frame's timestamp)."""
        if self._t is not None:
            room = self.glide_per_s * max(t - self._t, 0.0)
            self.applied += min(max(self.boost - self.applied, -room), room)
        self._t = t

    def strength(self, floor: float) -> float:
        """The strength to use: ``floor`` plus the applied boost, at most MAX_STRENGTH (or
        ``floor`` if that is higher)."""
        return max(floor, min(floor + self.applied, MAX_STRENGTH))

    def reset(self) -> None:
        """Forget the boost (auto strength turned off, or a new session)."""
        self.boost, self.applied, self._calm, self._t = 0.0, 0.0, 0, None
