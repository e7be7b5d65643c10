"""Capture thread: reads a ``Source`` and feeds a ``RingBuffer`` of ``Frame`` s.

Live sources use the ``drop_oldest`` policy (capture never blocks; the consumer takes the newest
frame and older ones count as dropped); files and the demo use ``block`` (nothing is lost) and
are read as fast as the consumer goes unless ``realtime`` paces them at their frame rate.
A file's error ends the thread and is re-raised to the consumer. A live source that fails (a
camera unplugged or taken by another app) does not end the stream: the ring gets black frames at
the source's rate (``lost`` is set, ``placeholders`` counts them) while the source is reopened
every ``retry_s``, so a virtual camera never freezes and the picture comes back with the camera.
``suspend()`` releases the source (a webcam's light goes off) until ``resume()``; meanwhile the
ring gets black frames at the source's rate, so whatever consumes it (a virtual camera a
meeting app may open at any moment) keeps receiving frames.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from vcam.engine.errors import SourceError
from vcam.engine.frames import Frame
from vcam.engine.ring_buffer import RingBuffer
from vcam.engine.video.sources import Source


class CaptureThread(threading.Thread):
    def __init__(self, source: Source, capacity: int = 64, realtime: bool = False, max_frames: int | None = None, retry_s: float = 1.0) -> None:
        super().__init__(name="vcam-capture", daemon=True)
        self.source = source
        self.live = source.live or realtime
        self.realtime = realtime
        self.max_frames = max_frames
        self.ring: RingBuffer[Frame] = RingBuffer(capacity, "drop_oldest" if self.live else "block")
        self.error: BaseException | None = None
        self._stop_event = threading.Event()
        self._suspend = threading.Event()
        self.suspended = False
        self.skipped = 0
        self.retry_s = retry_s
        self.lost: str | None = None  # why a live source is gone (while placeholders flow)
        self.placeholders = 0

    def run(self) -> None:
        start = time.monotonic()
        index = 0
        black: np.ndarray | None = None
        try:
            while not self._stop_event.is_set() and (self.max_frames is None or index < self.max_frames):
                if self._suspend.is_set() != self.suspended:
                    (self.source.resume if self.suspended else self.source.suspend)()
                    self.suspended = not self.suspended
                if self.suspended or self.lost:
                    time.sleep(1.0 / self.source.fps)
                    image = black
                    if self.lost:
                        self.placeholders += 1
                        if self.placeholders % max(1, round(self.retry_s * self.source.fps)) == 0:
                            self._reopen()
                else:
                    if self.realtime and not self.source.live:
                        delay = start + index / self.source.fps - time.monotonic()
                        if delay > 0:
                            time.sleep(delay)
                    try:
                        image = self.source.read()
                    except SourceError as exc:
                        if not self.source.live or black is None:
                            raise
                        self.lost, image = str(exc), black
                    if image is None:
                        break
                    black = np.zeros_like(image) if black is None or black.shape != image.shape else black
                if image is not None:
                    self.ring.put(Frame(index, self.source.timestamp(index), image, time.monotonic()))
                    index += 1
        except BaseException as exc:  # handed to the consumer thread
            self.error = exc
        finally:
            self.ring.close()

    def _reopen(self) -> None:
        """One attempt to take a lost live source again."""
        try:
            self.source.resume()
        except SourceError:
            return
        self.lost = None

    def next_frame(self, timeout: float | None = None) -> Frame | None:
        """The next frame to process: the newest one for live sources (older ones are skipped
        and counted), the oldest one otherwise. ``None`` when the stream has ended (or on
        ``timeout``); blocks until then by default: a stalled camera is not an ended stream."""
        frame = self.ring.get(timeout)
        if frame is not None and self.live:
            while len(self.ring):
                newer = self.ring.get(0)
                if newer is None:
                    break
                frame = newer
                self.skipped += 1
        return frame

    @property
    def dropped(self) -> int:
        return self.ring.dropped + self.skipped

    def suspend(self) -> None:
        """Release the source from the next frame on (thread-safe)."""
        self._suspend.set()

    def resume(self) -> None:
        """Take the source again (thread-safe); a source that cannot be reopened ends the
        stream with its error."""
        self._suspend.clear()

    def stop(self) -> None:
        self._stop_event.set()
        self.ring.close()
