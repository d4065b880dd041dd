"""Poll rounds: fetch due sources concurrently, parse (on every core), record as results come.

The round's results are written in chunks as fetches complete, each chunk one transaction,
so a crash loses at most the chunk in flight and the next round redoes exactly that: the
sources of a lost chunk have no new check recorded (they are still due) and every item and
proposal event has an id derived from what it records.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from monitor.clock import Clock
from monitor.domain.check_plan import (
    Lookup,
    PreparedItem,
    SourcePlan,
    SourceState,
    plan_check,
    prepare_items,
)
from monitor.errors import ConcurrencyError, EventIdConflict
from monitor.matching import Matcher
from monitor.projections import item_queries, source_queries
from monitor.projections.items import IntakeProjection, SourceView
from monitor.sources.fetch import Fetcher
from monitor.sources.limits import FetchLimits, FetchResult, Validators
from monitor.sources.parse import ParsedFeed, parse_feed
from monitor.store.sql import SqlEventStore


@dataclass(frozen=True, slots=True)
class Fetched:
    """One source's fetch, parsed, its items identified and matched."""

    source: SourceView
    result: FetchResult
    parsed: ParsedFeed | None
    prepared: tuple[PreparedItem, ...]
    duration_ms: int


@dataclass(slots=True)
class PollReport:
    """What a round did."""

    sources: int = 0
    ok: int = 0
    not_modified: int = 0
    failed: int = 0
    items_new: int = 0
    items_revised: int = 0
    proposals: int = 0
    skipped: list[str] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    #: the round was stopped (shutdown): sources not reported here were left untouched
    stopped: bool = False

    def add(self, plan: SourcePlan) -> None:
        self.sources += 1
        if plan.outcome == "ok":
            self.ok += 1
        elif plan.outcome == "not_modified":
            self.not_modified += 1
        else:
            self.failed += 1
            self.failures.append((plan.name, plan.error or "failed"))
        self.items_new += plan.items_new
        self.items_revised += plan.items_revised
        self.proposals += plan.proposals


class Recorded(Protocol):
    def __call__(self, plan: SourcePlan, done: int, total: int) -> None: ...


_worker_matcher: Matcher | None = None


def _address_space_in_use() -> int:
    """Bytes of address space this process has mapped (0 where /proc does not say)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _start_worker(parent: int, matcher: Matcher, memory: int) -> None:
    """Worker initializer: keep the round's matcher, cap memory, die with the poller.

    The cap is ``memory`` more than the worker has mapped when it starts: a forked worker
    inherits the poller's mappings (the Japanese dictionary alone maps a few hundred MB), and
    what must be bounded is what parsing one hostile feed adds.
    """
    global _worker_matcher
    _worker_matcher = matcher
    try:
        import resource

        cap = _address_space_in_use() + memory
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            cap = min(cap, hard)
        if soft == resource.RLIM_INFINITY or soft > cap:
            resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    except (ImportError, ValueError, OSError):  # not on this platform: the timeout still holds
        pass
    _exit_with_parent(parent)


def _exit_with_parent(parent: int) -> None:
    """Worker initializer: a parse worker never outlives the poll that started it.

    If the poller is killed (kill -9, OOM), its workers would otherwise wait forever on a
    queue no one writes to, holding its pipes and memory.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _parse_job(
    body: bytes, url: str, content_type: str | None, now: datetime
) -> tuple[ParsedFeed, tuple[PreparedItem, ...]]:
    """Parse a body and prepare its items (runs in a worker process)."""
    matcher = _worker_matcher
    assert matcher is not None
    try:
        parsed = parse_feed(body, url=url, content_type=content_type, now=now)
        return parsed, prepare_items(parsed, matcher, now)
    except MemoryError:
        failed = ParsedFeed("unknown", "", (), "not a feed: parsing needed too much memory", False)
        return failed, ()
    except Exception as exc:  # a feed must never crash a poll: its trouble is its health
        problem = f"not a feed: could not parse ({type(exc).__name__})"
        return ParsedFeed("unknown", "", (), problem, False), ()


class Poller:
    """Runs poll rounds against one store."""

    def __init__(
        self,
        store: SqlEventStore,
        intake: IntakeProjection,
        clock: Clock,
        matcher: Callable[[], Matcher],
        *,
        limits: FetchLimits | None = None,
        allow_private_addresses: bool = False,
        chunk: int = 50,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.intake = intake
        self.clock = clock
        self.matcher = matcher
        self.limits = limits or FetchLimits()
        self.allow_private_addresses = allow_private_addresses
        self.chunk = max(1, chunk)
        self.rng = rng or random.Random()  # noqa: S311 (jitter, not secrets)

    # -- a round -------------------------------------------------------------------------

    def run(
        self,
        sources: Sequence[SourceView],
        on_recorded: Recorded | None = None,
        stop: threading.Event | None = None,
    ) -> PollReport:
        """Check ``sources`` once each; returns the round's report.

        When ``stop`` is set the round ends after the chunk being written: fetches in
        flight are cancelled and nothing more is recorded (``report.stopped``).
        """
        report = PollReport()
        if not sources:
            return report
        self._stop = stop or threading.Event()
        self.intake.catch_up()
        matcher = self.matcher()
        self._pool: ProcessPoolExecutor | None = None
        self._workers = max(1, min(os.cpu_count() or 1, 4, len(sources)))
        try:
            asyncio.run(self._round(sources, matcher, report, on_recorded))
        finally:
            if self._pool is not None:
                if self._stop.is_set():
                    # Stopping: a parse still running is abandoned, not waited for (its
                    # timeout went with the cancelled fetch); nothing of it was written.
                    self._discard_pool(self._pool)
                else:
                    self._pool.shutdown(cancel_futures=True)
        return report

    def _parse_pool(self, matcher: Matcher) -> ProcessPoolExecutor:
        """The worker processes, started when the first body needs parsing (a round of
        304s never pays for them). Parsing never runs on the event loop: a slow parse
        would stall every other fetch and eat their deadlines."""
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self._workers,
                mp_context=multiprocessing.get_context("fork"),
                initializer=_start_worker,
                initargs=(os.getpid(), matcher, self.limits.parse_memory),
            )
        return self._pool

    def _discard_pool(self, pool: ProcessPoolExecutor) -> None:
        """Kill a pool whose worker is stuck in a runaway parse; the next parse starts anew."""
        # ProcessPoolExecutor cannot cancel a running call: its workers must be killed.
        for process in list(getattr(pool, "_processes", {}).values()):
            process.kill()
        pool.shutdown(wait=False, cancel_futures=True)
        if self._pool is pool:
            self._pool = None

    async def _parse(
        self, args: tuple[bytes, str, str | None], now: datetime, matcher: Matcher
    ) -> tuple[ParsedFeed, tuple[PreparedItem, ...]]:
        loop = asyncio.get_running_loop()
        for _attempt in range(2):
            pool = self._parse_pool(matcher)
            try:
                return await asyncio.wait_for(
                    loop.run_in_executor(pool, _parse_job, *args, now),
                    self.limits.parse_timeout,
                )
            except TimeoutError:
                self._discard_pool(pool)
                problem = f"not a feed: parsing took over {self.limits.parse_timeout:g} s"
                return ParsedFeed("unknown", "", (), problem, False), ()
            except BrokenProcessPool:
                # Another feed's runaway parse took the pool down: parse this one again.
                self._discard_pool(pool)
        return ParsedFeed("unknown", "", (), "not a feed: the parser kept dying", False), ()

    async def _round(
        self,
        sources: Sequence[SourceView],
        matcher: Matcher,
        report: PollReport,
        on_recorded: Recorded | None,
    ) -> None:
        pending: list[Fetched] = []
        total = len(sources)
        async with Fetcher(
            self.limits, allow_private_addresses=self.allow_private_addresses
        ) as fetcher:
            tasks = [asyncio.ensure_future(self._fetch(fetcher, s, matcher)) for s in sources]
            watcher = asyncio.ensure_future(self._watch_stop(tasks))
            try:
                for next_done in asyncio.as_completed(tasks):
                    try:
                        pending.append(await next_done)
                    except asyncio.CancelledError:
                        break  # stopping: the cancelled fetches are abandoned
                    if self._stop.is_set():
                        break
                    if len(pending) >= self.chunk:
                        self._record(pending, matcher, report, on_recorded, total)
                        pending = []
                if pending and not self._stop.is_set():
                    self._record(pending, matcher, report, on_recorded, total)
            finally:
                watcher.cancel()
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, watcher, return_exceptions=True)
        report.stopped = self._stop.is_set()

    async def _watch_stop(self, tasks: Sequence[asyncio.Future[Fetched]]) -> None:
        """Cancel the round's fetches once ``stop`` is set (checked ten times a second)."""
        while not self._stop.is_set():
            await asyncio.sleep(0.1)
        for task in tasks:
            task.cancel()

    async def _fetch(self, fetcher: Fetcher, source: SourceView, matcher: Matcher) -> Fetched:
        start = time.monotonic()
        result = await fetcher.fetch(source.url, Validators(source.etag, source.last_modified))
        parsed: ParsedFeed | None = None
        prepared: tuple[PreparedItem, ...] = ()
        if result.outcome == "ok":
            args = (result.body, result.final_url or source.url, result.content_type)
            parsed, prepared = await self._parse(args, self.clock.now(), matcher)
        elapsed = int((time.monotonic() - start) * 1000)
        return Fetched(source, result, parsed, prepared, elapsed)

    # -- recording -----------------------------------------------------------------------

    def _record(
        self,
        fetched: list[Fetched],
        matcher: Matcher,
        report: PollReport,
        on_recorded: Recorded | None,
        total: int,
    ) -> None:
        plans = self._plan(fetched, matcher)
        try:
            self.store.append_batch([a for p in plans for a in p.appends])
        except (ConcurrencyError, EventIdConflict):
            # Something else wrote to one of these streams meanwhile: redo each source on
            # fresh state; a source that still conflicts stays due for the next round.
            plans = [self._record_alone(one, matcher, report) for one in fetched]
        self.intake.catch_up()
        for plan in plans:
            report.add(plan)
            if on_recorded is not None:
                on_recorded(plan, report.sources, total)

    def _record_alone(self, one: Fetched, matcher: Matcher, report: PollReport) -> SourcePlan:
        """One source's check on fresh state; if the store keeps moving under it, record
        the failure in its health (so it is never silently dropped) and leave it due."""
        for _attempt in range(3):
            self.intake.catch_up()
            [plan] = self._plan([one], matcher, fresh=True)
            try:
                self.store.append_batch(plan.appends)
            except (ConcurrencyError, EventIdConflict):
                continue
            return plan
        report.skipped.append(one.source.name)
        conflict = FetchResult(
            one.result.url,
            "failed",
            status=one.result.status,
            error="could not record this check: its streams kept changing; retrying later",
        )
        [plan] = self._plan(
            [Fetched(one.source, conflict, None, (), one.duration_ms)], matcher, fresh=True
        )
        # Even the health event may race: then the source stays due, and the report says so.
        with contextlib.suppress(ConcurrencyError, EventIdConflict):
            self.store.append_batch(plan.appends)
        return plan

    def _plan(
        self, fetched: list[Fetched], matcher: Matcher, fresh: bool = False
    ) -> list[SourcePlan]:
        lookup = self._lookup(fetched)
        # The round started from the views of its start; after a conflict, read them again.
        versions = self._source_versions([f.source.name for f in fetched]) if fresh else {}
        now = self.clock.now()
        plans = []
        for one in fetched:
            source = one.source
            state = SourceState(
                source.name,
                source.url,
                source.interval_seconds,
                versions.get(source.name, source.version),
                source.consecutive_failures,
            )
            plans.append(
                plan_check(
                    state,
                    one.result,
                    one.parsed,
                    one.prepared,
                    lookup,
                    matcher.version,
                    now=now,
                    duration_ms=one.duration_ms,
                    rng=self.rng,
                )
            )
        return plans

    def _source_versions(self, names: list[str]) -> dict[str, int]:
        with self.store.read_transaction() as conn:
            return source_queries.versions(conn, names)

    def _lookup(self, fetched: Iterable[Fetched]) -> Lookup:
        """Seen-state for these sources' items: their keys, URLs known anywhere, proposals."""
        keys: set[tuple[str, str]] = set()
        urls: set[str] = set()
        for f in fetched:
            for ready in f.prepared:
                keys.add((f.source.name, ready.key))
                if ready.canonical_url:
                    urls.add(ready.canonical_url)
        if not keys:
            return Lookup()  # a round of 304s and failures: nothing to look up
        with self.store.read_transaction() as conn:
            return item_queries.lookup(conn, keys, urls)
