"""Live monitors of what leaves the pipeline: the pulse (``rppg``), the identity (``identity``),
and the loop from the identity gauge to the filter's strength (``auto_strength``)."""

from vcam.engine.monitors.identity import IdentityMonitor, IdentityReading, IdentityWorker
from vcam.engine.monitors.rppg import RppgMonitor, RppgReading

__all__ = ["IdentityMonitor", "IdentityReading", "IdentityWorker", "RppgMonitor", "RppgReading"]
