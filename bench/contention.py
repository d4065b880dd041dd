"""Benchmark: writes to one busy commitment, through the one write path (monitor.writes).

In one run, on SQLite (``sqlite_synchronous = "full"``, the default) and, when
``--postgres URL`` (or MONITOR_TEST_POSTGRES_URL) is given, on PostgreSQL:

- throughput of 1 writer adding notes to one commitment, then of 16 writers (threads of one
  process, as the web server's workers are) on the same commitment; target >= 0.7x;
- the cost of a note on a commitment of 10,000 events against one of 10 events, once the
  writer has seen the stream (median of 50); target <= 1.5x. The first write after start
  (which folds the whole stream) is printed beside it;
- 32 writers x 10 notes on one commitment: writes refused for contention; target none.

Usage: ``python bench/contention.py [--notes 400] [--postgres URL] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text

from monitor import Monitor, MonitorError, load_settings
from monitor.events import NoteAdded, commitment_stream, to_new_event
from monitor.store.records import StreamAppend

ROOT = Path(__file__).resolve().parent.parent
SHORT, LONG = "EPCC23-SC-01", "EPCC23-SC-02"
BUSY = "EPCC23-AI-01"


@contextmanager
def project(database_url: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        shutil.copytree(ROOT / "config", folder / "config")
        (folder / "config" / "monitor.toml").write_text(
            f'[database]\ndatabase_url = "{database_url}"\n[paths]\n'
            f'data_dir = "{folder / "data"}"\n'
            f'catalogue = "{folder / "config" / "commitments.toml"}"\n'
            f'sources = "{folder / "config" / "sources.toml"}"\n',
            encoding="utf-8",
        )
        yield folder


def opened(folder: Path) -> Monitor:
    return Monitor.open(load_settings(folder / "config" / "monitor.toml", env={}))


def notes_per_second(monitor: Monitor, writers: int, notes: int, cid: str) -> tuple[float, int]:
    """Throughput of ``writers`` threads adding ``notes`` notes in all; and refusals."""
    refused = 0

    def write(n: int) -> None:
        nonlocal refused
        try:
            monitor.add_note(cid, f"note {n}", by=f"writer-{n % writers}")
        except MonitorError:
            refused += 1

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=writers) as pool:
        list(pool.map(write, range(notes)))
    return notes / (time.perf_counter() - start), refused


def lengthen(monitor: Monitor, cid: str, events: int) -> None:
    """Add notes to ``cid`` straight into the journal until it holds ``events`` events."""
    stream = commitment_stream(cid)
    version = monitor.store.stream_version(stream)
    meta = {"actor": "bench"}
    while version < events:
        count = min(2000, events - version)
        batch = tuple(
            to_new_event(
                NoteAdded(commitment_id=cid, note_id=uuid.uuid4(), text="old", author="b"), meta
            )
            for _ in range(count)
        )
        monitor.store.append_batch([StreamAppend(stream, batch, version)])
        version += count


def write_cost(monitor: Monitor, cid: str, runs: int) -> tuple[float, float]:
    """(the first note's time, the median of the next ``runs``) on ``cid``, in seconds."""
    start = time.perf_counter()
    monitor.add_note(cid, "first", by="bench")
    first = time.perf_counter() - start
    times = []
    for n in range(runs):
        start = time.perf_counter()
        monitor.add_note(cid, f"n {n}", by="bench")
        times.append(time.perf_counter() - start)
    return first, statistics.median(times)


def run(backend: str, database_url: str, notes: int) -> dict[str, object]:
    with project(database_url) as folder:
        with opened(folder) as monitor:
            monitor.init()
            one, _ = notes_per_second(monitor, 1, notes // 2, BUSY)
            sixteen, refused_16 = notes_per_second(monitor, 16, notes, BUSY)
            _, refused_32 = notes_per_second(monitor, 32, 320, BUSY)
            lengthen(monitor, SHORT, 10)
            lengthen(monitor, LONG, 10_000)
        with opened(folder) as monitor:  # a fresh process: nothing cached, no snapshot
            short_first, short = write_cost(monitor, SHORT, 50)
            long_first, long_ = write_cost(monitor, LONG, 50)
        with opened(folder) as monitor:  # started again: the first fold left a snapshot
            from_snapshot, _ = write_cost(monitor, LONG, 1)
    return {
        "backend": backend,
        "one_writer_notes_per_s": one,
        "sixteen_writers_notes_per_s": sixteen,
        "sixteen_over_one": sixteen / one,
        "refused_at_16": refused_16,
        "refused_at_32": refused_32,
        "note_on_10_events_ms": short * 1000,
        "note_on_10000_events_ms": long_ * 1000,
        "long_over_short": long_ / short,
        "first_note_on_10_events_ms": short_first * 1000,
        "first_note_on_10000_events_ms": long_first * 1000,
        "first_note_on_10000_events_from_snapshot_ms": from_snapshot * 1000,
        "pass": sixteen / one >= 0.7 and long_ / short <= 1.5 and refused_32 == 0,
    }


@contextmanager
def postgres_schema(base: str) -> Iterator[str]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        separator = "&" if "?" in base else "?"
        yield f"{base}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else "")
    parser.add_argument("--notes", type=int, default=400)
    parser.add_argument("--postgres", default=os.environ.get("MONITOR_TEST_POSTGRES_URL"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results.append(run("sqlite", f"sqlite:///{Path(tmp) / 'bench.sqlite3'}", args.notes))
    if args.postgres:
        with postgres_schema(args.postgres) as url:
            results.append(run("postgresql", url, args.notes))
    if args.json:
        print(json.dumps(results))
        return 0
    for r in results:
        print(f"{r['backend']}:")
        print(
            f"  1 writer {r['one_writer_notes_per_s']:7.1f} notes/s, 16 writers "
            f"{r['sixteen_writers_notes_per_s']:7.1f} notes/s: {r['sixteen_over_one']:.2f}x "
            f"(target >= 0.7x); refused at 16: {r['refused_at_16']}, at 32: "
            f"{r['refused_at_32']} (target 0)"
        )
        print(
            f"  a note on 10,000 events {r['note_on_10000_events_ms']:6.1f} ms, on 10 events "
            f"{r['note_on_10_events_ms']:6.1f} ms: {r['long_over_short']:.2f}x (target <= 1.5x);"
            f" first write after start {r['first_note_on_10000_events_ms']:.0f} ms vs "
            f"{r['first_note_on_10_events_ms']:.0f} ms"
        )
        print(
            "  first write after the next start, from the snapshot the first left: "
            f"{r['first_note_on_10000_events_from_snapshot_ms']:.0f} ms"
        )
        print(f"  {'PASS' if r['pass'] else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
