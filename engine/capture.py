"""Capture thread: reads a ``Source`` and feeds a ``RingBuffer`` of ``Frame`` s.

Live sources use the ``drop_oldest`` policy (capture never blocks; the consumer takes the newest
frame and older ones count as dropped); files and the demo use ``block`` (nothing is lost) and
are read as fast as the consumer goes unless ``realtime`` paces them at their frame rate.
A source error ends the thread and is re-raised to the consumer by ``check()``.
"""
from __future__ import annotations

import threading
import time

from .frames import Frame
from .ring_buffer import RingBuffer
from .sources import Source


class CaptureThread(threading.Thread):
    def __init__(self, source: Source, capacity: int = 64, realtime: bool = False, max_frames: int | None = None) -> None:
        super().__init__(name="vcam-capture", daemon=True)
        self.source = source
        self.live = source.live or realtime
        self.realtime = realtime
        self.max_frames = max_frames
        self.ring: RingBuffer[Frame] = RingBuffer(capacity, "drop_oldest" if self.live else "block")
        self.error: BaseException | None = None
        self._stop_event = threading.Event()
        self.skipped = 0

    def run(self) -> None:
        start = time.monotonic()
        index = 0
        try:
            while not self._stop_event.is_set() and (self.max_frames is None or index < self.max_frames):
                if self.realtime and not self.source.live:
                    delay = start + index / self.source.fps - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                image = self.source.read()
                if image is None:
                    break
                self.ring.put(Frame(index, self.source.timestamp(index), image, time.monotonic()))
                index += 1
        except BaseException as exc:  # handed to the consumer thread
            self.error = exc
        finally:
            self.ring.close()

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

    def stop(self) -> None:
        self._stop_event.set()
        self.ring.close()
