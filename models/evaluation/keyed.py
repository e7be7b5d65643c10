"""The ways a recording protected by a keyed filter can be read, for the evaluation: restored with
a key (the right one or a guess), or as an attacker who knows the method but not the key sees it
(the marker ring filled in as a restore does), and how often each still shows the raw face."""

from __future__ import annotations

import numpy as np

from vcam.engine.keyed.keys import Key
from vcam.engine.keyed.restore import fill_rings, restore_frame
from vcam.engine.keyed.scramble import BlockScramble, find_squares
from vcam.engine.recognisers import Recogniser

from .evaluate import ClipResult
from .protect import ProtectedRun


def restored(run: ProtectedRun, key: Key) -> ProtectedRun:
    """``run``'s outgoing frames restored with ``key``."""
    scramble = BlockScramble(key)
    return run.with_output([restore_frame(image, scramble).image for image in run.out])


def ring_filled(run: ProtectedRun) -> ProtectedRun:
    """``run``'s outgoing frames with the marker rings filled in and the squares left scrambled."""
    out = [image.copy() for image in run.out]
    for image in out:
        fill_rings(image, find_squares(image))
    return run.with_output(out)


def same_as_raw(results: list[ClipResult], attackers: dict[str, Recogniser]) -> dict[str, float]:
    """Per recogniser: the share of sampled frames whose outgoing face matches the raw frame's."""
    return {
        name: float(np.mean([attacker.match(a, b) for r in results for a, b in zip(r.emb_raw[name], r.emb_out[name], strict=True)]))
        for name, attacker in attackers.items()
    }
