"""The live identity monitor: is the identity gone from what leaves the pipeline?

* ``IdentityMonitor`` enrols the user's face from the raw stream (mean of the first
  ``enrol_count`` descriptors of each recogniser) and then measures, for the outgoing frames, the
  first recogniser's distance to that enrolment and whether each recogniser would match it. The
  pipeline puts a recogniser the active filter never used first (``live_recognisers``), so the
  monitor does not grade a filter with the networks it attacks; ``unseen`` names those.
* ``IdentityWorker`` runs the identity monitor off the frame loop, in a child process.
"""

import ctypes
import multiprocessing as mp
import os
import queue
import signal
import threading
import time
from dataclasses import dataclass

import numpy as np

from vcam.engine.recognisers import RECOGNISERS, Recogniser, live_recognisers


@dataclass(frozen=True)
class IdentityReading:
    """One outgoing face against the enrolled user (``None`` values while enrolling): the first
    recogniser's distance and threshold (the gauge), and per recogniser whether it would match;
    ``match`` is True when any of them would, ``unseen_match`` when any of the ``unseen`` ones
    (recognisers the active filter never used) would."""

    t: float
    enrolled: bool
    distance: float | None
    match: bool | None
    threshold: float
    matches: dict[str, bool] | None = None
    unseen: tuple[str, ...] = ()

    @property
    def unseen_match(self) -> bool | None:
        return None if self.matches is None else any(self.matches[n] for n in self.unseen)


class IdentityMonitor:
    """Enrol from raw frames, then score protected frames against the enrolment, with every
    recogniser in ``embedders`` (the first one drives ``distance``); ``unseen`` names those the
    active filter never used."""

    def __init__(self, embedders: list[Recogniser], enrol_count: int = 3, unseen: tuple[str, ...] = ()) -> None:
        self.embedders = embedders
        self.enrol_count = enrol_count
        self.unseen = unseen
        self._enrol: list[dict[str, np.ndarray]] = []
        self.enrolment: dict[str, np.ndarray] | None = None

    def measure(self, t: float, raw: np.ndarray, out: np.ndarray, box: tuple[int, int, int, int]) -> IdentityReading:
        """Use ``raw`` (uint8 RGB frame) to enrol until enrolled, then score ``out`` in ``box``."""
        first = self.embedders[0]
        if self.enrolment is None:
            self._enrol.append({e.name: e.describe(raw, box) for e in self.embedders})
            if len(self._enrol) >= self.enrol_count:
                self.enrolment = {e.name: np.mean([d[e.name] for d in self._enrol], axis=0) for e in self.embedders}
            return IdentityReading(t, False, None, None, first.threshold, unseen=self.unseen)
        dist = {e.name: e.distance(e.describe(out, box), self.enrolment[e.name]) for e in self.embedders}
        matches = {e.name: dist[e.name] < e.threshold for e in self.embedders}
        return IdentityReading(t, True, dist[first.name], any(matches.values()), first.threshold, matches, self.unseen)


# Signals a terminal sends to its whole process group: the parent decides when the child stops.
_GROUP_SIGNALS = {signal.SIGINT, signal.SIGHUP}


def _die_with_parent(parent: int) -> None:
    """Ask the kernel (Linux) to kill this process when its parent dies, even by SIGKILL; exit at
    once if the parent is already gone. Elsewhere the parent's bounded join and kill remain."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        os._exit(0)


def _identity_process(jobs: mp.Queue, results: mp.Queue, enrol_count: int, parent: int) -> None:
    """Child process: measure jobs until ``None``; errors are reported, not raised. A job names the
    active filter's seen recognisers; when they change (the user switched filters) the monitor
    starts over with ``live_recognisers`` of the new set (loaded recognisers are kept). Runs at a
    lower CPU priority: a late identity reading costs nothing, a late frame does. Ignores the
    terminal's SIGINT and SIGHUP (started with them blocked) and dies with its parent."""
    for signum in _GROUP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _GROUP_SIGNALS)
    _die_with_parent(parent)
    if hasattr(os, "nice"):
        os.nice(10)
    loaded: dict[str, Recogniser] = {}
    monitor, current = None, None
    while (job := jobs.get()) is not None:
        try:
            *measurement, seen = job
            if monitor is None or seen != current:
                names = live_recognisers(seen)
                for name in names:
                    loaded[name] = loaded.get(name) or RECOGNISERS[name]()
                monitor, current = IdentityMonitor([loaded[n] for n in names], enrol_count, tuple(n for n in names if n not in seen)), seen
            results.put(monitor.measure(*measurement))
        except Exception as exc:  # reported to the parent; the loop goes on
            results.put(f"{type(exc).__name__}: {exc}")


class IdentityWorker:
    """Runs an ``IdentityMonitor`` with ``recognisers`` (names in ``RECOGNISERS``) in a child
    process: dlib holds the GIL for ~100 ms per descriptor, which would stall every pipeline
    thread if it ran in-process.

    ``blocking=False`` (live): a job offered while the worker is busy is skipped, so the frame
    loop never waits. ``blocking=True`` (offline files): every offered job is measured.
    Only a region around the face (``margin`` x its size) of each frame is sent, with the
    recognisers the active filter used (``seen``): the worker runs ``live_recognisers(seen)``.
    The child ignores the terminal's Ctrl-C and hang-up (the parent stops it), dies with the parent
    even on SIGKILL (Linux), and a dead child never blocks the parent: its jobs are dropped.
    """

    def __init__(self, blocking: bool, enrol_count: int = 3, margin: float = 0.5) -> None:
        ctx = mp.get_context("spawn")  # never fork a process that runs onnxruntime threads
        self.blocking, self.margin = blocking, margin
        # The child and multiprocessing's resource tracker (started by the first queue) start with
        # the terminal's group signals blocked and, from the main thread, ignored: both survive
        # exec (Python keeps an ignored SIGINT ignored, but its start-up unblocks SIGINT), so a
        # Ctrl-C or hang-up sent to the whole group neither kills the child with a traceback
        # while it imports nor the tracker.
        main = threading.current_thread() is threading.main_thread()
        handlers = {signum: signal.signal(signum, signal.SIG_IGN) for signum in _GROUP_SIGNALS} if main else {}
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, _GROUP_SIGNALS)
        try:
            self._jobs = ctx.Queue(maxsize=1)
            self._results = ctx.Queue()
            self._proc = ctx.Process(target=_identity_process, args=(self._jobs, self._results, enrol_count, os.getpid()), name="vcam-identity", daemon=True)
            self._proc.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
            for signum, handler in handlers.items():
                signal.signal(signum, handler)
        self.readings: list[IdentityReading] = []
        self.errors: list[str] = []
        self.latest: IdentityReading | None = None

    def offer(self, t: float, raw: np.ndarray, out: np.ndarray, box: tuple[int, int, int, int], seen: frozenset[str] = frozenset()) -> bool:
        """Queue one measurement of ``out`` (and ``raw``, while enrolling) in ``box``, for a filter
        that used the recognisers ``seen``."""
        self.poll()
        x0, y0, x1, y1 = box
        m = int(self.margin * max(x1 - x0, y1 - y0))
        h, w = raw.shape[:2]
        rx0, ry0, rx1, ry1 = max(x0 - m, 0), max(y0 - m, 0), min(x1 + m, w), min(y1 + m, h)
        job = (t, raw[ry0:ry1, rx0:rx1].copy(), out[ry0:ry1, rx0:rx1].copy(), (x0 - rx0, y0 - ry0, x1 - rx0, y1 - ry0), seen)
        while True:
            try:
                self._jobs.put(job, block=self.blocking, timeout=0.5 if self.blocking else None)
                return True
            except queue.Full:
                if not self.blocking:
                    return False
                if not self._proc.is_alive():
                    self.errors.append(f"identity monitor process ended (exit code {self._proc.exitcode})")
                    self.blocking = False  # nothing will take the jobs: stop waiting for it
                    return False

    def poll(self) -> IdentityReading | None:
        """Collect finished readings; returns the newest."""
        while True:
            try:
                item = self._results.get_nowait()
            except queue.Empty:
                return self.latest
            if isinstance(item, str):
                self.errors.append(item)
            else:
                self.readings.append(item)
                self.latest = item

    def finish(self, timeout: float = 60.0) -> None:
        """Measure what is queued (for at most ``timeout`` seconds; 0: nothing more), collect it,
        stop the process: asked, then terminated, then killed, so it never outlives the call."""
        deadline = time.monotonic() + timeout
        sent = False
        while self._proc.is_alive() and time.monotonic() < deadline:
            if not sent:
                try:
                    self._jobs.put_nowait(None)
                    sent = True
                except queue.Full:
                    pass
            self.poll()
            self._proc.join(0.05)
        self.poll()
        for stop in (self._proc.terminate, self._proc.kill):
            if self._proc.is_alive():
                stop()
                self._proc.join(2.0)
        self._jobs.cancel_join_thread()  # a job the dead child never took must not block our exit
