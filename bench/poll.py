"""Side-by-side benchmark: a poll round in monitor against lemon24/reader 3.26.

Workload of ``shared/bench/README.md``: N local RSS feeds of 50 items each, served by
``shared/bench/feedserver.py`` in its own process on 127.0.0.1 (so neither side pays for the
server's CPU). Measured for both, in one run:

1. first poll: fetch, parse, dedupe and store every feed (monitor also matches every item
   against the catalogue and records proposals; reader stores entries);
2. unchanged re-poll: every feed answers 304 Not Modified to a conditional request.

Both sides write to SQLite files in sibling temporary folders. reader runs
``update_feeds(workers=8, scheduled=False)``; monitor runs one poll round with 16 fetches in
flight (all feeds share one host here, so the per-host limit is raised to match) and parses
on every core. The ratio of one run is the figure to compare: the machines are shared and
noisy, an absolute rate says little.

Usage: ``python bench/poll.py [--feeds 500] [--items 50] [--json]`` (needs the ``bench``
extra: ``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path

from reader import make_reader

from monitor import Monitor, load_settings
from monitor.sources.config import render_opml
from monitor.sources.fetch import FetchLimits

ROOT = Path(__file__).resolve().parent.parent
SHARED_SERVER = ROOT.parent / "shared" / "bench" / "feedserver.py"
LIMITS = FetchLimits(concurrency=16, per_host=16)


@dataclass(slots=True)
class Figure:
    workload: str
    monitor: float
    reader: float
    target: float

    @property
    def ratio(self) -> float:
        return self.monitor / self.reader


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(feeds: int, items: int) -> tuple[subprocess.Popen[str], str]:
    if not SHARED_SERVER.is_file():
        sys.exit(f"the peer workload's feed server is missing: {SHARED_SERVER}")
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            str(SHARED_SERVER),
            "--feeds",
            str(feeds),
            "--items",
            str(items),
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    proc.stdout.readline()  # "serving N feeds on ..." once it listens
    return proc, f"http://127.0.0.1:{port}"


def run_reader(base: str, feeds: int, folder: Path) -> tuple[float, float, int]:
    reader = make_reader(str(folder / "reader.sqlite"))
    for i in range(feeds):
        reader.add_feed(f"{base}/feed/{i}.xml")
    start = time.perf_counter()
    reader.update_feeds(workers=8, scheduled=False)
    first = time.perf_counter() - start
    entries = reader.get_entry_counts().total
    start = time.perf_counter()
    reader.update_feeds(workers=8, scheduled=False)
    again = time.perf_counter() - start
    reader.close()
    return first, again, entries


def run_monitor(base: str, feeds: int, folder: Path) -> tuple[float, float, int, int]:
    config = folder / "config"
    config.mkdir(parents=True)
    shutil.copy(ROOT / "config" / "commitments.toml", config / "commitments.toml")
    (config / "monitor.toml").write_text(
        f'[database]\ndatabase_url = "sqlite:///{folder / "monitor.sqlite3"}"\n'
        # the feeds are served on loopback, which the fetcher refuses unless allowed
        "[poll]\nallow_private_addresses = true\n"
    )
    opml = folder / "feeds.opml"
    opml.write_bytes(
        render_opml([{"name": f"feed-{i}", "url": f"{base}/feed/{i}.xml"} for i in range(feeds)])
    )
    with Monitor.open(load_settings(config / "monitor.toml", env={})) as monitor:
        monitor.init()
        monitor.sources.import_opml(opml)
        sources = monitor.sources.due(everything=True)
        start = time.perf_counter()
        first = monitor.sources.poll(sources, limits=LIMITS)
        t_first = time.perf_counter() - start
        sources = monitor.sources.due(everything=True)
        start = time.perf_counter()
        again = monitor.sources.poll(sources, limits=LIMITS)
        t_again = time.perf_counter() - start
        assert first.ok == feeds, first.failures[:3]
        assert again.not_modified == feeds, again.failures[:3]
        return t_first, t_again, first.items_new, first.proposals


def httpx_floor(base: str, feeds: int) -> float:
    """Seconds for plain httpx to make every conditional GET (304) of a re-poll, nothing else:
    the floor under monitor's re-poll, since httpx is the project's HTTP client."""
    import asyncio

    import httpx

    async def run() -> float:
        limits = httpx.Limits(max_connections=LIMITS.concurrency)
        async with httpx.AsyncClient(limits=limits) as client:
            gate = asyncio.Semaphore(LIMITS.concurrency)
            etags: dict[int, str] = {}

            async def get(i: int) -> None:
                async with gate:
                    headers = {"If-None-Match": etags[i]} if i in etags else {}
                    response = await client.get(f"{base}/feed/{i}.xml", headers=headers)
                    etags[i] = response.headers.get("etag", "")

            await asyncio.gather(*(get(i) for i in range(feeds)))
            start = time.perf_counter()
            await asyncio.gather(*(get(i) for i in range(feeds)))
            return time.perf_counter() - start

    return asyncio.run(run())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else "")
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    server, base = start_server(args.feeds, args.items)
    root = Path(tempfile.mkdtemp(prefix="monitor-poll-bench-"))
    try:
        (root / "reader").mkdir()
        (root / "monitor").mkdir()
        r_first, r_again, r_entries = run_reader(base, args.feeds, root / "reader")
        m_first, m_again, m_items, m_proposals = run_monitor(base, args.feeds, root / "monitor")
        floor = httpx_floor(base, args.feeds)
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)
    n = args.feeds
    figures = [
        Figure("first poll (feeds/s)", n / m_first, n / r_first, 2.0),
        Figure("unchanged re-poll, all 304 (feeds/s)", n / m_again, n / r_again, 3.0),
    ]
    info = {
        "python": platform.python_version(),
        "reader": version("reader"),
        "feedparser": version("feedparser"),
        "httpx": version("httpx"),
        "cores": str(os.cpu_count()),
        "feeds": str(n),
        "items per feed": str(args.items),
        "monitor items / proposals": f"{m_items} / {m_proposals}",
        "reader entries": str(r_entries),
        "httpx alone, 304s (feeds/s)": f"{n / floor:,.0f} (the floor under a re-poll)",
    }
    if args.json:
        print(
            json.dumps({"info": info, "figures": [asdict(f) | {"ratio": f.ratio} for f in figures]})
        )
        return 0
    for key, value in info.items():
        print(f"{key:>26}: {value}")
    print(f"\n{'workload':<40} {'monitor':>10} {'reader':>10} {'ratio':>7}  target")
    for f in figures:
        verdict = "PASS" if f.ratio >= f.target else "FAIL"
        print(
            f"{f.workload:<40} {f.monitor:>10,.1f} {f.reader:>10,.1f} {f.ratio:>7.2f}  "
            f">= {f.target:g}x {verdict}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
