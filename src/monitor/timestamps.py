"""How moments are written down inside monitor: UTC, microseconds, a trailing Z (the
journal, the read models and the exports all use this one form)."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["format_timestamp", "parse_timestamp"]


def format_timestamp(at: datetime) -> str:
    """UTC, microsecond precision, trailing Z: sorts lexically in time order."""
    if at.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_timestamp(text: str) -> datetime:
    """Inverse of :func:`format_timestamp`."""
    return datetime.fromisoformat(text)
