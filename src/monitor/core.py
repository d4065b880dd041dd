"""The composition root: builds each capability with what it needs, and nothing else.

``Monitor`` owns the database engine and the journal's store, and hands each capability a
small context (:mod:`monitor.application.context`) and the peers it names:
:class:`~monitor.application.commitments.Commitments` (the catalogue, commands and queries
on commitments), :class:`~monitor.application.journal.Journal` (schema, verify, export,
import, rebuild), :class:`~monitor.application.sources.Sources` (sources and polling),
:class:`~monitor.application.matching.Matching` (the rules, explain, evaluate, rematch),
:class:`~monitor.application.review.Review` (the queue, decisions, undo),
:class:`~monitor.application.accounts.Accounts` and
:class:`~monitor.application.digests.Digests`. The methods it offers are theirs, bound
here so that the command line, the web UI and the scheduler call one core
(docs/architecture.md). It has no logic of its own.
"""

from __future__ import annotations

import json
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from monitor.application.commitments import Commitments, History, SyncReport
from monitor.application.context import AppContext
from monitor.application.journal import Journal
from monitor.clock import Clock, SystemClock
from monitor.projections.commitments import CommitmentProjection
from monitor.settings import Settings
from monitor.shapes import show_record
from monitor.snapshots import Snapshots
from monitor.store.database import make_engine
from monitor.store.sql import SqlEventStore
from monitor.writes import Writer

if TYPE_CHECKING:
    from datetime import datetime

    from monitor.application.accounts import Accounts
    from monitor.application.digests import DigestResult, Digests
    from monitor.application.idempotency import Idempotency
    from monitor.application.matching import Matching
    from monitor.application.report import Report, Reports
    from monitor.application.review import Review
    from monitor.application.sources import Sources
    from monitor.digest.config import Recipient
    from monitor.projections.items import IntakeProjection
    from monitor.projections.learning import LearningProjection
    from monitor.projections.runner import Projection

__all__ = ["History", "Monitor", "SyncReport", "dumps", "show_record"]


class Monitor:
    """Build one per process with :meth:`open`; it owns the engine."""

    def __init__(self, settings: Settings, engine: Engine, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.engine = engine
        self.store = SqlEventStore(engine, self.clock)
        self.projection = CommitmentProjection(self.store)
        #: the one write path (load, decide, append at the version read, retry, catch up)
        self.writer = Writer(
            self.store,
            after=self.projection.catch_up,
            snapshots=Snapshots(settings.data_dir / "snapshots"),
        )
        self.journal = Journal(
            settings,
            engine,
            self.store,
            self.writer,
            read_models=self._read_models,
            followed=self._followed_read_models,
        )
        #: what each capability is given: settings, clock, database, journal, write path
        self.context = AppContext(
            settings, self.clock, engine, self.store, self.writer, self.journal.require_schema
        )
        self.commitments = Commitments(
            self.context, self.projection, waiting=lambda: self.item_views.catch_up()
        )
        # the capabilities' operations, offered here (bound methods: typed, no logic)
        journal, commitments = self.journal, self.commitments
        self.migrate = journal.migrate
        self.require_schema = journal.require_schema
        self.verify = journal.verify
        self.export = journal.export
        self.import_journal = journal.import_journal
        self.rebuild = journal.rebuild
        self.last_position = journal.last_position
        self.short_event_ids = journal.short_event_ids
        self.projection_lag = journal.projection_lag
        self.catch_up_a_little = journal.catch_up_a_little
        self.database_summary = journal.database_summary
        self.sync = commitments.sync
        self.load = commitments.load
        self.set_status = commitments.set_status
        self.correct_assessment = commitments.correct_assessment
        self.withdraw_assessment = commitments.withdraw_assessment
        self.add_note = commitments.add_note
        self.check_deadlines = commitments.check_deadlines
        self.retract_evidence = commitments.retract_evidence
        self.unsupported = commitments.unsupported
        self.list_commitments = commitments.list_commitments
        self.counts = commitments.counts
        self.status_over_time = commitments.status_over_time
        self.overview = commitments.overview
        self.timeline = commitments.timeline
        self.show = commitments.show
        self.history = commitments.history

    # The capabilities below are built on first use: a command that lists commitments loads
    # neither the matcher and the fetcher (sources, matching, review) nor the mail and
    # template stack (digests).

    @cached_property
    def reports(self) -> Reports:
        """The scorecard (`monitor report`), built on first use."""
        from monitor.application.report import Reports

        return Reports(self.commitments, self.journal.head, lambda: self.settings.timezone)

    def report(
        self, as_of: datetime, *, clock: str = "effective", since: datetime | None = None
    ) -> Report:
        """The scorecard as of a moment: :meth:`Reports.build`."""
        return self.reports.build(as_of, clock=clock, since=since)

    @cached_property
    def item_views(self) -> IntakeProjection:
        """The read model of sources, items, proposals and stories."""
        from monitor.projections.items import IntakeProjection

        return IntakeProjection(self.store)

    @cached_property
    def learning(self) -> LearningProjection:
        """The read model of what reviewers' decisions teach the rules."""
        from monitor.projections.learning import LearningProjection

        return LearningProjection(self.store)

    @cached_property
    def matching(self) -> Matching:
        from monitor.application.matching import Matching

        return Matching(self.context, self.commitments, self.item_views, self.learning)

    @cached_property
    def sources(self) -> Sources:
        from monitor.application.sources import Sources

        return Sources(self.context, self.item_views, self.matching)

    @cached_property
    def review(self) -> Review:
        from monitor.application.review import Review

        return Review(self.context, self.commitments, self.item_views)

    @cached_property
    def accounts(self) -> Accounts:
        from monitor.application.accounts import Accounts

        return Accounts(self.context)

    @cached_property
    def idempotency(self) -> Idempotency:
        """The JSON API's answers remembered by Idempotency-Key."""
        from monitor.application.idempotency import Idempotency

        return Idempotency(self.context)

    @cached_property
    def digests(self) -> Digests:
        from monitor.application.digests import Digests
        from monitor.digest.contents import Reads

        reads = Reads(
            self.context,
            self.commitments,
            waiting=lambda: self.item_views.catch_up(),
            sources=lambda: self.sources.all(),
        )
        return Digests(self.context, reads)

    def _read_models(self) -> list[Projection]:
        return [self.projection, self.item_views, self.learning]

    def _followed_read_models(self) -> list[Projection]:
        return [self.projection, self.item_views]

    @classmethod
    def open(cls, settings: Settings, clock: Clock | None = None) -> Monitor:
        """Connect to the configured database (nothing is created until :meth:`init`)."""
        engine = make_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
        return cls(settings, engine, clock)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def init(self, reason: str | None = None) -> SyncReport:
        """Create/upgrade the database, load the catalogue and the sources file."""
        self.migrate()
        report = self.sync(reason)
        self.sources.sync()
        return report

    def send_due_digests(self, now: datetime) -> list[DigestResult]:
        """Send every digest due at ``now``: the scheduler's entry point (one per tick)."""
        return self.digests.send_due(now)

    def next_digest_due(self, recipient: Recipient | str, now: datetime) -> datetime:
        """When ``recipient``'s next digest is due, in UTC (``<= now`` means now)."""
        return self.digests.next_due(recipient, now)


def dumps(value: Any) -> str:
    """JSON for ``--json`` output."""
    return json.dumps(value, ensure_ascii=False, indent=2, default=str)
