"""Benchmark: how long commands take to start and answer, against the imports they cannot avoid.

Each command runs as a fresh process (as a user runs it), taking turns with its floor: the
import of the libraries the command cannot do without, in a process of its own.

- ``monitor --version`` against ``python -c "import typer"``;
- ``monitor list`` on the shipped 19-commitment catalogue against
  ``python -c "import typer, sqlmodel"``;
- ``monitor queue --json`` on 10,000 waiting proposals against the same floor.

Both stores are SQLite with the default ``sqlite_synchronous = "full"``, made before the
timing starts; each command runs once untimed first (its read models caught up, its
modules' bytecode cached, as after any first run on a user's machine). Wall time
of each process, median of ``--runs`` (default 15). Targets (medians): --version <= 1.5x,
list <= 1.3x, queue --json <= 2x. Usage: ``python bench/startup.py [--runs 15] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
MONITOR = str(Path(PYTHON).with_name("monitor"))
PROPOSALS = 10_000
NOW = datetime(2026, 1, 15, tzinfo=UTC)


def project(folder: Path) -> dict[str, str]:
    """A project folder with the shipped configuration; the environment to run in it."""
    shutil.copytree(ROOT / "config", folder / "config")
    env = {**os.environ, "MONITOR_CONFIG": str(folder / "config" / "monitor.toml")}
    env.pop("MONITOR_DATABASE_URL", None)
    # as on a user's machine: compiled modules are cached (the untimed first run writes
    # them); with PYTHONDONTWRITEBYTECODE every run would compile monitor's sources again
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([MONITOR, "init"], cwd=folder, env=env, check=True, capture_output=True)
    return env


def add_proposals(folder: Path, env: dict[str, str], count: int) -> None:
    """``count`` items, each proposed for one of the catalogue's commitments."""
    from monitor import Monitor, load_settings
    from monitor.events import (
        EvidenceProposed,
        ItemDiscovered,
        item_stream,
        proposal_stream,
        to_new_event,
    )
    from monitor.store.records import StreamAppend

    here = Path.cwd()
    os.chdir(folder)  # the settings' relative paths are the project folder's
    try:
        settings = load_settings(Path(env["MONITOR_CONFIG"]), env={})
    finally:
        os.chdir(here)
    with Monitor.open(settings) as monitor:
        ids = [v.commitment_id for v in monitor.list_commitments()]
        batch: list[StreamAppend] = []
        meta = {"actor": "bench"}
        for n in range(count):
            item_id, pid = uuid.uuid4(), uuid.uuid4()
            title = f"Item {n}: Japan and the U.S. on legacy chips, story {n}"
            item = ItemDiscovered(
                item_id=item_id,
                source="state-press",
                key=f"guid:{n}",
                url=f"https://example.org/i/{n}",
                title=title,
                first_seen_at=NOW,
                content_hash="0" * 64,
            )
            proposal = EvidenceProposed(
                proposal_id=pid,
                commitment_id=ids[n % len(ids)],
                item_id=item_id,
                url=f"https://example.org/i/{n}",
                title=title,
                source="state-press",
                score=0.5 + (n % 50) / 100,
                matched_terms=("legacy chips",),
                matcher_version="bench",
            )
            batch.append(StreamAppend(item_stream(item_id), (to_new_event(item, meta),), 0))
            batch.append(StreamAppend(proposal_stream(pid), (to_new_event(proposal, meta),), 0))
            if len(batch) >= 2000:
                monitor.store.append_batch(batch)
                batch = []
        if batch:
            monitor.store.append_batch(batch)


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else "")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        small, big = Path(tmp) / "small", Path(tmp) / "big"
        small_env = project(small)
        big_env = project(big)
        add_proposals(big, big_env, PROPOSALS)
        cases = [
            ("monitor --version", [MONITOR, "--version"], small, small_env, "typer", 1.5),
            ("monitor list (19 commitments)", [MONITOR, "list"], small, small_env,
             "typer, sqlmodel", 1.3),
            (f"monitor queue --json ({PROPOSALS:,} proposals)", [MONITOR, "queue", "--json"],
             big, big_env, "typer, sqlmodel", 2.0),
        ]  # fmt: skip
        for name, command, cwd, env, libraries, target in cases:
            floor_command = [PYTHON, "-c", f"import {libraries}"]
            timed(command, cwd, env)  # read models caught up, files cached
            timed(floor_command, cwd, env)
            own: list[float] = []
            floor: list[float] = []
            for _ in range(args.runs):
                own.append(timed(command, cwd, env))
                floor.append(timed(floor_command, cwd, env))
            median, floor_median = statistics.median(own), statistics.median(floor)
            results.append(
                {
                    "command": name,
                    "floor": f"import {libraries}",
                    "median_s": median,
                    "floor_median_s": floor_median,
                    "ratio": median / floor_median,
                    "target": target,
                    "pass": median / floor_median <= target,
                }
            )
    if args.json:
        print(json.dumps({"runs": args.runs, "results": results}))
        return 0
    print(f"start-up, wall time of each process, median of {args.runs} (taking turns):")
    for r in results:
        verdict = "PASS" if r["pass"] else "FAIL"
        print(
            f"  {r['command']:<42} {r['median_s'] * 1000:7.0f} ms   "
            f"{r['floor']:<24} {r['floor_median_s'] * 1000:6.0f} ms   "
            f"{r['ratio']:5.2f}x (target <= {r['target']}x: {verdict})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
