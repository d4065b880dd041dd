"""Soak benchmark: thousands of poll rounds of the service's own tick on a compressed clock.

The shared workload's feed server (its own process, so its memory is not ours) serves
``--feeds`` feeds of ``--items`` items. A project on SQLite registers them with a 5-minute
interval; then, ``--rounds`` times, the clock moves on 5 minutes and the service's poll job
(``Jobs.tick``, exactly what `monitor serve` runs each tick) polls every due source. After
the first round nothing changes: every feed answers 304.

Printed: resident memory after the warm-up rounds and at the end (target: growth under
10%), and the events written per round once nothing changes, split into health
(SourceChecked, one per source checked) and anything else (target: none).

Usage: ``python bench/soak.py [--rounds 10000] [--feeds 20] [--items 50]``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor import FixedClock, Monitor, load_settings
from monitor.service.health import Health, resident_mib
from monitor.service.jobs import Jobs

sys.path.insert(0, str(Path(__file__).resolve().parent))
from poll import ROOT, start_server

WARM_UP = 200


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else "")
    parser.add_argument("--rounds", type=int, default=10_000)
    parser.add_argument("--feeds", type=int, default=20)
    parser.add_argument("--items", type=int, default=50)
    args = parser.parse_args()
    if args.rounds <= WARM_UP:
        parser.error(f"--rounds must be over the {WARM_UP} warm-up rounds")
    server, base = start_server(args.feeds, args.items)
    folder = Path(tempfile.mkdtemp(prefix="monitor-soak-"))
    try:
        config = folder / "config"
        config.mkdir()
        shutil.copy(ROOT / "config" / "commitments.toml", config / "commitments.toml")
        (config / "monitor.toml").write_text(
            f'[database]\ndatabase_url = "sqlite:///{folder / "monitor.sqlite3"}"\n'
            # the feeds are served on loopback, which the fetcher refuses unless allowed
            "[poll]\nper_host = 16\nallow_private_addresses = true\n"
        )
        (config / "sources.toml").write_text(
            "".join(
                f'[[source]]\nname = "feed-{i}"\nurl = "{base}/feed/{i}.xml"\n'
                'kind = "feed"\ninterval = "5m"\n\n'
                for i in range(args.feeds)
            )
        )
        clock = FixedClock(datetime(2026, 1, 15, tzinfo=UTC))
        with Monitor.open(load_settings(config / "monitor.toml", env={}), clock) as monitor:
            monitor.init()
            jobs = Jobs(monitor, Health(tick_seconds=30), threading.Event())
            start = time.perf_counter()
            rss_start = 0.0
            steady_from = 0
            for done in range(1, args.rounds + 1):
                jobs.tick()
                # Past every source's next check (the interval plus its jitter).
                clock.advance(timedelta(minutes=6))
                if done == WARM_UP:
                    rss_start = resident_mib()
                    steady_from = monitor.last_position()
                if done % 1000 == 0:
                    print(
                        f"  {done:>6} rounds  {resident_mib():7.1f} MiB  "
                        f"{time.perf_counter() - start:6.0f} s",
                        flush=True,
                    )
            rss_end = resident_mib()
            steady = monitor.last_position() - steady_from
            kinds = Counter(
                e.event_type for e in monitor.store.read_recent(steady) if e.position > steady_from
            )
            checked = len(monitor.sources.all())
        rounds = args.rounds - WARM_UP
        growth = (rss_end - rss_start) / rss_start * 100
        health = kinds.pop("SourceChecked", 0)
        other = sum(kinds.values())
        print(f"\n{args.rounds:,} rounds of {checked} feeds in {time.perf_counter() - start:.0f} s")
        print(
            f"resident memory: {rss_start:.1f} MiB after {WARM_UP} rounds, {rss_end:.1f} MiB "
            f"at the end: {growth:+.1f}%  (target < 10%: {'PASS' if growth < 10 else 'FAIL'})"
        )
        print(
            f"events per unchanged round: {health / rounds:.2f} health (SourceChecked), "
            f"{other / rounds:.2f} other {dict(kinds) or ''} "
            f"(target 0 other: {'PASS' if other == 0 else 'FAIL'})"
        )
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
