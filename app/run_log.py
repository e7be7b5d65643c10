"""``vcam-run --json PATH``: the run's record as JSON Lines, written while the run goes, so a run that
is killed (even by SIGKILL or a power cut) leaves every line up to that moment.

Lines: ``{"config": {...}}`` first, one ``{"second": {...}}`` per second, ``{"summary": {...}}`` last
(absent if the run did not end). ``read_run_log`` gathers them into ``{"config", "seconds", "summary"}``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, TextIO

from vcam.engine.errors import VcamError


class RunLog:
    """The JSON Lines file at ``path`` (``check`` it before the run's heavy start-up)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.check(self.path)
        try:
            self._file: TextIO = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 - open for the run's length
        except OSError as exc:
            raise VcamError(f"cannot write {self.path}: {exc.strerror or exc}") from None

    @staticmethod
    def check(path: Path) -> None:
        """``VcamError`` now if ``path`` cannot be written, without truncating an existing file
        (a run refused later for another reason must not have destroyed it)."""
        path = Path(path)
        try:
            if path.is_dir():
                raise VcamError(f"cannot write {path}: it is a folder")
            if not path.parent.is_dir():
                raise VcamError(f"cannot write {path}: folder {path.parent} does not exist")
            existed = path.exists()
            with open(path, "a", encoding="utf-8"):
                pass
            if not existed:
                path.unlink()
        except OSError as exc:
            raise VcamError(f"cannot write {path}: {exc.strerror or exc}") from None

    def write(self, key: str, record: dict[str, Any]) -> None:
        """One line ``{key: record}``, flushed to the OS at once."""
        self._file.write(json.dumps({key: record}, default=float) + "\n")
        self._file.flush()

    def close(self) -> None:
        """Flush to the disk and close."""
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()


def read_run_log(path: Path) -> dict[str, Any]:
    """``{"config", "seconds", "summary"}`` of a run log (``summary`` None if the run did not end);
    a torn last line (the process was killed mid-write) is skipped."""
    out: dict[str, Any] = {"config": None, "seconds": [], "summary": None}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            continue
        for key, value in item.items():
            if key == "second":
                out["seconds"].append(value)
            else:
                out[key] = value
    return out
