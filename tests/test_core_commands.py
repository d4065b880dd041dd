"""Commands through the core on both backends: refusals, races, nothing wedged."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor import CommandRejected, FixedClock, Monitor, MonitorError, NotFound, load_settings

from .conftest import NOW


def test_unstorable_text_is_refused_and_the_read_models_keep_working(monitor: Monitor) -> None:
    before = monitor.last_position()
    with pytest.raises(CommandRejected, match="at most 200"):
        monitor.add_note("EPCC23-SC-01", "fine", by="x" * 201)
    with pytest.raises(CommandRejected, match="NUL"):
        monitor.add_note("EPCC23-SC-01", "a\x00b", by="ana")
    with pytest.raises(CommandRejected, match="is not an http"):
        monitor.set_status(
            "EPCC23-SC-01",
            "in_progress",
            rationale="r",
            by="ana",
            effective_at=datetime(2024, 1, 1, tzinfo=UTC),
            evidence=["http://[::1/"],
        )
    assert monitor.last_position() == before
    long_topic_note = "ü" * 19_000  # long, non-ASCII: fine for the journal and every view
    monitor.add_note("EPCC23-SC-01", long_topic_note, by="a" * 200)
    assert monitor.timeline("EPCC23-SC-01")[-1].actor == "a" * 200
    assert monitor.rebuild() == monitor.last_position()


def _notes(project: Path, worker: int, count: int, errors: list[BaseException]) -> None:
    settings = load_settings(project / "config" / "monitor.toml", env={})
    try:
        with Monitor.open(settings, FixedClock(NOW)) as m:
            for i in range(count):
                m.add_note("EPCC23-ORD-01", f"worker {worker} note {i}", by=f"w{worker}")
    except BaseException as exc:  # reported to the test thread below
        errors.append(exc)


def test_concurrent_commands_on_one_commitment_retry_and_lose_nothing(
    monitor: Monitor, project: Path
) -> None:
    errors: list[BaseException] = []
    threads = [threading.Thread(target=_notes, args=(project, n, 15, errors)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    state = monitor.load("EPCC23-ORD-01")
    texts = sorted(event.text for _ctx, event in state.notes)
    assert texts == sorted(f"worker {w} note {i}" for w in range(4) for i in range(15))
    assert len(monitor.timeline("EPCC23-ORD-01")) == 61
    assert monitor.verify().ok


def test_export_to_an_unusable_place_is_a_clear_error(monitor: Monitor, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(MonitorError, match="cannot write the journal"):
        monitor.export(blocker / "journal.jsonl")


def test_passed_deadlines_are_recorded_once_from_any_process(
    monitor: Monitor, project: Path
) -> None:
    # The catalogue's one dated commitment (deadline 2023-11-14) is long past at NOW.
    [passed] = monitor.check_deadlines()
    assert passed.event_type == "DeadlinePassed"
    assert monitor.check_deadlines() == []
    # Another process (its own Monitor and connections) finds it recorded.
    settings = load_settings(project / "config" / "monitor.toml", env={})
    with Monitor.open(settings, FixedClock(NOW)) as other:
        assert other.check_deadlines() == []
    commitment = passed.data["commitment_id"]
    assert monitor.timeline(commitment)[-1].summary == "deadline 2023-11-14 passed"
    assert [e.event_type for e in monitor.store.read_stream(f"commitment-{commitment}")].count(
        "DeadlinePassed"
    ) == 1


def test_an_unknown_topic_or_commitment_is_named_with_the_nearest(monitor: Monitor) -> None:
    """A typo in a filter is an error that says what was meant, not an empty list."""
    topic = "semiconductors"
    assert monitor.list_commitments(topic=topic.upper())  # any case
    with pytest.raises(NotFound, match=f"unknown topic '{topic[:-1]}X': did you mean '{topic}'"):
        monitor.list_commitments(topic=topic[:-1] + "X")
    with pytest.raises(NotFound, match="unknown topic 'zzzz' \\(known: "):
        monitor.list_commitments(topic="zzzz")
    with pytest.raises(
        NotFound, match="unknown commitment 'epcc23-sc-1': did you mean 'EPCC23-SC-01'"
    ):
        monitor.show("epcc23-sc-1")
    with pytest.raises(NotFound, match="did you mean 'EPCC23-SC-01'"):
        monitor.add_note("EPCC23-SC-1", "a note", by="a")
