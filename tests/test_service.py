"""`monitor serve` as users run it: a real subprocess, real feeds, a real SMTP server.

Schedules are compressed with MONITOR_CLOCK_START / MONITOR_CLOCK_SPEED (the service's
clock runs fast; the store's recorded_at stays real time). Every wait is on a log line or
an event, never a sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import text

from monitor import Monitor, load_settings
from monitor.service.health import Health
from monitor.service.jobs import Jobs, _counted
from monitor.service.lease import FileLease
from monitor.service.runner import _Server
from monitor.web import create_app

from .conftest import ALLOW_LOOPBACK
from .digestkit import configure
from .feedserver import FeedServer, RecordedRequest
from .servicekit import ServiceProcess, numbered_feed, write_service_config
from .smtpserver import SmtpServer, free_port
from .test_poll import write_sources

T0 = datetime(2026, 1, 15, 6, 58, tzinfo=UTC)
RECIPIENT = {"address": "ana@example.org", "name": "Ana", "timezone": "UTC", "send_time": "07:00"}


def serve_feeds(feed_server: FeedServer, prefix: str, count: int, items: int) -> dict[str, str]:
    names = [f"{prefix}-{n}" for n in range(count)]
    for n, name in enumerate(names):
        feed_server.set_body(name, numbered_feed(prefix, n, items))
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
        assert {s.name: s.items_seen for s in monitor.sources.all()} == {
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
    config = project / "config" / "monitor.toml"
    config.write_text(
        config.read_text().replace("[poll]\n", "[poll]\nread_timeout = 300\ndeadline = 300\n")
    )
    write_service_config(project)
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
            # The round itself was stopped (not merely the service afterwards).
            assert any("(stopped: the rest stays due)" in line for line in service.lines)
    finally:
        feed_server.on_request = None
    with open_store(project) as monitor:
        assert monitor.verify().ok
        due = {s.name for s in monitor.sources.due()}
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
    # The feed server answers the six fetches of a round on six threads: without the lock
    # two increments can interleave so that no thread ever sees the target count.
    counting = threading.Lock()

    def kill_at_target(request: RecordedRequest) -> None:
        if not request.path.startswith(f"/feeds/{prefix}-"):
            return
        with counting:
            if not victim:
                return
            seen["requests"] += 1
            if seen["requests"] == target[0]:
                victim[0].proc.kill()  # SIGKILL while this request is being answered

    feed_server.on_request = kill_at_target
    try:
        for moment in range(20):
            # Somewhere in the first three rounds: mid-fetch, between rounds, mid-write.
            with counting:
                seen["requests"] = 0
                target[0] = rng.randint(1, 3 * feeds)
            # News between runs: a new item in one feed.
            n = rng.randrange(feeds)
            items[n] += 1
            feed_server.set_body(f"{prefix}-{n}", numbered_feed(prefix, n, items[n]))
            # Each run starts an hour of schedule later: every source is overdue at once.
            start = T0 + timedelta(hours=moment)
            with ServiceProcess(project, "--no-web", clock_start=start, clock_speed=600) as service:
                with counting:
                    victim[:] = [service]
                service.wait_for(r"holding the scheduler lease")
                code = service.proc.wait(timeout=60)
                with counting:
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
    (project / "config" / "monitor.toml").write_text(
        '[display]\ntimezone = "UTC"\n\n' + ALLOW_LOOPBACK
    )
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
    assert result.returncode == 2  # a mistake in the configuration: exit 2
    assert result.stderr.strip().splitlines() == [
        "error: service.tick_seconds: '-1' is not a number from 0.05 to 3600"
    ]
    assert not (project / "data").exists()  # nothing written, not even a database


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)  # several hosts: PG only
def test_two_services_on_postgres_one_schedules_the_other_takes_over(
    project: Path, feed_server: FeedServer, database_url: str
) -> None:
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


@pytest.mark.slow
def test_sigterm_while_a_digest_waits_on_a_silent_smtp_server_exits_within_10_s(
    project: Path,
) -> None:
    # An SMTP server that accepts the connection and then never says a word.
    silent = socket.create_server(("127.0.0.1", 0))
    connected = threading.Event()
    held: list[socket.socket] = []

    def accept() -> None:
        with contextlib.suppress(OSError):  # closed at the end of the test
            held.append(silent.accept()[0])
            connected.set()

    threading.Thread(target=accept, daemon=True).start()
    write_service_config(project)
    configure(project, [RECIPIENT], smtp_port=silent.getsockname()[1], smtp={"timeout": 120})
    start = datetime(2026, 1, 15, 8, 0, tzinfo=UTC)  # 07:00 has passed: the digest is due
    try:
        with ServiceProcess(project, clock_start=start) as service:
            service.wait_for(r"holding the scheduler lease")
            assert connected.wait(30)  # the digest job now waits on the SMTP greeting
            assert service.terminate(timeout=10) == 0  # exit code 0, and within 10 s
            assert any("leaving it" in line for line in service.lines)
    finally:
        silent.close()
        for connection in held:
            connection.close()


def test_a_stop_while_a_job_re_arms_itself_does_not_hang(monitor: Monitor) -> None:
    """APScheduler 3's shutdown(wait=True) holds the job-store lock that add_job needs."""
    stop = threading.Event()
    jobs = Jobs(monitor, Health(1.0), stop)
    working, finish = threading.Event(), threading.Event()

    @_counted
    def re_arming(self: Jobs) -> None:
        # Shaped like the digest job: do the work, then re-arm for the next run.
        working.set()
        finish.wait(10)
        self._schedule(job, "re-arming", self._real_now() + timedelta(hours=1))

    job = functools.partial(re_arming, jobs)
    jobs._schedule(job, "re-arming", jobs._real_now())
    jobs.scheduler.start()
    jobs.running = True
    assert working.wait(10)  # running, about to re-arm
    # Taking the job-store lock waits for the scheduler's own pass to end (it removes the
    # run-once job): a shutdown inside that pass is an APScheduler race of its own.
    assert jobs.scheduler.get_job("re-arming") is None
    stop.set()
    finished: list[bool] = []
    waiter = threading.Thread(target=lambda: finished.append(jobs.shutdown(10)))
    waiter.start()
    waiter.join(0.5)  # the shutdown is under way
    finish.set()  # the job re-arms now
    waiter.join(15)
    assert not waiter.is_alive()
    assert finished == [True]


def test_a_failing_digest_or_deadline_run_still_re_arms(monitor: Monitor) -> None:
    """A DateTrigger job that raises is gone for good: the jobs must re-arm whatever happens."""
    jobs = Jobs(monitor, Health(1.0), threading.Event())
    # Real faults: a recipient since removed from the configuration (a MonitorError), and
    # a read model gone from under the service (the driver's own error, not a MonitorError).
    cascade = " CASCADE" if monitor.engine.dialect.name == "postgresql" else ""
    with monitor.engine.begin() as conn:
        conn.execute(text(f"DROP TABLE commitment_view{cascade}"))
    jobs.digest("ana@example.org")
    jobs.deadlines()
    soon = datetime.now(UTC) + timedelta(minutes=2)
    runs = {job.id: job.trigger.run_date for job in jobs.scheduler.get_jobs()}
    assert set(runs) == {"digest:ana@example.org", "deadlines"}
    assert all(when < soon for when in runs.values())  # a minute later, not tomorrow


def test_the_sqlite_lease_does_not_outlive_a_killed_holder_in_its_forked_children(
    tmp_path: Path,
) -> None:
    """A parse worker (forked) must not keep the lock of a `monitor serve` killed with -9."""
    path = tmp_path / "monitor.sqlite3.serve.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os, signal, sys\n"
            "from pathlib import Path\n"
            "from monitor.service.lease import FileLease\n"
            "lease = FileLease(Path(sys.argv[1]))\n"
            "assert lease.acquire()\n"
            "child = os.fork()\n"
            "if child == 0:\n"
            "    signal.pause()\n"
            "    os._exit(0)\n"
            "print(child, flush=True)\n"
            "signal.pause()\n",
            str(path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    child = int(holder.stdout.readline())
    try:
        assert not FileLease(path).acquire()  # held while the holder lives
        holder.kill()
        holder.wait(10)
        lease = FileLease(path)
        assert lease.acquire()  # though the forked child still runs
        lease.release()
    finally:
        holder.kill()
        holder.wait(10)
        holder.stdout.close()
        os.kill(child, signal.SIGKILL)


def test_readyz_names_no_database_detail(tmp_path: Path) -> None:
    # A database that refuses connections: its driver's message names host, port and user.
    config = tmp_path / "monitor.toml"
    config.write_text(
        '[database]\ndatabase_url = "postgresql://monitor@127.0.0.1:1/gone?connect_timeout=2"\n'
    )
    health = Health(1.0)
    health.set_role("leader")
    with Monitor.open(load_settings(config, env={})) as unreachable:
        app = create_app(unreachable, secret_key="test-key", health=health)

        async def ask() -> httpx.Response:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                return await client.get("/readyz")

        answer = asyncio.run(ask())
    assert answer.status_code == 503
    assert answer.json()["reason"] == "the database is unreachable"
    assert "127.0.0.1" not in answer.text
    assert "monitor@" not in answer.text


def test_the_web_server_stops_when_the_service_stopped_before_it_took_the_signals() -> None:
    stop = threading.Event()

    async def app(scope: object, receive: object, send: object) -> None:
        return None

    server = _Server(uvicorn.Config(app), lambda: None, stop)
    assert asyncio.run(server.on_tick(1)) is False
    stop.set()  # e.g. SIGTERM between the start-up and uvicorn's own handlers
    assert asyncio.run(server.on_tick(1)) is True


def test_a_long_poll_round_is_not_scheduler_lag() -> None:
    health = Health(tick_seconds=1.0)
    health.set_role("leader")
    health.last_tick = time.monotonic() - 600  # the last tick began ten minutes ago
    assert health.ready() == (False, "the scheduler is 599 s behind")
    health.poll_started()  # ...because its round is still running: on time
    assert (health.lag(), health.ready()) == (0.0, (True, ""))
    assert health.snapshot()["polling_for_seconds"] is not None
    health.poll_finished()
    assert health.ready()[0] is False


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)  # PostgreSQL's lease
def test_a_forked_parse_worker_does_not_keep_the_postgres_lease(database_url: str) -> None:
    from monitor.service.lease import AdvisoryLease
    from monitor.store.database import make_engine

    engine = make_engine(database_url)
    lease = AdvisoryLease(engine)
    try:
        assert lease.acquire()
        socket_fd = lease._fd
        child = os.fork()
        if child == 0:  # the child sees /dev/null where the lease's socket was
            os._exit(0 if os.readlink(f"/proc/self/fd/{socket_fd}") == "/dev/null" else 1)
        _pid, status = os.waitpid(child, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert os.readlink(f"/proc/self/fd/{socket_fd}").startswith("socket:")
        assert lease.held()  # the leader's session is untouched
    finally:
        lease.release()
        engine.dispose()


def test_readyz_is_not_ready_while_the_read_models_lag_the_journal(monitor: Monitor) -> None:
    """Ready means the pages show the journal: 26 events behind used to be "ready"."""
    import uuid as uuid_

    from monitor.events import NoteAdded, commitment_stream, to_new_event
    from monitor.store.records import StreamAppend

    health = Health(1.0)
    health.set_role("web only")
    app = create_app(monitor, secret_key="test-key", health=health)

    async def ask() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get("/readyz")

    assert asyncio.run(ask()).status_code == 200
    stream = commitment_stream("EPCC23-SC-01")
    notes = tuple(
        to_new_event(
            NoteAdded(
                commitment_id="EPCC23-SC-01", note_id=uuid_.uuid4(), text="n", author="elsewhere"
            ),
            {"actor": "elsewhere"},
        )
        for _ in range(26)
    )
    # written as another process would, whose read models have not caught up yet; a
    # probe folds one batch (made small here) and says how far the rest is behind
    monitor.store.append_batch([StreamAppend(stream, notes, monitor.store.stream_version(stream))])
    for read_model in (monitor.projection, monitor.item_views):
        read_model.batch_size = 4
    reasons = [asyncio.run(ask()).json().get("reason") for _ in range(3)]
    assert reasons == [f"the read models are {n} events behind the journal" for n in (22, 18, 14)]
    answer = asyncio.run(ask())  # 10 behind: within service.ready_events_behind
    assert (answer.status_code, answer.json()["events_behind"]) == (200, 10)
