"""The commitments capability: the catalogue's sync, every command on a commitment (through
the one write path, :mod:`monitor.writes`) and the queries on the commitments' read model.

It is given a small context (settings, clock, database, journal, write path), the
commitments' read model, and one peer: ``waiting``, which brings the review queue's read
model up to date for the dashboard's count of waiting proposals.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

from monitor import files
from monitor.errors import CommandRejected, NotFound, unknown
from monitor.ids import resolve
from monitor.projections import commitment_queries as queries
from monitor.projections import overview
from monitor.projections.commitments import (
    CommitmentProjection,
    CommitmentView,
    TimelineView,
)
from monitor.status import Status
from monitor.store.records import RecordedEvent, StreamAppend
from monitor.streams import commitment_stream
from monitor.writes import COMMITMENT, Loaded

# The deciders and the event types are imported by the commands that decide or fold: a
# query on the read model (`monitor list`) loads neither.
if TYPE_CHECKING:
    from monitor.application.context import Context
    from monitor.domain import commitment as rules
    from monitor.domain.commitment import CommitmentState
    from monitor.events import DomainEvent


@dataclass(frozen=True, slots=True)
class SyncReport:
    """What ``sync`` recorded, per kind of change."""

    registered: list[str] = field(default_factory=list)
    revised: dict[str, list[str]] = field(default_factory=dict)
    retired: list[str] = field(default_factory=list)
    reinstated: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.registered or self.revised or self.retired or self.reinstated)


@dataclass(frozen=True, slots=True)
class History:
    """A commitment's state as of a moment, by either clock, with the events folded."""

    commitment_id: str
    as_of: datetime
    clock: str
    status: Status
    assessment: rules.Assessment | None
    events: list[tuple[RecordedEvent, DomainEvent]]


class Commitments:
    """Commands and queries on commitments (reached as ``Monitor.commitments``)."""

    def __init__(
        self,
        context: Context,
        projection: CommitmentProjection,
        *,
        waiting: Callable[[], object] = lambda: None,
    ) -> None:
        self.context = context
        self.settings = context.settings
        self.clock = context.clock
        self.engine = context.engine
        self.store = context.store
        self.writer = context.writer
        self.projection = projection
        self.waiting = waiting
        self._overview_cache: overview.Figures | None = None

    def require_schema(self) -> None:
        self.context.require_schema()

    def sync(self, reason: str | None = None, path: Path | None = None) -> SyncReport:
        """Bring recorded history in line with the catalogue file, all or nothing."""
        source = path or self.settings.catalogue
        body = files.read_text(source, "the catalogue")
        from monitor.domain import catalogue as catalogue_rules

        parsed = catalogue_rules.parse_catalogue(body, _display_path(source))
        self.require_schema()
        self.projection.catch_up()
        known = queries.commitment_ids(self.engine)
        planned: dict[str, list[DomainEvent]] = {}

        def decide(loaded: Loaded) -> list[StreamAppend]:
            # every commitment in the catalogue or the journal, each at the version read
            states = {
                cid: loaded.state(commitment_stream(cid), COMMITMENT)
                for cid in sorted({*known, *(spec.commitment_id for spec in parsed.commitments)})
            }
            states = {cid: state for cid, state in states.items() if state.version}
            planned.clear()
            planned.update(catalogue_rules.plan_sync(parsed, states, reason))
            meta = self._meta("catalogue-sync")
            return [
                loaded.append(commitment_stream(cid), events, meta)
                for cid, events in planned.items()
            ]

        self.writer.run(decide, what="the catalogue")
        return _sync_report(planned)

    def load(self, commitment_id: str) -> CommitmentState:
        """Fold one commitment's stream (an unknown id gives an empty state)."""
        from monitor.domain.commitment import context_of, fold
        from monitor.events import REGISTRY

        events = self.store.read_stream(commitment_stream(commitment_id))
        return fold(commitment_id, ((REGISTRY.decode(e), context_of(e)) for e in events))

    def _execute(
        self,
        commitment_id: str,
        decide: Callable[[CommitmentState], list[DomainEvent]],
        actor: str,
    ) -> list[RecordedEvent]:
        self.require_schema()

        def decide_if_known(state: CommitmentState) -> list[DomainEvent]:
            if not state.exists:
                raise self._unknown(commitment_id)
            return decide(state)

        return self.writer.execute(
            commitment_stream(commitment_id),
            COMMITMENT,
            decide_if_known,
            self._meta(actor),
            what=commitment_id,
        )

    def set_status(
        self,
        commitment_id: str,
        status: str,
        *,
        rationale: str,
        by: str,
        effective_at: datetime,
        evidence: Sequence[str] = (),
        note: str | None = None,
    ) -> list[RecordedEvent]:
        """Assess a status; ``evidence`` holds URLs or ids of accepted evidence."""
        from monitor.domain import commitment as rules

        urls, ids = _split_evidence(evidence)
        return self._execute(
            commitment_id,
            lambda state: rules.assess_status(
                state,
                status=status,
                rationale=rationale,
                assessor=by,
                effective_at=effective_at,
                now=self.clock.now(),
                zone=self.settings.timezone,
                evidence_urls=urls,
                evidence_ids=ids,
                note=note,
            ),
            by,
        )

    def correct_assessment(
        self,
        commitment_id: str,
        assessment_id: UUID | str,
        status: str,
        *,
        rationale: str,
        reason: str,
        by: str,
        effective_at: datetime | None = None,
    ) -> list[RecordedEvent]:
        """Correct an earlier assessment (its id, or at least 8 characters of it) with a new
        event; without ``effective_at`` the corrected assessment keeps its date."""
        from monitor.domain import commitment as rules

        def decide(state: CommitmentState) -> list[DomainEvent]:
            found = resolve(assessment_id, state.assessments, "assessment")
            old = state.assessments.get(found)
            when = effective_at or (old.effective_at if old is not None else None)
            if when is None:
                raise NotFound(f"no assessment {found} on {commitment_id}")
            return rules.correct_assessment(
                state,
                assessment_id=found,
                status=status,
                rationale=rationale,
                effective_at=when,
                corrected_by=by,
                reason=reason,
                now=self.clock.now(),
                zone=self.settings.timezone,
            )

        return self._execute(commitment_id, decide, by)

    def withdraw_assessment(
        self, commitment_id: str, assessment_id: UUID | str, *, reason: str, by: str
    ) -> list[RecordedEvent]:
        """Take an assessment out of the status history (a new event; nothing is deleted)."""
        from monitor.domain import commitment as rules

        return self._execute(
            commitment_id,
            lambda state: rules.withdraw_assessment(
                state,
                assessment_id=resolve(assessment_id, state.assessments, "assessment"),
                reason=reason,
                by=by,
            ),
            by,
        )

    def add_note(self, commitment_id: str, text_: str, *, by: str) -> list[RecordedEvent]:
        """Attach a note to a commitment."""
        from monitor.domain import commitment as rules

        return self._execute(
            commitment_id, lambda state: rules.add_note(state, text=text_, author=by), by
        )

    def check_deadlines(self) -> list[RecordedEvent]:
        """Record DeadlinePassed for every active commitment whose deadline day is over.

        The daily job of `monitor serve`; safe to run often and from several processes at
        once (each deadline is recorded once: a second writer finds it already there).
        """
        from monitor.domain import commitment as rules

        self.require_schema()
        self.projection.catch_up()
        ids = queries.active_with_deadline(self.engine)
        now, zone = self.clock.now(), self.settings.timezone
        recorded: list[RecordedEvent] = []
        for commitment_id in ids:
            if rules.check_deadline(self.load(commitment_id), now, zone):
                recorded += self._execute(
                    commitment_id,
                    lambda state: rules.check_deadline(state, now, zone),
                    "monitor",
                )
        return recorded

    def retract_evidence(
        self, commitment_id: str, evidence_id: UUID | str, *, reason: str, by: str
    ) -> list[RecordedEvent]:
        """Withdraw accepted evidence (its id, or at least 8 characters of it)."""
        from monitor.domain import commitment as rules

        return self._execute(
            commitment_id,
            lambda state: rules.retract_evidence(
                state,
                evidence_id=resolve(evidence_id, state.evidence, "evidence"),
                reason=reason,
                by=by,
            ),
            by,
        )

    def unsupported(self, commitment_id: str) -> str | None:
        """A warning when the status in force rests on evidence that is all retracted now
        (after `evidence retract`): the status stands, but nothing supports it."""
        state = self.load(commitment_id)
        latest = state.latest_assessment()
        if latest is None or not latest.evidence_ids:
            return None
        live = {e.evidence_id for e in state.live_evidence()}
        if live.intersection(latest.evidence_ids):
            return None
        return (
            f"the status in force ({latest.status.value}, assessment "
            f"{str(latest.assessment_id)[:8]}) now rests on no evidence: assess it again "
            "with new evidence, or withdraw it"
        )

    def _meta(self, actor: str) -> dict[str, Any]:
        return {"actor": actor.strip() or "unknown"}

    def known_id(self, given: str) -> str:
        """The commitment id ``given`` names, compared without regard to case (a filter's
        ``semi-03`` is ``SEMI-03``); an unknown one is refused with the nearest known."""
        self.require_schema()
        self.projection.catch_up()
        known = queries.commitment_ids(self.engine)
        found = {k.casefold(): k for k in known}.get(given.strip().casefold())
        if found is None:
            raise unknown("commitment", given, known)
        return found

    def _unknown(self, commitment_id: str) -> NotFound:
        """The error for an id that names no commitment, with the nearest that does."""
        return unknown("commitment", commitment_id, queries.commitment_ids(self.engine))

    def list_commitments(
        self, status: str | None = None, topic: str | None = None, include_retired: bool = False
    ) -> list[CommitmentView]:
        """The catalogue with current status, filtered."""
        self.require_schema()
        if status is not None and status not in {s.value for s in Status}:
            raise CommandRejected(
                f"unknown status {status!r} (one of: {', '.join(s.value for s in Status)})"
            )
        self.projection.catch_up()
        if topic:
            known = queries.topics(self.engine)
            if topic.casefold() not in {t.casefold() for t in known}:
                raise unknown("topic", topic, known)
        return queries.commitments(
            self.engine, status=status, topic=topic, include_retired=include_retired
        )

    def counts(self) -> dict[str, dict[str, int]]:
        """Active commitments by status, and by topic and status."""
        self.require_schema()
        self.projection.catch_up()
        return overview.counts(self.engine)

    def status_over_time(self, months: int = overview.CHART_MONTHS) -> list[overview.ChartPoint]:
        """Active commitments by status at each month's end (effective time), oldest first.

        Read from the assessments read model: no commitment's stream is folded per request.
        """
        self.require_schema()
        self.projection.catch_up()
        zone = self.settings.timezone
        today = self.clock.now().astimezone(zone).date()
        return overview.status_over_time(self.engine, today, zone, months)

    def overview(self, page: int = 1, per_page: int = 50) -> overview.Overview:
        """The dashboard: totals and the chart for all commitments, one page of rows.

        One catch-up per read model and one snapshot for every figure (the counts and the
        chart kept while no commitment and not the day has changed).
        """
        if page < 1 or per_page < 1:
            raise CommandRejected("page and rows per page start at 1")
        self.require_schema()
        self.projection.catch_up()
        self.waiting()
        figures, self._overview_cache = overview.dashboard(
            self.engine,
            page=page,
            per_page=per_page,
            now=self.clock.now(),
            zone=self.settings.timezone,
            cached=self._overview_cache,
        )
        return figures

    def timeline(self, commitment_id: str) -> list[TimelineView]:
        """The commitment's recorded events in order, as one-line summaries."""
        self.require_schema()
        self.projection.catch_up()
        return queries.timeline(self.engine, commitment_id)

    def show(self, commitment_id: str) -> tuple[CommitmentState, list[TimelineView]]:
        """Everything about one commitment: its folded state and its timeline."""
        self.require_schema()
        state = self.load(commitment_id)
        if not state.exists:
            raise self._unknown(commitment_id)
        return state, self.timeline(commitment_id)

    def history(self, commitment_id: str, as_of: datetime, clock: str = "effective") -> History:
        """The status as of ``as_of``: by when things happened, or by what we had recorded."""
        from monitor.domain.commitment import context_of, fold
        from monitor.events import REGISTRY

        self.require_schema()
        if clock not in ("effective", "recorded"):
            raise CommandRejected("clock must be 'effective' or 'recorded'")
        events = self.store.read_stream(commitment_stream(commitment_id))
        if not events:
            raise self._unknown(commitment_id)
        decoded = [(e, REGISTRY.decode(e)) for e in events]
        if clock == "recorded":
            # What we showed then: only what had been recorded by that moment.
            decoded = [(e, d) for e, d in decoded if e.recorded_at <= as_of]
        state = fold(commitment_id, ((d, context_of(e)) for e, d in decoded))
        assessment = state.latest_assessment(as_of)
        status = assessment.status if assessment else Status.NOT_YET_ASSESSED
        return History(commitment_id, as_of, clock, status, assessment, decoded)


def _split_evidence(evidence: Sequence[str]) -> tuple[list[str], list[UUID]]:
    urls: list[str] = []
    ids: list[UUID] = []
    for item in evidence:
        try:
            ids.append(UUID(item))
        except ValueError:
            urls.append(item)
    return urls, ids


def _sync_report(plan: dict[str, list[DomainEvent]]) -> SyncReport:
    from monitor.events import (
        CommitmentRegistered,
        CommitmentReinstated,
        CommitmentRetired,
        CommitmentRevised,
    )

    report = SyncReport()
    for cid, events in sorted(plan.items()):
        for event in events:
            if isinstance(event, CommitmentRegistered):
                report.registered.append(cid)
            elif isinstance(event, CommitmentRevised):
                report.revised[cid] = sorted(event.changes)
            elif isinstance(event, CommitmentRetired):
                report.retired.append(cid)
            elif isinstance(event, CommitmentReinstated):
                report.reinstated.append(cid)
    return report


def _display_path(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
