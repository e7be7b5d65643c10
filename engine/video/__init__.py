"""Video in and out: frame sources (camera, file, demo), the capture thread and its ring, the
sinks (virtual camera, file, preview, null), device checks and the virtual camera's viewers."""
