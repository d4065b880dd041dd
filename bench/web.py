"""Benchmark: web pages over a big journal, against a trivial endpoint of the same server.

Builds a store of ``--events`` events (default 1,000,000: 500 commitments with notes and
assessments, 100,000 items, 30,000 proposals, and the rest as sources' check history),
serves the real app with uvicorn on 127.0.0.1, logs in, and measures the median time of
the dashboard, a commitment page and the review queue next to ``/static/app.css`` (a
trivial endpoint of the same server), sampled in turn, in one run. Target: each page's
median at most 5x the trivial one.
Usage: ``python bench/web.py [--events 1000000] [--requests 100] [--keep DIR]``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
from argon2 import PasswordHasher

from monitor import Monitor, load_settings
from monitor.application.accounts import Accounts
from monitor.events import (
    CommitmentRegistered,
    EvidenceProposed,
    ItemDiscovered,
    NoteAdded,
    SourceChecked,
    SourceRegistered,
    commitment_stream,
    item_stream,
    proposal_stream,
    source_stream,
    to_new_event,
)
from monitor.store.records import StreamAppend
from monitor.web import create_app

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.webserver import LiveServer  # noqa: E402  (the same server harness as the tests)

COMMITMENTS, ITEMS, PROPOSALS, SOURCES = 500, 100_000, 30_000, 50
META = {"actor": "bench"}
NOW = datetime(2026, 1, 15, tzinfo=UTC)


def registration(i: int) -> CommitmentRegistered:
    return CommitmentRegistered(
        commitment_id=f"BENCH-{i:04d}",
        statement_id="BENCH",
        title=f"Bench commitment {i}",
        source_words="bench",
        provenance="readout",
        source_document="bench",
        locator="bench",
        source_urls=("https://example.org/bench",),  # type: ignore[arg-type]
        parties=("METI",),
        topics=("S2", f"topic-{i % 10}"),
        made_on=date(2023, 11, 14),
    )


def build(monitor: Monitor, events: int) -> None:
    store = monitor.store
    batch: list[StreamAppend] = []
    written = 0

    def flush() -> None:
        nonlocal batch
        if batch:
            store.append_batch(batch)
            batch = []

    def add(stream: str, new: list, expected: int = 0) -> None:  # type: ignore[type-arg]
        nonlocal written
        batch.append(StreamAppend(stream, tuple(to_new_event(e, META) for e in new), expected))
        written += len(new)
        if sum(len(a.events) for a in batch) >= 5000:
            flush()

    for i in range(COMMITMENTS):
        cid = f"BENCH-{i:04d}"
        notes = [
            NoteAdded(commitment_id=cid, note_id=uuid.uuid4(), text=f"note {n}", author="bench")
            for n in range(10)
        ]
        add(commitment_stream(cid), [registration(i), *notes])
    for s in range(SOURCES):
        add(
            source_stream(f"bench-{s}"),
            [
                SourceRegistered(
                    name=f"bench-{s}",
                    url=f"https://example.org/{s}.xml",
                    kind="feed",
                    interval_seconds=1800,
                )
            ],
        )
    flush()
    for n in range(ITEMS):
        item_id = uuid.uuid4()
        add(
            item_stream(item_id),
            [
                ItemDiscovered(
                    item_id=item_id,
                    source=f"bench-{n % SOURCES}",
                    key=f"guid:{n}",
                    url=f"https://example.org/i/{n}",
                    title=f"Item {n} on legacy chips",
                    first_seen_at=NOW,
                    content_hash="0" * 64,
                )
            ],
        )
        if n < PROPOSALS:
            pid = uuid.uuid4()
            add(
                proposal_stream(pid),
                [
                    EvidenceProposed(
                        proposal_id=pid,
                        commitment_id=f"BENCH-{n % COMMITMENTS:04d}",
                        item_id=item_id,
                        url=f"https://example.org/i/{n}",
                        title=f"Item {n} on legacy chips",
                        source=f"bench-{n % SOURCES}",
                        score=0.5 + (n % 50) / 100,
                        matched_terms=("legacy chips",),
                        matcher_version="bench",
                    )
                ],
            )
    flush()
    checks = max(0, events - written)
    versions = dict.fromkeys(range(SOURCES), 1)
    for n in range(checks):
        s = n % SOURCES
        at = NOW - timedelta(minutes=30 * (checks - n) // SOURCES)
        add(
            source_stream(f"bench-{s}"),
            [
                SourceChecked(
                    name=f"bench-{s}",
                    outcome="not_modified",
                    checked_at=at,
                    next_check_at=at + timedelta(minutes=30),
                )
            ],
            versions[s],
        )
        versions[s] += 1
        if len(batch) >= 40:  # one append per source per batch: versions stay in order
            flush()
    flush()


def medians_ms(client: httpx.Client, paths: dict[str, str], n: int) -> dict[str, float]:
    """Median time of each path, sampled in turn (trivial, page, page, ...) ``n`` times, so
    that the machine's slow and fast moments fall on every path alike."""
    times: dict[str, list[float]] = {name: [] for name in paths}
    for path in paths.values():  # warm-up: caches, connections, first renders
        assert client.get(path).status_code == 200, path
    for _ in range(n):
        for name, path in paths.items():
            start = time.perf_counter()
            response = client.get(path)
            times[name].append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, (path, response.status_code)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else "")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument(
        "--keep",
        type=Path,
        help="build the store in this folder and keep it; a later run with the same folder "
        "reuses it (building 1,000,000 events takes minutes)",
    )
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="monitor-web-bench-"))
    try:
        (root / "config").mkdir(parents=True, exist_ok=True)
        reuse = (root / "m.sqlite3").exists()
        (root / "config" / "monitor.toml").write_text(
            f'[database]\ndatabase_url = "sqlite:///{root / "m.sqlite3"}"\n'
        )
        shutil.copy(ROOT / "config" / "commitments.toml", root / "config")
        with Monitor.open(load_settings(root / "config" / "monitor.toml", env={})) as monitor:
            monitor.migrate()
            start = time.perf_counter()
            if not reuse:
                build(monitor, args.events)
            monitor.projection.catch_up()
            monitor.item_views.catch_up()
            verb = "reused" if reuse else "built"
            print(
                f"{verb} {monitor.last_position():,} events in {time.perf_counter() - start:.1f} s"
            )
            monitor.accounts = Accounts(
                monitor, PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
            )
            if monitor.accounts.find("bench") is None:
                monitor.accounts.add("bench", "reviewer", "bench password 123")
            with (
                LiveServer(create_app(monitor, secret_key="bench")) as server,
                httpx.Client(base_url=server.url("")) as client,
            ):
                login = client.get("/login").text
                csrf = login.split('name="csrf" value="')[1].split('"')[0]
                client.post(
                    "/login", data={"name": "bench", "password": "bench password 123", "csrf": csrf}
                )
                pages = {
                    "trivial (/static/app.css)": "/static/app.css",
                    "dashboard": "/",
                    "commitment page": "/commitments/BENCH-0042",
                    "review queue": "/queue",
                }
                figures = medians_ms(client, pages, args.requests)
        trivial = figures.pop("trivial (/static/app.css)")
        print(f"\n{'page':<20} {'median ms':>10} {'x trivial':>10}  target")
        print(f"{'trivial':<20} {trivial:>10.2f} {1:>10.2f}")
        for name, ms in figures.items():
            ratio = ms / trivial
            print(
                f"{name:<20} {ms:>10.2f} {ratio:>10.2f}  <= 5x {'PASS' if ratio <= 5 else 'FAIL'}"
            )
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
