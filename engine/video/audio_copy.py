"""The sound of a source video file, copied unchanged (packet by packet, no re-encoding) into the
protected output file beside its video, so a protected recording keeps its audio in sync."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class AudioCopy:
    """The first audio stream of ``source``, muxed into ``out`` up to a given time of the output's
    video. Times are counted from the source's first video frame (the output's time 0), so audio
    that ends before it is left out (an encoder's priming packets at negative times are kept when
    the video starts at 0); build it with ``open`` before anything is muxed into ``out``."""

    def __init__(self, source_container: Any, out: Any) -> None:
        self._in = source_container
        self._in_stream = source_container.streams.audio[0]
        self._out_stream = out.add_stream_from_template(self._in_stream)
        video = source_container.streams.video
        start = float(video[0].start_time * video[0].time_base) if video and video[0].start_time is not None else 0.0
        self._base = self._in_stream.time_base
        self._offset = round(start / self._base)
        self._packets: Iterator[Any] = iter(source_container.demux(self._in_stream))
        self._next: Any = None

    @classmethod
    def open(cls, source: Path, out: Any) -> AudioCopy | None:
        """The copier, or None if ``source`` has no audio or the output container cannot hold its
        codec (said once in the log: the video is written without sound)."""
        import av

        try:
            container = av.open(str(source))
        except (av.error.FFmpegError, OSError) as exc:
            log.warning("audio of %s not copied: %s", source, exc)
            return None
        if not container.streams.audio:
            container.close()
            return None
        try:
            return cls(container, out)
        except (av.error.FFmpegError, ValueError) as exc:
            container.close()
            log.warning("audio of %s not copied (the output format cannot hold it): %s", source, exc)
            return None

    def mux_until(self, out: Any, t: float | None) -> None:
        """Mux the source's audio packets that start before ``t`` seconds of the output (None: all
        that are left)."""
        while True:
            if self._next is None:
                self._next = next(self._packets, None)
                if self._next is None:
                    return
            packet = self._next
            if packet.pts is None or packet.dts is None:  # the demuxer's flush packet
                self._next = None
                continue
            pts = packet.pts - self._offset
            if t is not None and pts * self._base >= t:
                return
            self._next = None
            if self._offset and pts + (packet.duration or 0) <= 0:  # sound from before the first frame
                continue
            packet.pts, packet.dts = pts, packet.dts - self._offset
            packet.stream = self._out_stream
            out.mux(packet)

    def close(self) -> None:
        self._in.close()
