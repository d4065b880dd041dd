"""Side-by-side benchmark: monitor's event store against eventsourcing 9.5.6, both on SQLite.

The workload is the one in ``shared/bench/peer_eventsourcing.py``:

1. batched append: N events (2,000 streams x 10 by default), one stream of 10 per transaction
   (monitor: one ``CommitmentRegistered`` and nine ``NoteAdded`` per stream; peer: one
   aggregate created and given nine notes, then ``app.save``). Creating the domain events is
   inside the timed region on both sides, as it is in the peer script.
2. single-event commits: 2,000 appends of one note each to one stream.
3. fold every stream: monitor ``read_stream`` + ``REGISTRY.decode`` + ``fold``; peer
   ``app.repository.get`` (no aggregate cache, so every call reads the database).
4. log read: the whole log in order (monitor ``iter_rows`` undecoded, and ``read_all``-style
   decoding with ``row_to_event``; peer ``recorder.select_notifications(start=1, limit=n)``).
5. projection rebuild at scale: a journal of ``--rebuild-events`` events (bulk-loaded with
   ``append_batch``), then ``CommitmentProjection(store).rebuild()``, against the peer reading
   as many events from its own log (in pages of the projection's batch size).

Why ratios: the machines this runs on are shared and noisy, so an absolute figure says little
about the code. Both sides run in the same process, interleaved workload by workload, on fresh
SQLite files in sibling temporary directories on the same disk, with the same durability (WAL,
``synchronous=FULL``: monitor sets it, eventsourcing keeps SQLite's default, and the header
prints what each connection reports). The ratio monitor/peer measured in one run is the figure
to compare against the targets; for the rebuild the ratio is a time ratio (lower is better).

Usage: ``python bench/store.py [--events 20000] [--rebuild-events 1000000] [--json]``;
``--profile WORKLOAD`` runs only monitor's side of one workload under cProfile instead.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import platform
import pstats
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date
from importlib.metadata import version
from pathlib import Path
from typing import Any, cast
from uuid import UUID, uuid4

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.sqlite import SQLiteApplicationRecorder
from pydantic import HttpUrl
from sqlalchemy import text

from monitor.domain.commitment import EventContext, fold
from monitor.events import (
    REGISTRY,
    CommitmentRegistered,
    NoteAdded,
    commitment_stream,
    to_new_event,
)
from monitor.projections import CommitmentProjection
from monitor.store import migrate
from monitor.store.database import make_engine
from monitor.store.records import NewEvent, RecordedEvent, StreamAppend
from monitor.store.sql import SqlEventStore, row_to_event

EVENTS_PER_STREAM = 10
SINGLE_COMMITS = 2_000
BULK_STREAMS_PER_CALL = 1_000
READ_PAGE = 10_000  # the projection's default batch size
NOTE = "note {j} about semiconductor supply chains and LSTC/NSTC roadmaps"
META = {"actor": "bench"}
WORKLOADS = ("append", "commits", "fold", "read", "rebuild")

# -- the peer's domain model (the workload of shared/bench/peer_eventsourcing.py) ------------


class PeerCommitment(Aggregate):
    """The peer aggregate: a title and a list of notes."""

    @event("Registered")
    def __init__(self, title: str) -> None:
        self.title = title
        self.notes: list[str] = []

    @event("NoteAdded")
    def add_note(self, text: str) -> None:
        self.notes.append(text)


class PeerApp(Application[UUID]):
    """A plain eventsourcing application (no snapshots, no aggregate cache)."""


def peer_app(directory: Path) -> PeerApp:
    return PeerApp(
        env={
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(directory / "es.sqlite3"),
        }
    )


def peer_recorder(app: PeerApp) -> SQLiteApplicationRecorder:
    return cast(SQLiteApplicationRecorder, app.recorder)


def peer_aggregate(i: int) -> PeerCommitment:
    aggregate = PeerCommitment(title=f"c{i}")
    for j in range(EVENTS_PER_STREAM - 1):
        aggregate.add_note(NOTE.format(j=j))
    return aggregate


# -- monitor's side ---------------------------------------------------------------------------

BENCH_URL = HttpUrl("https://www.meti.go.jp/english/press/2023/1116_005.html")


def commitment_id(i: int) -> str:
    return f"BENCH-{i:06d}"


def registration(cid: str, title: str) -> CommitmentRegistered:
    """A valid registration, shaped like an entry of config/commitments.toml."""
    return CommitmentRegistered(
        commitment_id=cid,
        statement_id="EPCC-2023",
        title=title,
        source_words="benchmark commitment",
        provenance="readout",
        source_document="benchmark fixture",
        locator="bench/store.py",
        source_urls=(BENCH_URL,),
        parties=("METI", "Commerce"),
        topics=("S2", "semiconductors"),
        made_on=date(2023, 11, 14),
    )


def note(cid: str, text_: str) -> NoteAdded:
    return NoteAdded(commitment_id=cid, note_id=uuid4(), text=text_, author="bench")


def stream_events(i: int) -> tuple[str, tuple[NewEvent, ...]]:
    """One commitment's stream: a registration and nine notes, as the store takes them."""
    cid = commitment_id(i)
    events = [registration(cid, f"c{i}")]
    events += [note(cid, NOTE.format(j=j)) for j in range(EVENTS_PER_STREAM - 1)]
    return commitment_stream(cid), tuple(to_new_event(e, META) for e in events)


def monitor_store(directory: Path, synchronous: str = "full") -> SqlEventStore:
    engine = make_engine(
        f"sqlite:///{directory / 'monitor.sqlite3'}", sqlite_synchronous=synchronous
    )
    migrate.upgrade(engine)
    return SqlEventStore(engine)


def context(event_: RecordedEvent) -> EventContext:
    return EventContext(
        event_.event_id, event_.position, event_.recorded_at, event_.metadata.get("actor")
    )


def fold_stream(store: SqlEventStore, cid: str) -> int:
    events = store.read_stream(commitment_stream(cid))
    state = fold(cid, ((REGISTRY.decode(e), context(e)) for e in events))
    return state.version


# -- measuring -------------------------------------------------------------------------------


@dataclass(slots=True)
class Figure:
    """One workload measured on both sides."""

    workload: str
    unit: str
    monitor: float
    peer: float
    target: str = ""
    passed: bool | None = None

    @property
    def ratio(self) -> float:
        return self.monitor / self.peer if self.peer else float("nan")


def timed(fn: Callable[[], int]) -> tuple[int, float]:
    """(what ``fn`` returned, seconds it took)."""
    start = time.perf_counter()
    count = fn()
    return count, time.perf_counter() - start


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


@contextmanager
def workdirs(base: str | None) -> Iterator[tuple[Path, Path]]:
    """Two fresh sibling directories (same disk), removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="monitor-bench-", dir=base))
    try:
        mine, peer = root / "monitor", root / "peer"
        mine.mkdir()
        peer.mkdir()
        yield mine, peer
    finally:
        shutil.rmtree(root, ignore_errors=True)


def durability(store: SqlEventStore, app: PeerApp) -> dict[str, str]:
    """journal_mode/synchronous as each side's connections report them (2 = FULL)."""
    with store.engine.connect() as conn:
        mine = [
            conn.exec_driver_sql(f"PRAGMA {p}").scalar() for p in ("journal_mode", "synchronous")
        ]
    with peer_recorder(app).datastore.transaction(commit=False) as cursor:
        theirs = []
        for pragma in ("journal_mode", "synchronous"):
            cursor.execute(f"PRAGMA {pragma}")
            theirs.append(cursor.fetchone()[0])
    return {
        "monitor": f"journal_mode={mine[0]} synchronous={mine[1]}",
        "eventsourcing": f"journal_mode={theirs[0]} synchronous={theirs[1]}",
    }


# -- workloads 1-4 ---------------------------------------------------------------------------


def small_workloads(events: int, base: str | None) -> tuple[list[Figure], dict[str, str]]:
    streams = events // EVENTS_PER_STREAM
    figures: list[Figure] = []
    with workdirs(base) as (mine_dir, peer_dir):
        store = monitor_store(mine_dir)
        app = peer_app(peer_dir)
        peer_ids: list[UUID] = []

        def monitor_append() -> int:
            for i in range(streams):
                stream_id, new = stream_events(i)
                store.append(stream_id, new, 0)
            return streams * EVENTS_PER_STREAM

        def peer_append() -> int:
            for i in range(streams):
                aggregate = peer_aggregate(i)
                app.save(aggregate)
                peer_ids.append(aggregate.id)
            return streams * EVENTS_PER_STREAM

        n_mine, t_mine = timed(monitor_append)
        n_peer, t_peer = timed(peer_append)
        figures.append(
            Figure(
                f"batched append ({streams:,} x {EVENTS_PER_STREAM}/txn)",
                "events/s",
                rate(n_mine, t_mine),
                rate(n_peer, t_peer),
                ">= 1.5x",
            )
        )
        figures[-1].passed = figures[-1].ratio >= 1.5

        def monitor_fold() -> int:
            for i in range(streams):
                assert fold_stream(store, commitment_id(i)) == EVENTS_PER_STREAM
            return streams

        def peer_fold() -> int:
            for aggregate_id in peer_ids:
                assert app.repository.get(aggregate_id).version == EVENTS_PER_STREAM
            return len(peer_ids)

        n_mine, t_mine = timed(monitor_fold)
        n_peer, t_peer = timed(peer_fold)
        figures.append(
            Figure("fold every stream", "streams/s", rate(n_mine, t_mine), rate(n_peer, t_peer))
        )

        def monitor_rows() -> int:
            return sum(1 for _ in store.iter_rows())

        def monitor_decoded() -> int:
            return sum(1 for row in store.iter_rows() if row_to_event(row))

        def peer_read() -> int:
            limit = streams * EVENTS_PER_STREAM
            return len(peer_recorder(app).select_notifications(start=1, limit=limit))

        n_mine, t_mine = timed(monitor_rows)
        n_dec, t_dec = timed(monitor_decoded)
        n_peer, t_peer = timed(peer_read)
        assert n_mine == n_dec == n_peer == streams * EVENTS_PER_STREAM
        figures.append(
            Figure("log read (rows)", "events/s", rate(n_mine, t_mine), rate(n_peer, t_peer))
        )
        figures.append(
            Figure("log read (row_to_event)", "events/s", rate(n_dec, t_dec), rate(n_peer, t_peer))
        )

        single = commitment_id(999_999)
        single_stream = commitment_stream(single)
        store.append(single_stream, [to_new_event(registration(single, "single"), META)], 0)
        peer_single = PeerCommitment(title="single")
        app.save(peer_single)

        def monitor_commits() -> int:
            version = 1
            for _ in range(SINGLE_COMMITS):
                store.append(single_stream, [to_new_event(note(single, "x"), META)], version)
                version += 1
            return SINGLE_COMMITS

        def peer_commits() -> int:
            for _ in range(SINGLE_COMMITS):
                peer_single.add_note("x")
                app.save(peer_single)
            return SINGLE_COMMITS

        n_mine, t_mine = timed(monitor_commits)
        n_peer, t_peer = timed(peer_commits)
        commits = Figure(
            f"single-event commits ({SINGLE_COMMITS:,})",
            "commits/s",
            rate(n_mine, t_mine),
            rate(n_peer, t_peer),
            ">= 1.0x",
        )
        commits.passed = commits.ratio >= 1.0
        figures.insert(1, commits)
        figures[2:2] = relaxed_durability(mine_dir / "normal", streams, t_peer, n_peer, figures[0])
        info = durability(store, app)
        app.close()
        store.engine.dispose()
    return figures, info


def relaxed_durability(
    directory: Path, streams: int, t_peer_commits: float, n_peer_commits: int, batched: Figure
) -> list[Figure]:
    """The two write workloads again with monitor on ``sqlite_synchronous = "normal"``.

    Not equal durability (the peer fsyncs every commit): shown so the cost of the fsync is
    visible, never counted against a target.
    """
    directory.mkdir()
    store = monitor_store(directory, "normal")

    def append() -> int:
        for i in range(streams):
            stream_id, new = stream_events(i)
            store.append(stream_id, new, 0)
        return streams * EVENTS_PER_STREAM

    single = commitment_id(999_999)
    single_stream = commitment_stream(single)

    def commits() -> int:
        store.append(single_stream, [to_new_event(registration(single, "single"), META)], 0)
        for expected in range(1, SINGLE_COMMITS + 1):
            store.append(single_stream, [to_new_event(note(single, "x"), META)], expected)
        return SINGLE_COMMITS

    n_append, t_append = timed(append)
    n_commits, t_commits = timed(commits)
    store.engine.dispose()
    peer_batched = batched.peer
    return [
        Figure(
            "  same, monitor synchronous=normal *",
            "events/s",
            rate(n_append, t_append),
            peer_batched,
            "info",
        ),
        Figure(
            "  commits, monitor synchronous=normal *",
            "commits/s",
            rate(n_commits, t_commits),
            rate(n_peer_commits, t_peer_commits),
            "info",
        ),
    ]


# -- workload 5 ------------------------------------------------------------------------------


def bulk_load_monitor(store: SqlEventStore, events: int) -> int:
    streams = events // EVENTS_PER_STREAM
    for first in range(0, streams, BULK_STREAMS_PER_CALL):
        appends = []
        for i in range(first, min(first + BULK_STREAMS_PER_CALL, streams)):
            stream_id, new = stream_events(i)
            appends.append(StreamAppend(stream_id, new, 0))
        store.append_batch(appends)
    return streams * EVENTS_PER_STREAM


def bulk_load_peer(app: PeerApp, events: int) -> int:
    streams = events // EVENTS_PER_STREAM
    for first in range(0, streams, BULK_STREAMS_PER_CALL):
        app.save(
            *(peer_aggregate(i) for i in range(first, min(first + BULK_STREAMS_PER_CALL, streams)))
        )
    return streams * EVENTS_PER_STREAM


def read_peer_log(app: PeerApp, page: int = READ_PAGE) -> int:
    recorder = peer_recorder(app)
    count, start = 0, 1
    while True:
        notifications = recorder.select_notifications(start=start, limit=page)
        count += len(notifications)
        if len(notifications) < page:
            return count
        start = notifications[-1].id + 1


def rebuild_workload(events: int, base: str | None) -> tuple[list[Figure], dict[str, float]]:
    with workdirs(base) as (mine_dir, peer_dir):
        store = monitor_store(mine_dir)
        app = peer_app(peer_dir)
        n_mine, setup_mine = timed(lambda: bulk_load_monitor(store, events))
        n_peer, setup_peer = timed(lambda: bulk_load_peer(app, events))
        rebuilt, t_rebuild = timed(lambda: CommitmentProjection(store).rebuild())
        read, t_read = timed(lambda: read_peer_log(app))
        assert rebuilt == n_mine, (rebuilt, n_mine)
        assert read == n_peer, (read, n_peer)
        with store.engine.connect() as conn:
            views = conn.execute(text("SELECT COUNT(*) FROM commitment_view")).scalar_one()
        assert views == events // EVENTS_PER_STREAM
        app.close()
        store.engine.dispose()
    bulk = Figure(
        f"bulk load ({BULK_STREAMS_PER_CALL:,} streams/txn)",
        "events/s",
        rate(n_mine, setup_mine),
        rate(n_peer, setup_peer),
    )
    # A time ratio, lower is better: expressed as monitor = rebuild s, peer = read s.
    rebuild = Figure(
        f"rebuild {n_mine:,} ev vs peer log read",
        "seconds",
        t_rebuild,
        t_read,
        "< 3.0x time",
    )
    rebuild.passed = rebuild.ratio < 3.0
    extra = {
        "setup_monitor_s": setup_mine,
        "setup_peer_s": setup_peer,
        "rebuild_events_per_s": rate(rebuilt, t_rebuild),
        "peer_read_events_per_s": rate(read, t_read),
    }
    return [bulk, rebuild], extra


# -- profiling -------------------------------------------------------------------------------


def profile(workload: str, events: int, rebuild_events: int, base: str | None, top: int) -> None:
    """Run monitor's side of one workload under cProfile and print the top entries."""
    streams = events // EVENTS_PER_STREAM
    profiler = cProfile.Profile()
    with workdirs(base) as (mine_dir, _peer_dir):
        store = monitor_store(mine_dir)
        if workload == "append":
            profiler.enable()
            for i in range(streams):
                stream_id, new = stream_events(i)
                store.append(stream_id, new, 0)
            profiler.disable()
        elif workload == "commits":
            cid = commitment_id(999_999)
            stream_id = commitment_stream(cid)
            store.append(stream_id, [to_new_event(registration(cid, "single"), META)], 0)
            profiler.enable()
            for version in range(1, SINGLE_COMMITS + 1):
                store.append(stream_id, [to_new_event(note(cid, "x"), META)], version)
            profiler.disable()
        elif workload in ("fold", "read"):
            bulk_load_monitor(store, events)
            profiler.enable()
            if workload == "fold":
                for i in range(streams):
                    fold_stream(store, commitment_id(i))
            else:
                for row in store.iter_rows():
                    row_to_event(row)
            profiler.disable()
        else:
            bulk_load_monitor(store, rebuild_events)
            profiler.enable()
            CommitmentProjection(store).rebuild()
            profiler.disable()
        store.engine.dispose()
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.strip_dirs().sort_stats("tottime").print_stats(top)


# -- output ----------------------------------------------------------------------------------


def header() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "eventsourcing": version("eventsourcing"),
        "platform": platform.platform(),
    }


def print_table(figures: list[Figure]) -> None:
    print(
        f"{'workload':<40} {'unit':<9} {'monitor':>12} {'eventsourcing':>14} {'ratio':>7}  target"
    )
    print("-" * 100)
    for f in figures:
        verdict = "" if f.passed is None else ("PASS" if f.passed else "FAIL")
        print(
            f"{f.workload:<40} {f.unit:<9} {f.monitor:>12,.2f} {f.peer:>14,.2f} "
            f"{f.ratio:>7.2f}  {f.target} {verdict}".rstrip()
        )
    print("\nratio = monitor / eventsourcing (rates: higher is better; seconds: lower is better)")
    print(
        "* monitor with database.sqlite_synchronous = normal against the peer's default FULL:"
        " not equal durability, for information only"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else "")
    parser.add_argument("--events", type=int, default=20_000, help="events for workloads 1-4")
    parser.add_argument(
        "--rebuild-events", type=int, default=1_000_000, help="journal size for the rebuild"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--dir", default=None, help="parent of the temporary databases")
    parser.add_argument(
        "--profile", choices=WORKLOADS, help="profile monitor's side of one workload only"
    )
    parser.add_argument("--top", type=int, default=10, help="entries printed by --profile")
    args = parser.parse_args(argv)
    if args.events < EVENTS_PER_STREAM or args.rebuild_events < EVENTS_PER_STREAM:
        parser.error(f"need at least {EVENTS_PER_STREAM} events")

    if args.profile:
        profile(args.profile, args.events, args.rebuild_events, args.dir, args.top)
        return 0

    info = header()
    if not args.json:
        for key, value in info.items():
            print(f"{key:>14}: {value}", flush=True)
    figures, modes = small_workloads(args.events, args.dir)
    if not args.json:
        print(f"{'monitor':>14}: {modes['monitor']}", flush=True)
        print(f"{'eventsourcing':>14}: {modes['eventsourcing']}", flush=True)
        print(f"(building two journals of {args.rebuild_events:,} events...)", flush=True)
    more, extra = rebuild_workload(args.rebuild_events, args.dir)
    figures += more
    if args.json:
        out: dict[str, Any] = {
            **info,
            "durability": modes,
            "figures": [asdict(f) | {"ratio": f.ratio} for f in figures],
            **extra,
        }
        print(json.dumps(out, indent=2))
    else:
        print()
        print_table(figures)
        print(
            f"setup: monitor {extra['setup_monitor_s']:.1f} s, "
            f"eventsourcing {extra['setup_peer_s']:.1f} s; rebuild "
            f"{extra['rebuild_events_per_s']:,.0f} ev/s, peer log read "
            f"{extra['peer_read_events_per_s']:,.0f} ev/s"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
