"""monitor: track whether governments keep the commitments they sign.

The public API is the :class:`Monitor` facade plus the types it returns and the errors it
raises; everything else is internal and may change.
"""

from monitor.clock import Clock, FixedClock, SystemClock
from monitor.core import History, Monitor, SyncReport
from monitor.errors import (
    CatalogueError,
    CommandRejected,
    ConcurrencyError,
    ConfigError,
    IntegrityViolation,
    MonitorError,
    NotFound,
    StoreError,
    StoreNotEmpty,
    StoreNotInitialised,
    StoreUnavailable,
)
from monitor.events import Status
from monitor.settings import Settings, load_settings
from monitor.version import __version__

__all__ = [
    "CatalogueError",
    "Clock",
    "CommandRejected",
    "ConcurrencyError",
    "ConfigError",
    "FixedClock",
    "History",
    "IntegrityViolation",
    "Monitor",
    "MonitorError",
    "NotFound",
    "Settings",
    "Status",
    "StoreError",
    "StoreNotEmpty",
    "StoreNotInitialised",
    "StoreUnavailable",
    "SyncReport",
    "SystemClock",
    "__version__",
    "load_settings",
]
