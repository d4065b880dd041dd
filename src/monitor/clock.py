"""Clocks: the only place monitor asks what time it is.

Pass a clock in; tests pass a :class:`FixedClock` instead of sleeping or patching.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Something that tells the current time, always UTC-aware."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real wall clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that only moves when told to (for tests and replays)."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._at = at.astimezone(UTC)

    def now(self) -> datetime:
        return self._at

    def advance(self, delta: timedelta) -> None:
        self._at += delta

    def set(self, at: datetime) -> None:
        self._at = at.astimezone(UTC)


class ScaledClock:
    """Starts at ``start`` and runs ``speed`` times as fast as the wall clock.

    For trying `monitor serve` on a compressed schedule (and for its tests): with speed
    3600 an hour of schedule passes every second. Set by MONITOR_CLOCK_START and
    MONITOR_CLOCK_SPEED; never needed in normal use.
    """

    def __init__(
        self, start: datetime, speed: float = 1.0, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        if start.tzinfo is None:
            raise ValueError("ScaledClock needs an aware datetime")
        if speed <= 0:
            raise ValueError("ScaledClock speed must be positive")
        self.start, self.speed, self._monotonic = start.astimezone(UTC), speed, monotonic
        self._origin = monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(self._monotonic() - self._origin) * self.speed)


def real_seconds_until(clock: Clock, moment: datetime) -> float:
    """Wall-clock seconds until ``clock`` shows ``moment`` (0 if it already has)."""
    speed = clock.speed if isinstance(clock, ScaledClock) else 1.0
    return max(0.0, (moment - clock.now()).total_seconds() / speed)
