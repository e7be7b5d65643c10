"""Face filters: float32 (S, S, 3) RGB crop in [0, 1] -> crop of the same layout, one module each,
chosen by name through ``FILTERS`` / ``make_filter`` (:mod:`.registry`).

``anonymise`` (the runtime's default) replaces the face with a virtual person who does not exist,
moved by the user's expressions and carrying the user's pulse (it needs the face's landmarks).
``adaptive`` starts each face from a learned identity pattern and adapts it
to that face while it is on screen (steps of dlib's and SFace's descriptor gradients within a PSNR
budget); ``pattern`` adds the pattern alone, placed by dlib's alignment of each crop; ``deid`` runs
the paper's streaming autoencoder with one temporal state per face track; ``blur`` and
``pixelate`` are the paper's baselines; ``scramble`` shuffles blocks of a square around the face as
a key decides, so the key's holder can restore the recording (it works on the frame, in
``FaceFilter.finish``); ``off`` returns the crop unchanged.

``strength`` (MIN_STRENGTH..MAX_STRENGTH, 1 = as built) sets how strongly a protecting filter acts:
the cloaks' change is scaled by it; blur and pixelate get milder down to MIN_STRENGTH but never mix
the raw face's detail back in, and stronger above 1. Strengths outside the range are clamped: the
raw face is ``off``. Each filter declares the recognisers it was built against
(``FaceFilter.recognisers``): the evaluation and the live monitor judge it with the others.
"""

import importlib
from typing import TYPE_CHECKING, Any

from vcam.engine.filters.base import MAX_STRENGTH, MIN_STRENGTH, FaceFilter, clamp_strength
from vcam.engine.filters.registry import FILTERS, FilterSpec, make_filter

if TYPE_CHECKING:
    from vcam.engine.filters.adaptive import AdaptivePatternFilter
    from vcam.engine.filters.anonymise import AnonymiseFilter
    from vcam.engine.filters.blur import BlurFilter
    from vcam.engine.filters.deid import DeidFilter
    from vcam.engine.filters.off import OffFilter
    from vcam.engine.filters.pattern import PatternFilter, pattern_file
    from vcam.engine.filters.pixelate import PixelateFilter
    from vcam.engine.filters.scramble import ScrambleFilter

# The filter classes load with their modules on first use: reading the names (FILTERS) stays light.
_CLASSES = {
    "AdaptivePatternFilter": "adaptive",
    "AnonymiseFilter": "anonymise",
    "BlurFilter": "blur",
    "DeidFilter": "deid",
    "OffFilter": "off",
    "PatternFilter": "pattern",
    "pattern_file": "pattern",
    "PixelateFilter": "pixelate",
    "ScrambleFilter": "scramble",
}


def __getattr__(name: str) -> Any:
    if name in _CLASSES:
        return getattr(importlib.import_module(f"vcam.engine.filters.{_CLASSES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "FILTERS",
    "MAX_STRENGTH",
    "MIN_STRENGTH",
    "AdaptivePatternFilter",
    "AnonymiseFilter",
    "BlurFilter",
    "DeidFilter",
    "FaceFilter",
    "FilterSpec",
    "OffFilter",
    "PatternFilter",
    "PixelateFilter",
    "ScrambleFilter",
    "clamp_strength",
    "make_filter",
    "pattern_file",
]
