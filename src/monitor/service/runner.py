"""`monitor serve`: one process that schedules the work and serves the web UI.

Start-up: check the configuration files (nothing is written if one is wrong), warn about
each private file or folder that others may read, take the scheduler lease (SQLite: refuse
when another service holds it), migrate, sync the catalogue and sources, then start the
jobs (when leading) and the web server.

Shutdown on SIGTERM or SIGINT: stop taking new work, let a poll round end after the chunk
it is writing (the rest stays due), wait for running jobs at most a few seconds, release
the lease, exit 0. Every write is one transaction, so a kill at any moment leaves no
partial write either.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType

import uvicorn

from monitor import files, private_files
from monitor.clock import Clock
from monitor.core import Monitor
from monitor.domain import catalogue as catalogue_rules
from monitor.errors import MonitorError
from monitor.service.health import Health
from monitor.service.jobs import Jobs
from monitor.service.lease import Lease, lease_for
from monitor.settings import Settings
from monitor.sources import config as source_config
from monitor.version import __version__

log = logging.getLogger("monitor.service")

#: how long after SIGTERM shutdown waits for the web server and running jobs before it
#: leaves them (the promise is an exit within 10 s)
SHUTDOWN_WAIT_SECONDS = 7.0


class ServiceRefused(MonitorError):
    """The service cannot start here (another one holds this database)."""


def check_files(settings: Settings) -> None:
    """Parse the catalogue and the sources file, so a mistake stops start-up before a write."""
    catalogue = settings.catalogue
    parsed = catalogue_rules.parse_catalogue(
        files.read_text(catalogue, "the catalogue"), catalogue.name
    )
    rules = {c.commitment_id: c.match for c in parsed.commitments}
    sources = settings.sources
    if sources.exists():  # optional: sources may all live in the database
        source_config.parse_sources(
            files.read_text(sources, "the sources file"),
            sources.name,
            rules.get,
            allow_private=settings.allow_private_addresses,
        )


class Service:
    """The parts of one running service, and their order of start and stop."""

    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self.stop = threading.Event()
        self.health = Health(settings.service.tick_seconds)
        self.monitor: Monitor | None = None
        self.lease: Lease | None = None
        self.jobs: Jobs | None = None
        self._leader: threading.Thread | None = None
        self._stopping_since: float | None = None

    def start(self) -> Monitor:
        """Everything up to serving: checks, lease (SQLite), migration, sync, jobs."""
        check_files(self.settings)
        monitor = self.monitor = Monitor.open(self.settings, self.clock)
        # After the open: a database that existed is connected, its -wal and -shm made.
        for warning in private_files.exposed(self.settings):
            log.warning("%s", warning)
        lease = self.lease = lease_for(monitor.engine)
        if lease.kind == "file lock" and not lease.acquire():
            raise ServiceRefused(
                f"another `monitor serve` ({lease.holder()}) already runs on this database: "
                "stop it first (one service per SQLite file; PostgreSQL allows several hosts)"
            )
        before, after = monitor.migrate()
        if before != after:
            log.info("database schema upgraded from %s to %s", before or "nothing", after)
        report = monitor.sync(reason="catalogue changed (synced by monitor serve at start-up)")
        monitor.sources.sync()
        if report.changed:
            log.info(
                "catalogue synced: %d registered, %d revised, %d retired, %d reinstated",
                len(report.registered),
                len(report.revised),
                len(report.retired),
                len(report.reinstated),
            )
        self.jobs = Jobs(monitor, self.health, self.stop)
        self._leader = threading.Thread(target=self._lead, name="monitor-lease", daemon=True)
        self._leader.start()
        return monitor

    def _lead(self) -> None:
        """Hold the lease and schedule while holding it; otherwise stand by and retry."""
        assert self.lease is not None
        assert self.jobs is not None
        retry = self.settings.service.standby_retry_seconds
        announced = False
        while not self.stop.is_set():
            try:
                if self.jobs.running:
                    if not self.lease.held():
                        self.jobs.pause()
                        self.health.set_role("standby")
                        log.warning("lost the scheduler lease: standing by")
                elif self.lease.acquire():
                    if self.stop.is_set():
                        break
                    self.health.set_role("leader")
                    log.info("holding the scheduler lease (%s): scheduling", self.lease.kind)
                    self.jobs.start()
                else:
                    self.health.set_role("standby")
                    if not announced:
                        log.info(
                            "standing by: %s holds the scheduler lease; retrying every %gs",
                            self.lease.holder(),
                            retry,
                        )
                        announced = True
            except Exception:
                # This thread ending would leave the service without a scheduler for good.
                log.exception("the scheduler lease check failed; trying again")
            self.stop.wait(retry)

    def request_stop(self) -> None:
        if not self.stop.is_set():
            self._stopping_since = time.monotonic()
            if self.jobs is not None:  # (a refusal at start-up has nothing to stop)
                log.info("stopping: no new work; the running job ends at its next safe point")
        self.health.set_role("stopping")
        self.stop.set()

    def close(self) -> bool:
        """Stop the jobs (waiting a little for running ones), release the lease.

        False when a job was still running at the deadline and was left behind: the caller
        must then end the process at once (concurrent.futures would otherwise wait for the
        job's thread at interpreter exit, however long it takes).
        """
        self.request_stop()
        deadline = (self._stopping_since or time.monotonic()) + SHUTDOWN_WAIT_SECONDS
        if self._leader is not None:
            # First, so that it cannot start the jobs again while they are shut down.
            self._leader.join(max(0.0, min(2.0, deadline - time.monotonic())))
        finished = True
        if self.jobs is not None:
            finished = self.jobs.shutdown(max(0.0, deadline - time.monotonic()))
            if not finished:
                log.warning(
                    "a job did not end within %gs of the stop: leaving it (its work stays due)",
                    SHUTDOWN_WAIT_SECONDS,
                )
        if self.lease is not None:
            self.lease.release()
        if self.monitor is not None and finished:
            self.monitor.close()
        if self.jobs is not None:
            log.info("stopped")
        return finished


def serve(settings: Settings, *, web: bool = True, clock: Clock | None = None) -> int:
    """Run the service until SIGTERM or SIGINT; returns the exit code."""
    if web:  # before the scheduler starts: a taken port is a mistake to say, not a crash
        from monitor.service.ports import check_free

        check_free(settings.service.web_host, settings.service.web_port)
    service = Service(settings, clock)
    log.info("monitor %s starting (config: %s)", __version__, settings.config_file or "defaults")
    if clock is not None:
        log.warning(
            "the service's clock is set (MONITOR_CLOCK_START / MONITOR_CLOCK_SPEED): it now "
            "reads %s; for trying out and tests only",
            clock.now().isoformat(timespec="seconds"),
        )
    _on_signals(lambda: service.request_stop())
    try:
        monitor = service.start()
        if not service.stop.is_set():
            if web:
                _serve_web(monitor, service)
            else:
                log.info("running without the web UI (--no-web)")
                # Short waits: the kernel may deliver SIGTERM to any thread, and then the
                # Python handler runs only when the main thread next runs bytecode; a main
                # thread asleep in one long wait would miss it for that long.
                while not service.stop.wait(0.2):
                    pass
    except BaseException as exc:
        if not service.close():
            log.error("%s", exc)
            _exit_now(1)
        raise
    if not service.close():
        _exit_now(0)
    return 0


def _exit_now(code: int) -> None:
    """End the process now, leaving a running job behind (every write is one transaction)."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _serve_web(monitor: Monitor, service: Service) -> None:
    from monitor.web import create_app
    from monitor.web.security import secret_key
    from monitor.web.server import server_config

    options = service.settings.service
    app = create_app(
        monitor,
        secret_key=secret_key(service.settings.data_dir),
        secure_cookies=options.web_https,
        health=service.health,
    )
    config = server_config(
        app,
        options.web_host,
        options.web_port,
        log_config=None,  # ours: stdout, the configured level and format
        timeout_graceful_shutdown=2,
        lifespan="off",
    )
    server = _Server(config, service.request_stop, service.stop)
    log.info("web UI on http://%s:%d/", options.web_host, options.web_port)
    server.run()
    if not service.stop.is_set():
        # uvicorn ended by itself (e.g. the port was taken): the service ends with it.
        raise MonitorError(
            f"the web server stopped: is {options.web_host}:{options.web_port} free? "
            "(web.host / web.port)"
        )


class _Server(uvicorn.Server):
    """uvicorn's server, telling the service as soon as a signal asks it to stop, and
    stopping when the service stops (a signal that came before uvicorn took its handlers)."""

    def __init__(
        self, config: uvicorn.Config, on_exit: Callable[[], None], stop: threading.Event
    ) -> None:
        super().__init__(config)
        self._on_exit = on_exit
        self._stop = stop

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self._on_exit()
        super().handle_exit(sig, frame)

    async def on_tick(self, counter: int) -> bool:
        if self._stop.is_set():
            self.should_exit = True
        return await super().on_tick(counter)


def _on_signals(handler: Callable[[], None]) -> None:
    def handle(signum: int, frame: FrameType | None) -> None:
        handler()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, handle)
