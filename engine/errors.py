"""Errors the runtime raises on bad input; the CLI prints them as one line and exits non-zero."""


class VcamError(Exception):
    """A user-facing failure: its message is one actionable line."""

    exit_code = 2


class SourceError(VcamError):
    """The video source cannot be opened or read (missing file, bad video, no or busy camera)."""


class SinkError(VcamError):
    """The output cannot be opened or written (virtual camera missing, unwritable file)."""


class ModelError(VcamError):
    """The model file is missing, unreadable, or has the wrong signature."""


class ConfigError(VcamError):
    """A configuration value is invalid."""
