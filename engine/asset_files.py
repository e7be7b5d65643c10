"""The shipped data files (``engine/assets/``: models, the identity pattern, the mean face), found
in one place through ``importlib.resources``, wherever the package is installed."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def asset(*parts: str) -> Path:
    """The path of the shipped file ``assets/<parts...>`` (it may not exist: callers check)."""
    return Path(str(files("vcam.engine").joinpath("assets", *parts)))
