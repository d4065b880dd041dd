"""What `/healthz` and `/readyz` report about a running service.

The jobs note what they did here (thread-safe); the web app asks for a snapshot. Nothing
here comes from a feed except source names, which the operator chose.
"""

from __future__ import annotations

import resource
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

#: a leader whose tick is this late (beyond its interval) is not ready
LAG_LIMIT_SECONDS = 120.0


@dataclass(slots=True)
class Health:
    """Mutable state of the service, written by jobs, read by the health endpoints."""

    tick_seconds: float
    role: str = "starting"  # starting | leader | standby | stopping | web only
    started: float = field(default_factory=time.monotonic)
    last_tick: float | None = None
    #: when the poll round now running began (None: none is running)
    polling_since: float | None = None
    last_poll: dict[str, Any] | None = None
    last_digest: dict[str, Any] | None = None
    last_deadline_check: dict[str, Any] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def set_role(self, role: str) -> None:
        with self._lock:
            self.role = role

    def ticked(self) -> None:
        with self._lock:
            self.last_tick = time.monotonic()

    def poll_started(self) -> None:
        with self._lock:
            self.polling_since = time.monotonic()

    def poll_finished(self) -> None:
        with self._lock:
            self.polling_since = None

    def polled(self, at: datetime, sources: int, failed: int, stopped: bool) -> None:
        with self._lock:
            self.last_poll = {
                "at": at.isoformat(),
                "sources": sources,
                "failed": failed,
                "stopped": stopped,
            }

    def digested(self, at: datetime, outcomes: dict[str, int]) -> None:
        with self._lock:
            self.last_digest = {"at": at.isoformat(), **outcomes}

    def deadlines_checked(self, at: datetime, recorded: int) -> None:
        with self._lock:
            self.last_deadline_check = {"at": at.isoformat(), "recorded": recorded}

    def lag(self) -> float | None:
        """Seconds the next tick is overdue (0 when on time); None before the first tick.

        A poll round still running is on time: the ticks it makes the scheduler skip are
        its own (one round at a time), not the scheduler falling behind. Each fetch has a
        deadline, so a round always ends.
        """
        with self._lock:
            if self.last_tick is None:
                return None
            if self.polling_since is not None:
                return 0.0
            return max(0.0, time.monotonic() - self.last_tick - self.tick_seconds)

    def snapshot(self) -> dict[str, Any]:
        lag = self.lag()
        with self._lock:
            return {
                "role": self.role,
                "uptime_seconds": round(time.monotonic() - self.started, 1),
                "scheduler_lag_seconds": None if lag is None else round(lag, 1),
                "polling_for_seconds": (
                    None
                    if self.polling_since is None
                    else round(time.monotonic() - self.polling_since, 1)
                ),
                "last_poll": self.last_poll,
                "last_digest": self.last_digest,
                "last_deadline_check": self.last_deadline_check,
                "memory_rss_mib": round(resident_mib(), 1),
            }

    def ready(self) -> tuple[bool, str]:
        """(ready, why not): a leader must be ticking; a standby or web-only host is ready."""
        lag = self.lag()
        with self._lock:
            role = self.role
        if role in ("starting", "stopping"):
            return False, role
        if role == "leader" and lag is not None and lag > LAG_LIMIT_SECONDS:
            return False, f"the scheduler is {lag:.0f} s behind"
        return True, ""


def resident_mib() -> float:
    """This process's resident memory now (Linux), else its peak."""
    try:
        for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
