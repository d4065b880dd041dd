"""Benchmark: `monitor rematch` streams, so its memory does not grow with the stored items.

Builds a SQLite store with N real-looking items (titles and texts cycled from the State
Department corpus text shape: a few thousand characters each, one in twenty about a
commitment), then runs the dry-run rematch twice, over N/10 and N items, measuring the peak
of Python allocations (tracemalloc) during each. A streaming rematch holds one page of items
at a time: the two peaks are about equal. The floor beside it is the size of one page of
items' text. Usage: ``python bench/rematch.py [--items 100000] [--page 500]``.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor import Monitor, load_settings
from monitor.events import ItemDiscovered, item_stream, to_new_event
from monitor.sources.identity import content_hash, derived_id
from monitor.store.records import StreamAppend

ROOT = Path(__file__).resolve().parent.parent
FILLER = (
    "The Department of State announced today a series of routine updates on consular "
    "services, travel advisories and grants. "
) * 30
ON_TOPIC = "Japan and the U.S. agree to cooperate on legacy chips and mature-node semiconductors."


def build(monitor: Monitor, count: int, start: int = 0) -> None:
    when = datetime(2025, 1, 1, tzinfo=UTC)
    batch: list[StreamAppend] = []
    for n in range(start, start + count):
        title = ON_TOPIC if n % 20 == 0 else f"Press statement number {n}"
        item = ItemDiscovered(
            item_id=derived_id("bench-item", n),
            source="bench",
            key=f"bench-{n}",
            url=f"https://example.org/{n}",
            title=title,
            summary="",
            text=FILLER,
            published_at=when + timedelta(minutes=n),
            first_seen_at=when + timedelta(minutes=n),
            content_hash=content_hash(title, "", FILLER, None),
        )
        batch.append(StreamAppend(item_stream(item.item_id), (to_new_event(item),), 0))
        if len(batch) == 1000:
            monitor.store.append_batch(batch)
            batch = []
    if batch:
        monitor.store.append_batch(batch)


def peak_of_rematch(monitor: Monitor, page: int) -> tuple[int, int, float]:
    # the read models catch up first (in batches of their own): the rematch is measured
    monitor.item_views.catch_up()
    monitor.matching.matcher()  # compiles the rules, catches the learning read model up
    tracemalloc.start()
    started = time.perf_counter()
    result = monitor.matching.rematch(dry_run=True, page=page)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak, result.new_count, elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else "")
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--page", type=int, default=500)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="monitor-bench-rematch-"))
    try:
        config = tmp / "config"
        config.mkdir()
        shutil.copy(ROOT / "config" / "commitments.toml", config / "commitments.toml")
        (config / "monitor.toml").write_text(
            f'[database]\ndatabase_url = "sqlite:///{tmp / "bench.db"}"\n', encoding="utf-8"
        )
        with Monitor.open(load_settings(config / "monitor.toml", env={})) as monitor:
            monitor.init()
            small = args.items // 10
            build(monitor, small)
            peak_small, new_small, t_small = peak_of_rematch(monitor, args.page)
            build(monitor, args.items - small, start=small)
            peak_all, new_all, t_all = peak_of_rematch(monitor, args.page)
        page_text = args.page * len(FILLER)
        print(f"page of {args.page} items: {page_text / 1e6:.1f} MB of text (the floor)")
        print(
            f"{small:>7,} items: peak {peak_small / 1e6:6.1f} MB, {new_small:,} new pairs, "
            f"{t_small:.1f} s"
        )
        print(
            f"{args.items:>7,} items: peak {peak_all / 1e6:6.1f} MB, {new_all:,} new pairs, "
            f"{t_all:.1f} s"
        )
        print(f"peak ratio ({args.items:,} / {small:,} items): {peak_all / peak_small:.2f}x")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
