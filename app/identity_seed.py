"""Which virtual person ``anonymise`` shows: the user's own (drawn once, kept across runs), a new
unlinkable one every run, or a fixed number.

The user's own seed lives in ``<user data dir>/deid-vcam/identity_seed``; "New face" in the tray
draws and keeps a new one.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

import platformdirs

from .config import APP_NAME

log = logging.getLogger(__name__)


def seed_file() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME)) / "identity_seed"


def new_seed(path: Path | None = None) -> int:
    """Draw a new seed and keep it as the user's own (at ``path``, default ``seed_file()``); if it cannot
    be written the seed still serves this run, with a warning."""
    path = path or seed_file()
    seed = secrets.randbits(62)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(f"{seed}\n")
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("cannot keep the virtual person's seed in %s (%s); the next run shows another face", path, exc)
    return seed


def resolve_seed(value: str, path: Path | None = None) -> int:
    """The seed for the ``identity_seed`` setting ``value``: "" = the user's own (kept at ``path``,
    drawn on first use), "random" = a new one not kept, else the integer ``value``."""
    if value == "random":
        return secrets.randbits(62)
    if value:
        return int(value)
    try:
        return int((path or seed_file()).read_text().strip())
    except (OSError, ValueError):
        return new_seed(path)
