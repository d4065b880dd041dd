"""monitor: track whether governments keep the commitments they sign.

The public API is the :class:`Monitor` facade plus the types it returns and the errors it
raises; everything else is internal and may change.
"""

from typing import TYPE_CHECKING, Any

from monitor.version import __version__

if TYPE_CHECKING:
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
    from monitor.settings import Settings, load_settings
    from monitor.status import Status

#: where each public name lives: imported on first use, so that ``import monitor`` (and the
#: command line's ``--version``) does not load the database and web stack
_HOMES = {
    **dict.fromkeys(("Clock", "FixedClock", "SystemClock"), "monitor.clock"),
    **dict.fromkeys(("History", "Monitor", "SyncReport"), "monitor.core"),
    **dict.fromkeys(
        ("CatalogueError", "CommandRejected", "ConcurrencyError", "ConfigError"),
        "monitor.errors",
    ),
    **dict.fromkeys(
        ("IntegrityViolation", "MonitorError", "NotFound", "StoreError", "StoreNotEmpty"),
        "monitor.errors",
    ),
    **dict.fromkeys(("StoreNotInitialised", "StoreUnavailable"), "monitor.errors"),
    "Status": "monitor.status",
    **dict.fromkeys(("Settings", "load_settings"), "monitor.settings"),
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'monitor' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


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
