"""The face recognisers the project knows, one module each, and their registry by name for the
evaluation, the live identity monitor and the benchmarks. Every recogniser implements ``Recogniser``
(:mod:`.base`): align the face in a box, describe it, compare descriptors, match by its own threshold.

``dlib`` and ``sface`` are what the protecting filters are tuned against; the others
(:mod:`.judges`) are no filter's target. Which ones a filter used is the filter's own declaration
(``FaceFilter.recognisers``); everything else is *unseen* for it, and a privacy claim is the worst
figure over the unseen ones (``unseen``).
"""

from __future__ import annotations

from collections.abc import Iterable

from vcam.engine.recognisers.arcface import ARCFACE_TEMPLATE, SFACE_SIZE, ArcFaceAligner
from vcam.engine.recognisers.base import Recogniser, cosine_distance
from vcam.engine.recognisers.dlib_face import CHIP_PADDING, CHIP_SIZE, DLIB_THRESHOLD, DlibRecogniser, face_models_dir
from vcam.engine.recognisers.sface import SFACE_COSINE_THRESHOLD, SFaceRecogniser, sface_model_path
from vcam.engine.recognisers.zoo import FacepluginRecogniser, FaceResRecogniser, MobileFaceRecogniser

RECOGNISERS: dict[str, type[Recogniser]] = {
    "dlib": DlibRecogniser,
    "sface": SFaceRecogniser,
    "faceplugin": FacepluginRecogniser,
    "faceres": FaceResRecogniser,
    "mobileface": MobileFaceRecogniser,
}


# The unseen judge a live monitor reads first: the most accurate and cheapest one not in a filter's list.
LIVE_ORDER = ("faceplugin", "faceres", "mobileface", "sface", "dlib")


__all__ = [
    "ARCFACE_TEMPLATE",
    "CHIP_PADDING",
    "CHIP_SIZE",
    "DLIB_THRESHOLD",
    "LIVE_ORDER",
    "RECOGNISERS",
    "SFACE_COSINE_THRESHOLD",
    "SFACE_SIZE",
    "ArcFaceAligner",
    "Recogniser",
    "DlibRecogniser",
    "FacepluginRecogniser",
    "FaceResRecogniser",
    "MobileFaceRecogniser",
    "SFaceRecogniser",
    "cosine_distance",
    "face_models_dir",
    "live_recognisers",
    "sface_model_path",
    "unseen",
]


def unseen(seen: Iterable[str]) -> tuple[str, ...]:
    """The registered recognisers not in ``seen``, in registry order."""
    used = set(seen)
    return tuple(name for name in RECOGNISERS if name not in used)


def live_recognisers(seen: Iterable[str]) -> tuple[str, ...]:
    """What the live identity monitor runs for a filter that used ``seen``: first the best unseen
    judge (it drives the gauge), then dlib and SFace, the recognisers the cloaks attack, so every
    filter can be compared on them."""
    used = set(seen)
    first = next(name for name in LIVE_ORDER if name not in used)
    return (first, *(name for name in ("dlib", "sface") if name != first))
