"""The desktop bundle's one program, installed under the name of each command it offers (vcam-tray,
vcam-run, vcam-restore, vcam-key): it runs the package's entry point of the name it was started by,
as listed in the package's metadata (``[project.scripts]`` / ``[project.gui-scripts]``)."""

from __future__ import annotations

import multiprocessing
import sys
from importlib.metadata import entry_points
from pathlib import Path


def main() -> None:
    multiprocessing.freeze_support()  # the identity monitor's worker is started as this program
    name = Path(sys.argv[0]).name
    found = [ep for group in ("console_scripts", "gui_scripts") for ep in entry_points(group=group, name=name)]
    if not found:
        raise SystemExit(f"error: this bundle has no command {name!r}")
    sys.exit(found[0].load()())


if __name__ == "__main__":
    main()
