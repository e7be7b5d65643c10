"""The face mesh's named landmark regions (edge sets over the 468 landmark indices), as shipped."""

from __future__ import annotations

import json

from vcam.engine.asset_files import asset


def _load() -> dict[str, frozenset[tuple[int, int]]]:
    edges = json.loads(asset("face_mesh", "topology.json").read_text())["edges"]
    return {name: frozenset((a, b) for a, b in pairs) for name, pairs in edges.items()}


REGIONS = _load()
"""``FACE_OVAL``, ``LEFT_EYE``, ``RIGHT_EYE``, ``LEFT_EYEBROW``, ``RIGHT_EYEBROW``, ``NOSE``, ``LIPS``:
each the set of ``(a, b)`` landmark-index edges that outline it (left/right are the person's)."""
