"""Typed records that cross the event store boundary."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event about to be appended: the store adds position, version, time and hash."""

    event_id: UUID
    event_type: str
    schema_version: int
    data: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StreamAppend:
    """Events for one stream, valid only if the stream is still at ``expected_version``."""

    stream_id: str
    events: tuple[NewEvent, ...]
    expected_version: int


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """An event as stored: immutable, ordered by ``position``, chained by ``hash``."""

    position: int
    event_id: UUID
    stream_id: str
    stream_version: int
    event_type: str
    schema_version: int
    data: dict[str, Any]
    metadata: dict[str, Any]
    recorded_at: datetime
    hash: str


@dataclass(frozen=True, slots=True)
class AppendResult:
    """What an append did. ``written`` is False for an idempotent repeat."""

    stream_id: str
    version: int
    positions: tuple[int, ...]
    written: bool


@dataclass(slots=True)
class VerifyReport:
    """The outcome of checking the hash chain and the journal's invariants."""

    events: int = 0
    streams: int = 0
    last_position: int = 0
    last_hash: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems
