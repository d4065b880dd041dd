"""The event store contract, run against every backend (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from monitor.clock import FixedClock
from monitor.errors import ConcurrencyError, EventIdConflict
from monitor.events import REGISTRY
from monitor.journal import verify_rows
from monitor.store import migrate
from monitor.store.database import make_engine
from monitor.store.hashing import GENESIS_HASH, canonical_json
from monitor.store.records import NewEvent, StreamAppend
from monitor.store.sql import SqlEventStore

from .conftest import NOW

WORKERS = Path(__file__).with_name("workers.py")


@pytest.fixture
def store(database_url: str) -> Iterator[SqlEventStore]:
    engine = make_engine(database_url)
    migrate.upgrade(engine)
    yield SqlEventStore(engine, FixedClock(NOW))
    engine.dispose()


def note(n: int = 0, event_id: uuid.UUID | None = None) -> NewEvent:
    """A schema-valid NoteAdded payload (so `verify` has nothing to say about payloads)."""
    return NewEvent(
        event_id or uuid.uuid4(),
        "NoteAdded",
        1,
        {"commitment_id": "X-1", "note_id": str(uuid.uuid4()), "text": f"note {n}", "author": "t"},
        {"actor": "t"},
    )


def all_rows(store: SqlEventStore) -> list[tuple]:
    return list(store.iter_rows())


def test_append_assigns_versions_positions_and_chain(store: SqlEventStore) -> None:
    first = store.append("s-1", [note(1), note(2)], 0)
    second = store.append("s-2", [note(3)], 0)
    assert (first.version, first.positions, first.written) == (2, (1, 2), True)
    assert (second.version, second.positions) == (1, (3,))
    events = store.read_stream("s-1")
    assert [e.stream_version for e in events] == [1, 2]
    assert events[0].recorded_at == NOW
    report = verify_rows(store.iter_rows(), REGISTRY)
    assert report.ok, report.problems
    assert (report.events, report.streams) == (3, 2)


def test_hash_is_sha256_of_previous_hash_and_canonical_envelope(store: SqlEventStore) -> None:
    import hashlib

    store.append("s-1", [note(1)], 0)
    event = store.read_all()[0]
    envelope = {
        "position": event.position,
        "event_id": str(event.event_id),
        "stream_id": event.stream_id,
        "stream_version": event.stream_version,
        "event_type": event.event_type,
        "schema_version": event.schema_version,
        "data": event.data,
        "metadata": event.metadata,
        "recorded_at": "2026-01-15T12:00:00.000000Z",
    }
    expected = hashlib.sha256((GENESIS_HASH + canonical_json(envelope)).encode()).hexdigest()
    assert event.hash == expected


def test_stale_expected_version_raises_and_writes_nothing(store: SqlEventStore) -> None:
    store.append("s-1", [note(1)], 0)
    with pytest.raises(ConcurrencyError) as caught:
        store.append("s-1", [note(2)], 0)
    assert (caught.value.expected, caught.value.actual) == (0, 1)
    with pytest.raises(ConcurrencyError):
        store.append("s-1", [note(2)], 5)  # ahead of the stream: no gaps either
    # In a batch: the good stream before the stale one is not written either.
    with pytest.raises(ConcurrencyError):
        store.append_batch([StreamAppend("s-2", (note(3),), 0), StreamAppend("s-1", (note(4),), 0)])
    assert store.last_position() == 1
    assert store.stream_version("s-2") == 0


def test_multi_event_append_is_atomic_when_the_database_refuses_a_row(
    store: SqlEventStore,
) -> None:
    taken = note(1)
    store.append("s-1", [taken], 0)
    # The third row clashes with a stored event id: the database rejects it mid-insert.
    with pytest.raises(EventIdConflict):
        store.append_batch(
            [StreamAppend("s-2", (note(2), note(3)), 0), StreamAppend("s-3", (taken,), 0)]
        )
    assert store.last_position() == 1
    assert store.read_stream("s-2") == []


def test_reappending_the_same_event_ids_is_a_no_op(store: SqlEventStore) -> None:
    events = [note(1), note(2)]
    first = store.append("s-1", events, 0)
    again_stale = store.append("s-1", events, 0)
    again_current = store.append("s-1", events, 2)
    assert again_stale == again_current
    assert again_stale.positions == first.positions
    assert again_stale.written is False
    assert store.last_position() == 2


def test_partial_repeat_is_refused(store: SqlEventStore) -> None:
    old = note(1)
    store.append("s-1", [old], 0)
    with pytest.raises(EventIdConflict):
        store.append("s-1", [old, note(2)], 1)
    with pytest.raises(EventIdConflict):
        store.append("s-other", [old], 0)
    assert store.last_position() == 1


def test_recent_events_filter_by_actor_in_the_database(store: SqlEventStore) -> None:
    # 600 events by "busy", then 3 by "rare" interleaved early: a filter applied after a
    # capped read would miss the rare ones
    def by(actor: str, n: int) -> NewEvent:
        event = note(n)
        return NewEvent(event.event_id, event.event_type, 1, event.data, {"actor": actor})

    store.append("s-1", [by("rare", 0), by('o\'brien "x"', 1), by("rare", 2)], 0)
    store.append("s-2", [by("busy", n) for n in range(600)], 0)
    rare = store.read_recent(100, actor="rare")
    assert [e.data["text"] for e in rare] == ["note 2", "note 0"]
    assert [e.metadata["actor"] for e in store.read_recent(5, actor='o\'brien "x"')] == [
        'o\'brien "x"'
    ]
    assert len(store.read_recent(100, actor="busy")) == 100
    assert store.read_recent(100, actor="nobody") == []
    assert [e.position for e in store.read_recent(1, actor="rare", before=3)] == [1]


def test_global_read_from_a_position_is_ordered(store: SqlEventStore) -> None:
    for i in range(30):
        store.append(f"s-{i % 4}", [note(i)], store.stream_version(f"s-{i % 4}"))
    tail = store.read_all(after=10, limit=100)
    assert [e.position for e in tail] == list(range(11, 31))
    assert [e.position for e in store.read_all(after=10, limit=5)] == [11, 12, 13, 14, 15]
    assert store.read_all(after=30) == []


def _raw(store: SqlEventStore, *statements: str) -> None:
    with store.engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))


def test_database_refuses_update_and_delete(store: SqlEventStore) -> None:
    store.append("s-1", [note(1)], 0)
    for statement in (
        "UPDATE events SET data = '{}' WHERE position = 1",
        "DELETE FROM events WHERE position = 1",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            _raw(store, statement)
    if store.dialect == "postgresql":
        with pytest.raises(DBAPIError, match="append-only"):
            _raw(store, "TRUNCATE events")
    assert len(all_rows(store)) == 1


def _drop_triggers(store: SqlEventStore) -> list[str]:
    if store.dialect == "sqlite":
        return ["DROP TRIGGER events_refuse_update", "DROP TRIGGER events_refuse_delete"]
    return ["DROP TRIGGER events_refuse_change ON events"]


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (
            ["UPDATE events SET data = REPLACE(data, 'note 3', 'note 9') WHERE position = 4"],
            "position 4",
        ),
        (["DELETE FROM events WHERE position = 3"], "position 4"),
        (
            [
                "UPDATE events SET position = 100 WHERE position = 2",
                "UPDATE events SET position = 2 WHERE position = 5",
                "UPDATE events SET position = 5 WHERE position = 100",
            ],
            "position 2",
        ),
    ],
    ids=["modified", "deleted", "reordered"],
)
def test_verify_detects_tampering(store: SqlEventStore, tamper: list[str], expected: str) -> None:
    for i in range(6):
        store.append("s-1", [note(i)], i)
    assert verify_rows(store.iter_rows(), REGISTRY).ok
    _raw(store, *_drop_triggers(store), *tamper)
    report = verify_rows(store.iter_rows(), REGISTRY)
    assert not report.ok
    assert expected in report.problems[0]


def _run_workers(url: str, streams: list[str], per_worker: int) -> list[subprocess.Popen[str]]:
    return [
        subprocess.Popen(
            [sys.executable, str(WORKERS), url, f"w{n}", ",".join(streams), str(per_worker)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]


def _results(procs: list[subprocess.Popen[str]]) -> list[dict]:
    results = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr
        results.append(json.loads(stdout))
    return results


@pytest.mark.slow
def test_four_processes_on_the_same_streams_lose_and_overwrite_nothing(
    store: SqlEventStore, database_url: str
) -> None:
    streams = ["shared-a", "shared-b", "shared-c"]
    results = _results(_run_workers(database_url, streams, 150))
    written = [i for r in results for i in r["ids"]]
    stored = all_rows(store)
    assert sorted(str(r[1]) for r in stored) == sorted(written)
    assert len(stored) == 600
    for stream in streams:
        versions = [e.stream_version for e in store.read_stream(stream)]
        assert versions == list(range(1, len(versions) + 1))
    assert verify_rows(stored, REGISTRY).ok


@pytest.mark.slow
def test_a_tailing_reader_never_skips_an_event_under_concurrent_writers(
    store: SqlEventStore, database_url: str
) -> None:
    procs = _run_workers(database_url, ["t-1", "t-2", "t-3", "t-4", "t-5"], 150)
    seen: list[int] = []
    last = 0
    while True:
        running = any(p.poll() is None for p in procs)
        batch = store.read_rows(after=last, limit=50)
        seen.extend(row[0] for row in batch)
        if batch:
            last = batch[-1][0]
        elif not running:
            break
    _results(procs)
    stored = [row[0] for row in all_rows(store)]
    assert seen == stored
    assert len(stored) == 600


def test_recorded_at_never_goes_back_when_a_clock_does(store: SqlEventStore) -> None:
    store.append("s-1", [note(1)], 0)
    behind = SqlEventStore(store.engine, FixedClock(datetime(2020, 1, 1, tzinfo=UTC)))
    behind.append("s-1", [note(2)], 1)
    first, second = store.read_stream("s-1")
    assert second.recorded_at == first.recorded_at == NOW


def test_short_event_ids_are_unique_in_the_whole_journal(monitor) -> None:  # type: ignore[no-untyped-def]
    """An id shown short among a few events must still name one event of the journal:
    events written in one millisecond share a long start (UUIDv7)."""
    from monitor.ids import short_ids

    ids = [str(e.event_id) for e in monitor.store.read_all(0, 1000)]
    assert len(ids) > 10
    shown = [ids[0], ids[5]]
    for event_id, short in monitor.short_event_ids(shown).items():
        assert event_id.startswith(short)
        assert len(short) >= 8
        assert [i for i in ids if i.startswith(short)] == [event_id]
    # what the list alone would give can be shorter, never longer
    alone = short_ids(shown)
    assert all(len(alone[e]) <= len(monitor.short_event_ids(shown)[e]) for e in shown)
