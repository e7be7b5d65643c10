"""Shared command-line plumbing: argument errors, bad input, Ctrl-C and bugs each give one line on
stderr (``prog: error: ...``) and a non-zero exit: 2 (or the error's own code), 130 for Ctrl-C,
1 for an internal error (its traceback with ``--debug`` where a command has it, or VCAM_DEBUG=1)."""
from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable
from typing import NoReturn, TextIO

from vcam.engine.errors import VcamError
from vcam.engine.native_log import NativeLogFilter


class Parser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose usage errors print one line instead of usage + error."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message} (see --help)", file=sys.stderr)
        sys.exit(2)


def quiet_native_logs(debug: bool = False) -> TextIO:
    """Drop MediaPipe/TFLite/OpenCV log chatter from stderr (kept with ``debug`` or VCAM_DEBUG=1);
    returns the stream a rich console should draw progress on."""
    if debug or os.environ.get("VCAM_DEBUG"):
        return sys.stderr
    native = NativeLogFilter()
    native.install()
    return native.terminal()


def guarded(prog: str, body: Callable[[], int], interrupted: str = "interrupted", debug: bool = False) -> int:
    """``body()``'s exit code; a ``VcamError`` becomes one error line and its exit code, Ctrl-C
    the line ``prog: <interrupted>`` and 130, any other exception (a bug) one line and 1."""
    try:
        return body()
    except VcamError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"{prog}: {interrupted}", file=sys.stderr)
        return 130
    except Exception as exc:
        if debug or os.environ.get("VCAM_DEBUG"):
            traceback.print_exc()
        print(f"{prog}: internal error: {type(exc).__name__}: {exc} (a bug; VCAM_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 1


def train_extra_missing(prog: str, exc: ImportError) -> int:
    """The one-line fix when a command of the training side runs without the ``train`` extra."""
    print(f"{prog}: error: {exc.name} is missing; install the training extra: pip install 'deid-vcam[train]'", file=sys.stderr)
    return 2
