"""``vcam-key``: make and name the keys of the restorable filter (``scramble``).

    vcam-key new [PATH]          # a new random key (default: in the user config dir), mode 0600
    vcam-key fingerprint PATH    # the key's fingerprint (names it without revealing it)

A key is never overwritten and never printed; keep a copy somewhere safe: without it a recording
protected with it cannot be restored. One key per recording or study keeps one leaked key (or one
raw frame next to its protected frame) from opening the others.
"""

from __future__ import annotations

import sys
from pathlib import Path

from vcam.engine.keyed.keys import create_key_file, load_key

from .cli import Parser, guarded
from .config import default_key_path


def main(argv: list[str] | None = None) -> int:
    p = Parser(prog="vcam-key", description="Make and name keys for the restorable filter scramble.")
    commands = p.add_subparsers(dest="command", required=True)
    new = commands.add_parser("new", help="make a new random key file (mode 0600); never overwrites")
    new.add_argument("path", nargs="?", type=Path, help="where (default: a new file in the user config dir's keys folder)")
    show = commands.add_parser("fingerprint", help="print the fingerprint of a key file")
    show.add_argument("path", type=Path)
    args = p.parse_args(argv)

    def body() -> int:
        if args.command == "new":
            path = args.path or default_key_path()
            key = create_key_file(path)
            print(path)
            print(
                f"vcam-key: new key {path} (fingerprint {key.fingerprint}); keep a copy somewhere safe: without it a recording cannot be restored",
                file=sys.stderr,
            )
        else:
            print(load_key(args.path).fingerprint)
        return 0

    return guarded("vcam-key", body)


if __name__ == "__main__":
    sys.exit(main())
