"""Build a running pipeline from a ``Config`` (shared by ``vcam-run`` and the tray app)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from vcam.engine.errors import SinkError
from vcam.engine.filters import FILTERS, FaceFilter, make_filter
from vcam.engine.keyed.keys import load_key
from vcam.engine.video.sinks import Sink, open_sink
from vcam.engine.video.sources import Source, VideoFileSource, open_source

from .config import Config
from .identity_seed import resolve_seed

if TYPE_CHECKING:
    from vcam.engine.pipeline import Pipeline


def filter_for(cfg: Config, name: str | None = None) -> FaceFilter:
    """The filter ``name`` (default ``cfg.filter``) with the config's model, backend and key."""
    name = name or cfg.filter
    seed = resolve_seed(cfg.identity_seed) if name == "anonymise" else 0
    key = load_key(Path(cfg.key_file).expanduser()) if cfg.key_file and FILTERS[name].keyed else None
    return make_filter(name, cfg.model_path(), cfg.backend, cfg.threads, cfg.precision, identity_seed=seed, key=key)


def open_output(cfg: Config, source: Source, on_preview_close: Callable[[], None] | None = None) -> Sink:
    """The sink named by ``cfg.sink`` for ``source`` (the preview window lives in the app layer)."""
    if cfg.sink == "preview":
        from .preview import PreviewSink, missing_display

        if problem := missing_display():
            raise SinkError(f"--sink preview: {problem}")

        return PreviewSink(on_close=on_preview_close)
    # A video file processed frame by frame (not paced) sends every frame: its sound stays in step.
    audio = source.path if isinstance(source, VideoFileSource) and not cfg.realtime else None
    return open_sink(cfg.sink, source.fps, cfg.out_width, cfg.out_height, cfg.vcam_device or None, cfg.vcam_backend or None, audio)


def build_pipeline(
    cfg: Config, frames: int | None = None, face_filter: FaceFilter | None = None, on_preview_close: Callable[[], None] | None = None
) -> Pipeline:
    """Source, sink, filter and pipeline for ``cfg``, the devices first (a missing camera or virtual
    camera is reported before any model loads); nothing is left open if a step fails."""
    source = open_source(cfg.source, cfg.width, cfg.height, cfg.fps, cfg.mjpg, frames)
    try:
        sink = open_output(cfg, source, on_preview_close)
    except BaseException:
        source.close()
        raise
    try:
        face_filter = face_filter or filter_for(cfg)
        from vcam.engine.pipeline import Pipeline  # the runtime's heavy part, after the devices answered
    except BaseException:
        sink.close()
        source.close()
        raise
    return Pipeline(source, sink, face_filter, cfg.pipeline_config())  # its monitors follow the config's rppg/identity


def backend_info(face_filter: FaceFilter) -> dict[str, str]:
    """{"backend", "backend_reason"} of a model-based filter, else {}."""
    backend = getattr(getattr(face_filter, "model", None), "backend", None)
    return {"backend": backend.name, "backend_reason": backend.reason} if backend is not None else {}
