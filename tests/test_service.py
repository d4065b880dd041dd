"""`monitor serve` as users run it: a real subprocess, real feeds, a real SMTP server.

Schedules are compressed with MONITOR_CLOCK_START / MONITOR_CLOCK_SPEED (the service's
clock runs fast; the store's recorded_at stays real time). Every wait is on a log line or
an event, never a sleep.
"""

from __future__ import annotations

import random
import subprocess
import sys
import threading
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from monitor import Monitor, load_settings

from .digestkit import configure
from .feedserver import FeedServer, RecordedRequest
from .servicekit import ServiceProcess, write_service_config, write_sources
from .smtpserver import SmtpServer, free_port

T0 = datetime(2026, 1, 15, 6, 58, tzinfo=UTC)
RECIPIENT = {"address": "ana@example.org", "name": "Ana", "timezone": "UTC", "send_time": "07:00"}


def feed(prefix: str, n: int, items: int) -> bytes:
    entries = "".join(
        f"<item><title>{prefix} feed {n} item {i}: legacy chips and the Economic 2+2</title>"
        f"<guid>{prefix}-f{n}-i{i}</guid><link>https://example.org/{prefix}/{n}/{i}</link>"
        "<pubDate>Mon, 05 Jan 2026 09:00:00 GMT</pubDate></item>"
        for i in range(items)
    )
    return f'<rss version="2.0"><channel><title>f{n}</title>{entries}</channel></rss>'.encode()


def serve_feeds(feed_server: FeedServer, prefix: str, count: int, items: int) -> dict[str, str]:
    names = [f"{prefix}-{n}" for n in range(count)]
    for n, name in enumerate(names):
        feed_server.set_body(name, feed(prefix, n, items))
    return {name: feed_server.url(f"/feeds/{name}") for name in names}


def open_store(project: Path) -> Monitor:
    return Monitor.open(load_settings(project / "config" / "monitor.toml", env={}))


@pytest.mark.slow
def test_polls_on_a_compressed_schedule_and_a_digest_arrives(
    project: Path, feed_server: FeedServer
) -> None:
    prefix = f"s{uuid.uuid4().hex[:6]}"
    write_sources(project, serve_feeds(feed_server, prefix, 2, 3), interval="5m")
    port = free_port()
    write_service_config(project, port=port)
    with SmtpServer() as smtp:
        configure(project, [RECIPIENT], smtp_port=smtp.port)
        # 300x: a source's 5 minutes pass in one second; the 07:00 digest is 0.4 s away.
        with ServiceProcess(project, clock_start=T0, clock_speed=300) as service:
            service.wait_for(r"holding the scheduler lease")
            service.wait_for_all(r"polled 2 source\(s\): 2 changed", r"digest sent for ana@")
            service.wait_for(r"polled 2 source\(s\): 0 changed, 2 not modified")  # due again
            live = httpx.get(f"http://127.0.0.1:{port}/healthz").json()
            ready = httpx.get(f"http://127.0.0.1:{port}/readyz")
            assert live == {"status": "ok", "role": "leader"}
            assert ready.status_code == 200
            assert ready.json()["last_poll"]["sources"] == 2
            assert ready.json()["memory_rss_mib"] > 0
            assert service.terminate() == 0
        [message] = smtp.received
        assert message.rcpt_tos == ["ana@example.org"]
    with open_store(project) as monitor:
        assert monitor.verify().ok
        assert {s.name: s.items_seen for s in monitor.intake.sources()} == {
            f"{prefix}-0": 3,
            f"{prefix}-1": 3,
        }


@pytest.mark.slow
def test_sigterm_during_a_poll_exits_cleanly(project: Path, feed_server: FeedServer) -> None:
    prefix = f"t{uuid.uuid4().hex[:6]}"
    urls = serve_feeds(feed_server, prefix, 1, 2)
    slow = {
        f"{prefix}-slow{n}": feed_server.url(f"/slow-headers?seconds=120&n={n}") for n in (1, 2)
    }
    write_sources(project, {**urls, **slow})
    write_service_config(project, extra="\n[poll]\nread_timeout = 300\ndeadline = 300\n")
    in_flight = threading.Event()

    def note(request: RecordedRequest) -> None:
        if request.path == "/slow-headers":
            in_flight.set()

    feed_server.on_request = note
    try:
        with ServiceProcess(project, "--no-web") as service:
            service.wait_for(r"polling 3 due source\(s\)")
            assert in_flight.wait(30)
            assert service.terminate() == 0  # within 10 s, though fetches were in flight
            assert any("stopped" in line for line in service.lines)
    finally:
        feed_server.on_request = None
    with open_store(project) as monitor:
        assert monitor.verify().ok
        due = {s.name for s in monitor.intake.due()}
        assert set(slow) <= due  # abandoned untouched: the next start polls them


@pytest.mark.slow
def test_kill_9_at_twenty_moments_loses_and_duplicates_nothing(
    project: Path, feed_server: FeedServer
) -> None:
    rng = random.Random(20)
    prefix = f"k{uuid.uuid4().hex[:6]}"
    feeds = 6
    items = dict.fromkeys(range(feeds), 3)
    write_sources(project, serve_feeds(feed_server, prefix, feeds, 3), interval="5m")
    write_service_config(project, tick=0.1)
    seen = Counter[str]()
    victim: list[ServiceProcess] = []
    target = [0]

    def kill_at_target(request: RecordedRequest) -> None:
        if not request.path.startswith(f"/feeds/{prefix}-") or not victim:
            return
        seen["requests"] += 1
        if seen["requests"] == target[0]:
            victim[0].proc.kill()  # SIGKILL while this request is being answered

    feed_server.on_request = kill_at_target
    try:
        for moment in range(20):
            # Somewhere in the first three rounds: mid-fetch, between rounds, mid-write.
            seen["requests"] = 0
            target[0] = rng.randint(1, 3 * feeds)
            # News between runs: a new item in one feed.
            n = rng.randrange(feeds)
            items[n] += 1
            feed_server.set_body(f"{prefix}-{n}", feed(prefix, n, items[n]))
            # Each run starts an hour of schedule later: every source is overdue at once.
            start = T0 + timedelta(hours=moment)
            with ServiceProcess(project, "--no-web", clock_start=start, clock_speed=600) as service:
                victim[:] = [service]
                service.wait_for(r"holding the scheduler lease")
                code = service.proc.wait(timeout=60)
                victim.clear()
                assert code == -9, f"moment {moment}: exited {code}\n{service.log()}"
        # A last, undisturbed run, a day later: every feed is overdue, so one round polls
        # them all after the last change.
        later = T0 + timedelta(days=1)
        with ServiceProcess(project, "--no-web", clock_start=later, clock_speed=600) as service:
            service.wait_for(rf"polled {feeds} source\(s\): .* 0 failed")
            assert service.terminate() == 0
    finally:
        feed_server.on_request = None
    with open_store(project) as monitor:
        report = monitor.verify()
        assert report.ok, report
        discovered = [
            (e.data["source"], e.data["key"])
            for e in monitor.store.read_recent(100_000, event_type="ItemDiscovered")
            if e.data["source"].startswith(prefix)
        ]
    assert len(discovered) == len(set(discovered))  # nothing twice
    expected = {
        (f"{prefix}-{n}", f"guid:{prefix}-f{n}-i{i}") for n in range(feeds) for i in range(items[n])
    }
    assert set(discovered) == expected  # nothing lost


@pytest.mark.slow
def test_three_days_down_give_one_catch_up_digest_and_one_poll_per_source(
    project: Path, feed_server: FeedServer
) -> None:
    prefix = f"d{uuid.uuid4().hex[:6]}"
    write_sources(project, serve_feeds(feed_server, prefix, 3, 2), interval="30m")
    write_service_config(project)
    start = datetime(2026, 1, 15, 8, 0, tzinfo=UTC)  # 07:00 has passed: today's digest is due
    with SmtpServer() as smtp:
        configure(project, [RECIPIENT], smtp_port=smtp.port)
        with ServiceProcess(project, "--no-web", clock_start=start) as service:
            service.wait_for_all(r"polled 3 source\(s\)", r"digest sent for ana@example\.org")
            assert service.terminate() == 0
        before = feed_server.count(f"/feeds/{prefix}-")
        # Three days later (nothing ran meanwhile).
        with ServiceProcess(project, "--no-web", clock_start=start + timedelta(days=3)) as service:
            service.wait_for_all(r"polled 3 source\(s\)", r"digest sent for ana@example\.org")
            assert service.terminate() == 0
        assert feed_server.count(f"/feeds/{prefix}-") - before == 3  # once each, not 144
        first, catch_up = smtp.received
        assert first.message["Subject"].startswith("monitor digest Thu 15 Jan 2026")
        assert catch_up.message["Subject"].startswith("monitor catch-up to Sun 18 Jan 2026")
    assert sum("digest sent" in line for line in service.lines) == 1


def test_a_second_service_on_one_sqlite_file_refuses(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    project = tmp_path / "p"
    (project / "config").mkdir(parents=True)
    (project / "config" / "commitments.toml").write_text(
        (Path(__file__).parent.parent / "config" / "commitments.toml").read_text()
    )
    (project / "config" / "monitor.toml").write_text('[display]\ntimezone = "UTC"\n')
    write_service_config(project)
    with ServiceProcess(project, "--no-web") as first:
        first.wait_for(r"holding the scheduler lease")
        second = subprocess.run(
            [sys.executable, "-m", "monitor", "serve", "--no-web"],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 1
        assert "another `monitor serve` (process" in second.stderr
        assert first.terminate() == 0


def test_bad_configuration_names_the_key_and_writes_nothing(tmp_path: Path) -> None:
    project = tmp_path / "p"
    (project / "config").mkdir(parents=True)
    (project / "config" / "monitor.toml").write_text("[service]\ntick_seconds = -1\n")
    result = subprocess.run(
        [sys.executable, "-m", "monitor", "serve"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: service.tick_seconds: '-1' is not a number from 0.05 to 3600"
    ]
    assert not (project / "data").exists()  # nothing written, not even a database


@pytest.mark.slow
@pytest.mark.postgres
def test_two_services_on_postgres_one_schedules_the_other_takes_over(
    project: Path, feed_server: FeedServer, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("several hosts share a database only on PostgreSQL")
    prefix = f"h{uuid.uuid4().hex[:6]}"
    write_sources(project, serve_feeds(feed_server, prefix, 2, 2), interval="5m")
    write_service_config(project, tick=0.1)
    leader_line = r"holding the scheduler lease \(advisory lock\)"
    with ServiceProcess(project, "--no-web", clock_start=T0, clock_speed=600) as first:
        first.wait_for(leader_line)
        with ServiceProcess(project, "--no-web", clock_start=T0, clock_speed=600) as second:
            second.wait_for(r"standing by: PostgreSQL backend \d+ holds the scheduler lease")
            first.wait_for(r"polled 2 source\(s\)")
            first.wait_for(r"polled 2 source\(s\): 0 changed")
            first.kill()
            second.wait_for(leader_line, timeout=30)  # takes over within 30 s
            second.wait_for(r"polled 2 source\(s\)")
            assert second.terminate() == 0
    # While the first led, the second polled nothing.
    taken_over = next(i for i, line in enumerate(second.lines) if "holding" in line)
    assert not any("polled" in line for line in second.lines[:taken_over])


def test_the_systemd_unit_runs_the_service_hardened() -> None:
    unit = (Path(__file__).parent.parent / "deploy" / "monitor.service").read_text()
    lines = {
        line.split("=", 1)[0]: line.split("=", 1)[1]
        for line in unit.splitlines()
        if "=" in line and not line.startswith("#")
    }
    assert lines["ExecStart"].endswith("/monitor serve")
    assert lines["KillSignal"] == "SIGTERM"
    for directive, value in {
        "User": "monitor",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "CapabilityBoundingSet": "",
        "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
    }.items():
        assert lines[directive] == value, directive
    assert "MONITOR_SMTP_PASSWORD" not in lines.get("Environment", "")  # secrets: EnvironmentFile
