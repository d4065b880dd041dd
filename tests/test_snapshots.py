"""Snapshots of long streams: taken when a fold reads many events, used only when the
journal confirms them, dropped when they do not match, checked by verify, gone on rebuild
(both backends)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor import Monitor, load_settings
from monitor.domain.commitment import CommitmentState
from monitor.events import commitment_stream
from monitor.snapshots import SNAPSHOT_AFTER
from monitor.writes import COMMITMENT

CID = "EPCC23-SC-01"
STREAM = commitment_stream(CID)


def reopen(project: Path) -> Monitor:
    """Another process starting: nothing cached."""
    return Monitor.open(load_settings(project / "config" / "monitor.toml", env={}))


@pytest.fixture
def long_stream(project: Path, monitor: Monitor) -> Monitor:
    """A commitment with an assessment, evidence and more notes than SNAPSHOT_AFTER."""
    monitor.set_status(
        CID, "in_progress", rationale="work began", by="a",
        effective_at=datetime(2026, 1, 5, tzinfo=UTC), evidence=["https://example.org/e"],
    )  # fmt: skip
    for n in range(SNAPSHOT_AFTER):
        monitor.add_note(CID, f"note {n}", by="a")
    return monitor


def snapshot_files(monitor: Monitor) -> list[Path]:
    return sorted((monitor.settings.data_dir / "snapshots").glob("*.json"))


def folded(monitor: Monitor) -> CommitmentState:
    return monitor.load(CID)  # folds the journal from its first event, no snapshot


def test_a_cold_fold_of_a_long_stream_leaves_a_snapshot_that_the_next_start_uses(
    project: Path, long_stream: Monitor
) -> None:
    assert snapshot_files(long_stream) == []  # each write read one event: none taken
    with reopen(project) as second:
        second.add_note(CID, "after a restart", by="b")
        [path] = snapshot_files(second)
        body = json.loads(path.read_text(encoding="utf-8"))
        assert (body["stream"], body["version"]) == (STREAM, SNAPSHOT_AFTER + 3)
    with reopen(project) as third:
        state = third.writer.state(STREAM, COMMITMENT)
        assert state == folded(third)
        assert len(state.notes) == SNAPSHOT_AFTER + 1
        assert third.verify().ok


def test_a_snapshot_the_journal_does_not_confirm_is_dropped(
    project: Path, long_stream: Monitor
) -> None:
    with reopen(project) as second:
        second.add_note(CID, "takes a snapshot", by="b")
    [path] = snapshot_files(long_stream)
    body = json.loads(path.read_text(encoding="utf-8"))
    body["event_hash"] = "0" * 64  # as if taken of another journal
    path.write_text(json.dumps(body), encoding="utf-8")
    with reopen(project) as third:
        assert third.writer.state(STREAM, COMMITMENT) == folded(third)
        # dropped, and taken again from the whole fold that replaced it
        assert json.loads(path.read_text(encoding="utf-8"))["event_hash"] != "0" * 64
        path.write_text("{not json", encoding="utf-8")  # unreadable: dropped too
        third.writer.forget()  # (which also deletes the snapshots: write it back)
        path.parent.mkdir(exist_ok=True)
        path.write_text("{not json", encoding="utf-8")
        assert third.writer.state(STREAM, COMMITMENT) == folded(third)
        assert json.loads(path.read_text(encoding="utf-8"))["stream"] == STREAM


def test_verify_folds_again_and_reports_a_snapshot_that_differs(
    project: Path, long_stream: Monitor
) -> None:
    with reopen(project) as second:
        second.add_note(CID, "takes a snapshot", by="b")
    [path] = snapshot_files(long_stream)
    body = json.loads(path.read_text(encoding="utf-8"))
    state = json.loads(body["state"])
    state["notes"] = state["notes"][1:]  # a note lost: the hash alone cannot tell
    body["state"] = json.dumps(state)
    path.write_text(json.dumps(body), encoding="utf-8")
    report = long_stream.verify()
    assert not report.ok
    assert any("snapshot of commitment-EPCC23-SC-01" in p for p in report.problems)
    assert snapshot_files(long_stream) == []
    assert long_stream.verify().ok


def test_rebuild_drops_the_snapshots(project: Path, long_stream: Monitor) -> None:
    with reopen(project) as second:
        second.add_note(CID, "takes a snapshot", by="b")
    assert snapshot_files(long_stream)
    long_stream.rebuild()
    assert snapshot_files(long_stream) == []
