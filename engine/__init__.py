"""Torch-free runtime of deid-vcam: sources, tracking, filters, compositing, sinks, monitors.

Frame contract used by every stage: ``numpy.uint8`` array, shape ``(H, W, 3)``, **RGB** order,
C-contiguous. Face crops are ``float32`` ``(128, 128, 3)`` RGB in ``[0, 1]``.

Usage::

    from vcam.engine.pipeline import Pipeline
    from vcam.engine.video.sources import open_source
    from vcam.engine.video.sinks import open_sink
    from vcam.engine.filters import make_filter

    with Pipeline(open_source("demo"), open_sink("out.mp4", fps=30), make_filter("blur")) as p:
        summary = p.run(max_frames=300)
"""
