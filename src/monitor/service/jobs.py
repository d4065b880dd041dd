"""The service's jobs on APScheduler: the poll tick, a digest job per recipient, deadlines.

What is due lives in the store, not in APScheduler: a source's next check time comes from
its last SourceChecked, a recipient's next digest from their digest stream, a deadline from
the commitment. APScheduler only says when to look (in memory, rebuilt at every start), so
a restart loses nothing and work that fell due while the service was down runs once:
the first tick polls every overdue source once, the digest jobs start with one catch-up
digest per recipient, and the deadline check runs at start-up.

Every job runs at most one instance at a time and coalesces missed runs into one; the tick
may be late by up to one interval before a run is skipped (the next one comes anyway); a
digest or deadline run is never skipped however late it is.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from monitor.clock import real_seconds_until
from monitor.errors import MonitorError
from monitor.service.health import Health

if TYPE_CHECKING:
    from monitor.core import Monitor

log = logging.getLogger("monitor.service")

#: APScheduler's state of a scheduler that is not running (never started, or shut down)
STATE_STOPPED = 0

#: how soon a job whose run failed looks again (on the monitor's clock)
RETRY_AFTER = timedelta(minutes=1)

P = ParamSpec("P")


def _counted(method: Callable[Concatenate[Jobs, P], None]) -> Callable[Concatenate[Jobs, P], None]:
    """A job body that :meth:`Jobs.shutdown` can wait for; it does not start once stopping."""

    def run(self: Jobs, /, *args: P.args, **kwargs: P.kwargs) -> None:
        with self._idle:
            if self.stop.is_set():
                return  # queued before the stop: its work stays due for the next start
            self._active += 1
        try:
            method(self, *args, **kwargs)
        finally:
            with self._idle:
                self._active -= 1
                self._idle.notify_all()

    return run


class Jobs:
    """APScheduler wired to one Monitor; started when this process holds the lease."""

    def __init__(self, monitor: Monitor, health: Health, stop: threading.Event) -> None:
        self.monitor = monitor
        self.health = health
        self.stop = stop
        self.settings = monitor.settings.service
        self.scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(4)},
            job_defaults={"coalesce": True, "max_instances": 1},
            timezone="UTC",
        )
        self.running = False
        self._lifecycle = threading.Lock()  # start, pause and shutdown: one at a time
        self._idle = threading.Condition()
        self._active = 0  # job bodies running now

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        """Schedule every job, each due at once (overdue work runs now, once)."""
        with self._lifecycle:
            if self.running or self.stop.is_set():
                return
            self._start()

    def _start(self) -> None:
        now = self._real_now()
        self.scheduler.add_job(
            self.tick,
            IntervalTrigger(seconds=self.settings.tick_seconds),
            id="poll",
            name="poll due sources",
            next_run_time=now,
            misfire_grace_time=max(1, int(self.settings.tick_seconds)),
        )
        for recipient in self.monitor.digests.recipients:
            self._schedule(self.digest, f"digest:{recipient.address}", now, recipient.address)
        self._schedule(self.deadlines, "deadlines", now)
        if self.scheduler.state == STATE_STOPPED:
            self.scheduler.start()
        else:
            self.scheduler.resume()
        self.running = True
        log.info(
            "scheduler started: a tick every %gs, %d digest recipient(s)",
            self.settings.tick_seconds,
            len(self.monitor.digests.recipients),
        )

    def pause(self) -> None:
        """Stop scheduling (the lease was lost): running jobs finish, no new ones start."""
        with self._lifecycle:
            if self.running:
                self.scheduler.remove_all_jobs()
                self.scheduler.pause()
                self.running = False

    def shutdown(self, timeout: float) -> bool:
        """Stop the scheduler; wait up to ``timeout`` s for running jobs (False: still running).

        Never ``scheduler.shutdown(wait=True)``: APScheduler 3 holds its job-store lock while
        it waits for running jobs, and a digest or deadline job that re-arms itself needs that
        lock (``add_job``), so a SIGTERM just as one finished would hang the service for good.
        """
        with self._lifecycle:
            if self.scheduler.state != STATE_STOPPED:
                self.scheduler.shutdown(wait=False)
            self.running = False
        with self._idle:
            return self._idle.wait_for(lambda: self._active == 0, timeout)

    # -- jobs --------------------------------------------------------------------------

    @_counted
    def tick(self) -> None:
        """Poll the sources that are due now."""
        self.health.ticked()
        if self.stop.is_set():
            return
        try:
            due = self.monitor.sources.due()
            if not due:
                return
            log.info("polling %d due source(s)", len(due))
            self.health.poll_started()
            try:
                report = self.monitor.sources.poll(due, stop=self.stop)
            finally:
                self.health.poll_finished()
        except Exception as exc:
            log.error("poll failed: %s", exc, exc_info=not _expected(exc))
            return
        now = self.monitor.clock.now()
        self.health.polled(now, report.sources, report.failed, report.stopped)
        log.info(
            "polled %d source(s): %d changed, %d not modified, %d failed; %d new item(s), "
            "%d proposal(s)%s",
            report.sources,
            report.ok,
            report.not_modified,
            report.failed,
            report.items_new,
            report.proposals,
            " (stopped: the rest stays due)" if report.stopped else "",
        )

    @_counted
    def digest(self, address: str) -> None:
        """Send this recipient's digest if due (a catch-up covers any gap), then re-arm.

        It re-arms whatever went wrong: a DateTrigger job that raises is gone for good, and
        the recipient would get no digest until the next restart.
        """
        now = self.monitor.clock.now()
        try:
            results = self.monitor.digests.send_due(now, only=address)
        except Exception as exc:
            log.error("digest for %s failed: %s", address, exc, exc_info=not _expected(exc))
            results = []
        outcomes: dict[str, int] = {}
        for result in results:
            if result.outcome == "not due":
                continue
            outcomes[result.outcome] = outcomes.get(result.outcome, 0) + 1
            where = f" to {result.destination}" if result.destination else ""
            problem = f": {result.error}" if result.error else ""
            log.info("digest %s for %s%s%s", result.outcome, address, where, problem)
        if outcomes:
            self.health.digested(now, outcomes)
        if self.stop.is_set():
            return
        # A failed delivery is retried by the next run: no sooner than a minute from now.
        floor = self.monitor.clock.now() + RETRY_AFTER
        try:
            due = max(self.monitor.digests.next_due(address, self.monitor.clock.now()), floor)
        except Exception as exc:  # the database went away: look again in a minute
            log.error("digest for %s: next run unknown (%s); retrying", address, exc)
            due = floor
        self._schedule(self.digest, f"digest:{address}", self._real(due), address)

    @_counted
    def deadlines(self) -> None:
        """Record passed deadlines, then re-arm for the next local check time.

        A failed check re-arms too, a minute later (not tomorrow at the check time).
        """
        failed = False
        try:
            recorded = self.monitor.check_deadlines()
        except Exception as exc:
            log.error("deadline check failed: %s", exc, exc_info=not _expected(exc))
            recorded, failed = [], True
        now = self.monitor.clock.now()
        if not failed:
            self.health.deadlines_checked(now, len(recorded))
        for event in recorded:
            log.info("deadline passed: %s", event.data.get("commitment_id"))
        if not self.stop.is_set():
            again = now + RETRY_AFTER if failed else self._next_check(now)
            self._schedule(self.deadlines, "deadlines", self._real(again))

    # -- timing ------------------------------------------------------------------------

    def _next_check(self, now: datetime) -> datetime:
        """The next daily check time, in the display time zone, after ``now``."""
        zone = self.monitor.settings.timezone
        local = now.astimezone(zone)
        moment = datetime.combine(local.date(), self.settings.deadline_check, tzinfo=zone)
        if moment <= local:
            moment = datetime.combine(
                local.date() + timedelta(days=1), self.settings.deadline_check, tzinfo=zone
            )
        return moment

    def _real_now(self) -> datetime:
        return datetime.now(self.scheduler.timezone)

    def _real(self, moment: datetime) -> datetime:
        """The wall-clock time at which the monitor's clock shows ``moment``."""
        seconds = real_seconds_until(self.monitor.clock, moment)
        return self._real_now() + timedelta(seconds=seconds)

    def _schedule(self, fn: Any, job_id: str, run_at: datetime, *args: Any) -> None:
        self.scheduler.add_job(
            fn,
            DateTrigger(run_date=run_at),
            args=args,
            id=job_id,
            name=job_id,
            replace_existing=True,
            misfire_grace_time=None,  # however late: a digest or a check is never skipped
        )


def _expected(exc: BaseException) -> bool:
    """Trouble the service expects (the database away, ...): no traceback in the log."""
    return isinstance(exc, MonitorError)
