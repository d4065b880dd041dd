"""Event versioning: old payloads are upcast on read, never rewritten."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest

from monitor.errors import UnknownEventType
from monitor.events import REGISTRY, DomainEvent, EventRegistry
from monitor.store.records import RecordedEvent


class Flagged(DomainEvent):
    """Version 2 renamed `label` to `name` and added `severity`."""

    event_type: ClassVar[str] = "Flagged"
    schema_version: ClassVar[int] = 2
    name: str
    severity: int


def stored(version: int, data: dict[str, Any]) -> RecordedEvent:
    return RecordedEvent(
        1, uuid.uuid4(), "s", 1, "Flagged", version, data, {}, datetime(2026, 1, 1, tzinfo=UTC), ""
    )


def test_old_payloads_are_upcast_on_read() -> None:
    registry = EventRegistry()
    registry.register(Flagged)

    @registry.upcaster("Flagged", 1)
    def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
        return {"name": data["label"], "severity": 0}

    old = stored(1, {"label": "late"})
    assert registry.decode(old) == Flagged(name="late", severity=0)
    assert old.data == {"label": "late"}  # the stored payload is untouched
    assert registry.decode(stored(2, {"name": "x", "severity": 3})).severity == 3


def test_unknown_and_future_versions_are_refused() -> None:
    registry = EventRegistry()
    registry.register(Flagged)
    with pytest.raises(UnknownEventType, match="no upcaster"):
        registry.decode(stored(1, {"label": "x"}))
    with pytest.raises(UnknownEventType, match="newer than this code"):
        registry.decode(stored(3, {}))
    with pytest.raises(UnknownEventType, match="unknown event type"):
        REGISTRY.decode(stored(1, {}))


def test_every_registered_event_is_frozen_and_versioned() -> None:
    for name, cls in REGISTRY.types.items():
        assert cls.event_type == name
        assert cls.schema_version >= 1
        assert cls.model_config.get("frozen") is True
