"""Every filter a user can choose, by name: one registry the CLI, the config check, the tray's menu,
the evaluation and the benchmarks read. A filter is one module; adding one is one entry here."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vcam.engine.errors import ModelError
from vcam.engine.filters.base import FaceFilter
from vcam.engine.keyed.keys import Key


def _module(name: str) -> Any:
    """The filter module ``name``, imported when a filter is built (not when the names are read)."""
    return importlib.import_module(f"vcam.engine.filters.{name}")


@dataclass(frozen=True)
class BuildOptions:
    """What ``make_filter`` was asked for; each filter takes what it needs."""

    model: Path | None = None
    backend: str = "auto"
    threads: int = 1
    precision: str = "auto"
    allow_untrained: bool = False
    background: bool = True
    identity_seed: int = 0
    key: Key | None = None


@dataclass(frozen=True)
class FilterSpec:
    """A filter as users choose it: how to build it, its name in the tray, whether the face still
    looks like the user, and what it protects against, in plain words. A cloak's name and words
    carry its worst match rate by recognisers it never used (from docs/benchmarks.md), so nobody
    picks it thinking it hides them from every recogniser. A ``keyed`` filter needs a key, and the
    key's holder can undo it."""

    build: Callable[[BuildOptions], FaceFilter]
    label: str
    looks_like_you: bool
    protects: str
    keyed: bool = False


_CLOAK = (
    "Looks like you. Hidden from {}, the recognisers it was built against; recognisers it was not built "
    "against still matched {} of its frames (docs/benchmarks.md)."
)
_OBSCURE = "Hides the face's detail from every recogniser, but a recogniser can still often pick you out of a small group."
FILTERS: dict[str, FilterSpec] = {
    "anonymise": FilterSpec(
        lambda o: _module("anonymise").build(o.identity_seed),
        "Anonymise (nobody will recognise you)",
        False,
        "Your face becomes a virtual person who does not exist, with your expressions and your pulse: "
        "recognisers get nothing from your face itself; your hair, outline and background stay yours.",
    ),
    "adaptive": FilterSpec(
        lambda o: _module("adaptive").build(o.model, o.background),
        "Cloak (adapts to your face; unseen recognisers: 79 %)",
        True,
        _CLOAK.format("dlib and SFace", "79 %"),
    ),
    "deid": FilterSpec(
        lambda o: _module("deid").build(o.model, o.backend, o.threads, o.precision, o.allow_untrained),
        "Cloak (the paper's autoencoder; unseen recognisers: 98 %)",
        True,
        _CLOAK.format("dlib", "98 %"),
    ),
    "pattern": FilterSpec(lambda o: _module("pattern").build(o.model), "Cloak (fixed pattern; unseen recognisers: 97 %)", True, _CLOAK.format("dlib", "97 %")),
    "scramble": FilterSpec(
        lambda o: _module("scramble").build(o.key),
        "Scramble with a key (restorable)",
        False,
        "Your face is cut into blocks your key shuffles: recognisers get no face; whoever holds the key can restore a recording of the call (vcam-restore).",
        keyed=True,
    ),
    "blur": FilterSpec(lambda o: _module("blur").BlurFilter(), "Blur", False, _OBSCURE),
    "pixelate": FilterSpec(lambda o: _module("pixelate").PixelateFilter(), "Pixelate", False, _OBSCURE),
    "off": FilterSpec(lambda o: _module("off").OffFilter(), "Off (your real face)", True, "No protection: every recogniser knows you."),
}


def make_filter(
    name: str,
    model: Path | None = None,
    backend: str = "auto",
    threads: int = 1,
    precision: str = "auto",
    allow_untrained: bool = False,
    background: bool = True,
    identity_seed: int = 0,
    key: Key | None = None,
) -> FaceFilter:
    """Build the filter ``name`` (a key of ``FILTERS``); ``deid`` loads ``model`` on ``backend`` with
    ``threads`` and ``precision``, ``pattern`` and ``adaptive`` load ``pattern.pattern_file(model)``;
    ``ModelError`` with the fix if a file is unusable or the name unknown. ``background``: the
    adaptive filter's SFace readings run beside the frame loop (live) or in it (reproducible runs);
    ``identity_seed`` picks anonymise's virtual person; ``key`` is the keyed filters' key."""
    spec = FILTERS.get(name)
    if spec is None:
        raise ModelError(f"unknown filter {name!r}; choose one of {', '.join(FILTERS)}")
    return spec.build(BuildOptions(model, backend, threads, precision, allow_untrained, background, identity_seed, key))
