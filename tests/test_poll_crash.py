"""Killing a real `monitor poll` mid-round loses nothing and duplicates nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

import pytest

from monitor import Monitor, load_settings

from .feedserver import FeedServer
from .servicekit import numbered_feed
from .test_poll import write_sources

FEEDS = 10
ITEMS = 6


def monitor_cli(project: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", *args],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str]) -> str:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return out


@pytest.mark.slow
@pytest.mark.parametrize("kill_after", [0, 3, 7])
def test_kill_mid_round_then_repoll(
    project: Path, feed_server: FeedServer, kill_after: int
) -> None:
    prefix = f"k{uuid.uuid4().hex[:6]}"
    names = [f"{prefix}-{n}" for n in range(FEEDS)]
    for n, name in enumerate(names):
        feed_server.set_body(name, numbered_feed(prefix, n, ITEMS))
    urls = {name: feed_server.url(f"/feeds/{name}") for name in names}
    held = f"{prefix}-held"
    feed_server.set_body(held, numbered_feed(prefix, 99, ITEMS))
    # The held source answers only after the round is killed: the process stays mid-round.
    write_sources(project, {**urls, held: feed_server.url("/slow-headers?seconds=600")})
    config = project / "config" / "monitor.toml"
    config.write_text(
        config.read_text().replace("[poll]\n", "[poll]\nread_timeout = 600\ndeadline = 900\n"),
        encoding="utf-8",
    )
    assert finish(monitor_cli(project, "init"))

    proc = monitor_cli(project, "poll", "--all", "--chunk", "1")
    assert proc.stdout is not None
    seen = 0
    while seen < kill_after:
        line = proc.stdout.readline()
        assert line, proc.stderr.read() if proc.stderr else ""
        seen += line.startswith("checked ")
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)  # drains and closes the pipes

    # The held source is fixed; the next rounds pick up whatever the killed one left due.
    write_sources(project, {**urls, held: feed_server.url(f"/feeds/{held}")})
    finish(monitor_cli(project, "sync"))
    finish(monitor_cli(project, "poll"))
    finish(monitor_cli(project, "poll", "--all"))

    settings = load_settings(config, env={})
    with Monitor.open(settings) as monitor:
        rows = list(monitor.store.iter_rows())
        discovered = [json.loads(r[6])["item_id"] for r in rows if r[4] == "ItemDiscovered"]
        proposed = [json.loads(r[6])["proposal_id"] for r in rows if r[4] == "EvidenceProposed"]
        assert len(discovered) == (FEEDS + 1) * ITEMS
        assert Counter(discovered).most_common(1)[0][1] == 1
        assert Counter(proposed).most_common(1)[0][1] == 1
        assert len(proposed) == len(discovered) * 2  # SEMI-01 and SEMI-02 for every item
        assert monitor.verify().ok
        health = {s.name: s for s in monitor.sources.all()}
        assert all(health[n].items_seen == ITEMS for n in [*names, held])
        assert monitor.sources.due() == []
