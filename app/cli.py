"""Shared command-line plumbing: argument errors, bad input, stop signals and bugs each give one line
on stderr (``prog: error: ...``) and a non-zero exit: 2 (or the error's own code), 128 + the signal
for SIGINT (130), SIGTERM (143) and SIGHUP (129), 1 for an internal error (its traceback with
``--debug`` where a command has it, or VCAM_DEBUG=1)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import traceback
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any, NoReturn, Protocol, TextIO

from vcam.engine.errors import SinkError, VcamError
from vcam.engine.native_log import NativeLogFilter


def package_version() -> str:
    """The installed deid-vcam version ("unknown" when run from a source tree that was never installed)."""
    try:
        return metadata.version("deid-vcam")
    except metadata.PackageNotFoundError:
        return "unknown"


def bounded(option: str, low: float, high: float, unit: str = "") -> Callable[[str], float]:
    """An argparse type: a number in [low, high], else one error line naming ``option``."""

    def parse(value: str) -> float:
        try:
            number = float(value)
        except ValueError:
            number = float("nan")
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"{option} must be between {low:g} and {high:g}{unit} (got {value!r})")
        return number

    return parse


class Parser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose usage errors print one line instead of usage + error, with
    ``--version`` on every command."""

    def __init__(self, *args: Any, versioned: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if versioned:  # False for a parent parser of shared options
            self.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")

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


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(Exception):
    """A stop signal arrived before there was anything to stop cleanly."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class Stoppable(Protocol):
    def stop(self, now: bool = False) -> None: ...


class StopSignals:
    """One design for SIGINT (to the process or its group), SIGTERM and SIGHUP, installed for a
    ``with`` block on the main thread. At first a signal raises ``Interrupted`` (start-up is
    abandoned; nothing was written). After ``defer()`` (outputs are being opened) it is only
    recorded, and ``attach(job)`` stops the job at once if one came. Once attached, the first signal
    asks the job to stop after the current frame (outputs finalised), a second one to stop now
    (monitors cut short, outputs still finalised). ``exit_code`` is 128 + the first signal, or None."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._job: Stoppable | None = None
        self._deferred = False
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopSignals:
        for signum in STOP_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]

    def defer(self) -> None:
        """From now on a signal is recorded for the job ``attach`` will get, not raised."""
        self._deferred = True

    def attach(self, job: Stoppable | None) -> None:
        """Signals from now on stop ``job`` (None: recorded only); a recorded one stops it now."""
        self._job, self._deferred = job, True
        if job is not None and self.signum is not None:
            job.stop()

    @property
    def exit_code(self) -> int | None:
        return None if self.signum is None else 128 + self.signum

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        first = self.signum is None
        self.signum = self.signum or signum
        if self._job is not None:
            self._job.stop(now=not first)
        elif not self._deferred:
            raise Interrupted(signum)


def guarded(prog: str, body: Callable[[], int], interrupted: str = "interrupted", debug: bool = False) -> int:
    """``body()``'s exit code; a ``VcamError`` becomes one error line and its exit code, a stop
    signal (Ctrl-C or ``Interrupted``) the line ``prog: <interrupted>`` and 128 + the signal, any
    other exception (a bug) one line and 1."""
    try:
        return body()
    except VcamError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except Interrupted as exc:
        print(f"{prog}: {interrupted} ({exc})", file=sys.stderr)
        return 128 + exc.signum
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


VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".avi")


def create_video_output(path: Path, private: bool = False) -> None:
    """Create the output video ``path`` empty (mode 0600 if ``private``), refusing a name that is
    not a video file or that exists (``SinkError``): an output is never overwritten."""
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise SinkError(f"--out {path}: name a video file ending in {', '.join(VIDEO_SUFFIXES)}")
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o644))
    except FileExistsError:
        raise SinkError(f"--out {path} exists; it is never overwritten: name another file") from None
    except OSError as exc:
        raise SinkError(f"cannot write {path}: {exc.strerror or exc}") from None
