"""Projections: live equals rebuilt; the checkpoint moves with the rows, atomically."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from monitor import Monitor
from monitor.errors import UnknownEventType
from monitor.store.records import NewEvent

EVIDENCE = "https://www.meti.go.jp/english/press/2024/0411_001.html"


def dump(monitor: Monitor) -> dict[str, list[tuple]]:
    tables = {
        "commitment_view": "commitment_id",
        "commitment_topic_view": "commitment_id, topic",
        "timeline_view": "position",
        "assessment_view": "assessment_id",
    }
    with monitor.engine.connect() as conn:
        return {
            t: [tuple(r) for r in conn.execute(text(f"SELECT * FROM {t} ORDER BY {order}"))]
            for t, order in tables.items()
        }


def busy_history(monitor: Monitor) -> None:
    at = datetime(2024, 4, 10, tzinfo=UTC)
    [evidence, assessed] = monitor.set_status(
        "EPCC23-SEMI-03",
        "in_progress",
        rationale="roadmap work listed",
        by="alice",
        effective_at=at,
        evidence=[EVIDENCE],
    )
    monitor.set_status(
        "EPCC23-SEMI-03",
        "fulfilled",
        rationale="roadmap published",
        by="bob",
        effective_at=datetime(2025, 2, 1, tzinfo=UTC),
        evidence=[str(evidence.data["evidence_id"])],
    )
    monitor.correct_assessment(
        "EPCC23-SEMI-03",
        uuid.UUID(assessed.data["assessment_id"]),
        "stalled",
        rationale="no meeting",
        reason="misread",
        by="carol",
        effective_at=at,
    )
    monitor.add_note("EPCC23-AI-02", "IPA-NIST crosswalk expected", by="dan")
    monitor.set_status(
        "EPCC23-AI-02",
        "partially_fulfilled",
        rationale="crosswalk published",
        by="dan",
        effective_at=datetime(2024, 9, 1, tzinfo=UTC),
        evidence=["https://www.nist.gov/x"],
    )
    monitor.retract_evidence(
        "EPCC23-SEMI-03", uuid.UUID(evidence.data["evidence_id"]), reason="dup", by="alice"
    )
    [withdrawn] = monitor.set_status(
        "EPCC23-ORD-01",
        "stalled",
        rationale="no news",
        by="dan",
        effective_at=datetime(2025, 3, 1, tzinfo=UTC),
        evidence=["https://example.org/x"],
    )[1:]
    monitor.withdraw_assessment(
        "EPCC23-ORD-01", uuid.UUID(withdrawn.data["assessment_id"]), reason="too early", by="dan"
    )


def test_rebuild_gives_the_same_read_models_as_the_live_projection(monitor: Monitor) -> None:
    busy_history(monitor)
    live = dump(monitor)
    assert len(live["timeline_view"]) == monitor.last_position()
    count = monitor.rebuild()
    assert count == monitor.last_position()
    assert dump(monitor) == live
    assert monitor.projection.checkpoint() == monitor.last_position()


def test_current_status_and_counts(monitor: Monitor) -> None:
    busy_history(monitor)
    views = {v.commitment_id: v for v in monitor.list_commitments()}
    assert views["EPCC23-SEMI-03"].status == "fulfilled"
    assert views["EPCC23-SEMI-03"].evidence_count == 0  # accepted once, then retracted
    assert views["EPCC23-AI-02"].status == "partially_fulfilled"
    assert views["EPCC23-AI-02"].note_count == 1
    counts = monitor.counts()
    assert counts["status"] == {"not_yet_assessed": 17, "fulfilled": 1, "partially_fulfilled": 1}
    assert counts["topic:ai"] == {"not_yet_assessed": 1, "partially_fulfilled": 1}
    assert [v.commitment_id for v in monitor.list_commitments(status="fulfilled")] == [
        "EPCC23-SEMI-03"
    ]
    assert len(monitor.list_commitments(topic="S1")) == 9


def test_a_failing_batch_moves_neither_rows_nor_checkpoint(monitor: Monitor) -> None:
    before = dump(monitor)
    checkpoint = monitor.projection.checkpoint()
    monitor.add_note("EPCC23-ORD-01", "first", by="x")
    # An event type this code cannot read, appended behind the projection's back.
    monitor.store.append(
        "commitment-EPCC23-ORD-01",
        [NewEvent(uuid.uuid4(), "FromTheFuture", 1, {}, {})],
        monitor.store.stream_version("commitment-EPCC23-ORD-01"),
    )
    monitor.projection.batch_size = 100
    with monitor.engine.begin() as conn:
        conn.execute(text("UPDATE projection_checkpoints SET position = :p"), {"p": checkpoint})
        conn.execute(text("DELETE FROM timeline_view WHERE position > :p"), {"p": checkpoint})
    with pytest.raises(UnknownEventType):
        monitor.projection.catch_up()
    assert monitor.projection.checkpoint() == checkpoint
    assert dump(monitor)["timeline_view"] == before["timeline_view"]


def test_catch_up_applies_each_event_once(monitor: Monitor) -> None:
    monitor.add_note("EPCC23-ORD-01", "once", by="x")
    assert monitor.projection.catch_up() == 0
    assert monitor.projection.catch_up() == 0
    assert len(monitor.timeline("EPCC23-ORD-01")) == 2
