"""A commitment's history: fold its events into state, and decide what a command records.

Pure: no I/O, no clock of its own (``now`` is passed in). Decisions return new events or raise
:class:`CommandRejected` with a message that names everything that is missing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from functools import cache
from uuid import UUID, uuid4

from pydantic import HttpUrl, TypeAdapter, ValidationError

from monitor.errors import CommandRejected
from monitor.events import (
    AssessmentCorrected,
    AssessmentWithdrawn,
    CommitmentRegistered,
    CommitmentReinstated,
    CommitmentRetired,
    CommitmentRevised,
    DeadlinePassed,
    DomainEvent,
    EvidenceAccepted,
    EvidenceRetracted,
    NoteAdded,
    Status,
    StatusAssessed,
)
from monitor.store.records import RecordedEvent


@dataclass(frozen=True, slots=True)
class EventContext:
    """Where and when an event was stored (what the store adds to a payload)."""

    event_id: UUID
    position: int
    recorded_at: datetime
    actor: str | None = None


def context_of(event: RecordedEvent) -> EventContext:
    """The context a stored event folds with."""
    return EventContext(
        event.event_id, event.position, event.recorded_at, event.metadata.get("actor")
    )


@dataclass(frozen=True, slots=True)
class Assessment:
    """One status assessment as it stands after any corrections."""

    assessment_id: UUID
    status: Status
    rationale: str
    assessor: str
    effective_at: datetime
    recorded_at: datetime
    position: int
    evidence_ids: tuple[UUID, ...] = ()
    corrected: bool = False


@dataclass(frozen=True, slots=True)
class Evidence:
    """A piece of accepted evidence."""

    evidence_id: UUID
    url: str
    title: str | None
    accepted_by: str
    recorded_at: datetime
    retracted: bool = False
    #: where else the same story was told (a story group accepted as one)
    also_urls: tuple[str, ...] = ()


@dataclass(slots=True)
class CommitmentState:
    """Everything the rules need to know about one commitment."""

    commitment_id: str
    registration: CommitmentRegistered | None = None
    retired: bool = False
    version: int = 0
    assessments: dict[UUID, Assessment] = field(default_factory=dict)
    evidence: dict[UUID, Evidence] = field(default_factory=dict)
    notes: list[tuple[EventContext, NoteAdded]] = field(default_factory=list)
    #: deadline dates already recorded as passed
    deadlines_passed: set[date] = field(default_factory=set)

    @property
    def exists(self) -> bool:
        return self.registration is not None

    @property
    def made_on(self) -> date:
        assert self.registration is not None
        return self.registration.made_on

    def latest_assessment(self, as_of: datetime | None = None) -> Assessment | None:
        """The assessment in force at ``as_of`` (effective time), or now."""
        candidates = [
            a for a in self.assessments.values() if as_of is None or a.effective_at <= as_of
        ]
        if not candidates:
            return None
        return max(candidates, key=lambda a: (a.effective_at, a.position))

    def status(self, as_of: datetime | None = None) -> Status:
        latest = self.latest_assessment(as_of)
        return latest.status if latest else Status.NOT_YET_ASSESSED

    def live_evidence(self) -> list[Evidence]:
        return [e for e in self.evidence.values() if not e.retracted]


def apply(state: CommitmentState, event: DomainEvent, ctx: EventContext) -> CommitmentState:
    """Fold one event into the state (mutates and returns ``state``)."""
    state.version += 1
    if isinstance(event, CommitmentRegistered):
        state.registration = event
    elif isinstance(event, CommitmentRevised):
        assert state.registration is not None
        updates = {name: change.new for name, change in event.changes.items()}
        merged = state.registration.model_dump() | updates
        state.registration = CommitmentRegistered.model_validate(merged)
    elif isinstance(event, CommitmentRetired):
        state.retired = True
    elif isinstance(event, CommitmentReinstated):
        state.retired = False
    elif isinstance(event, EvidenceAccepted):
        state.evidence[event.evidence_id] = Evidence(
            event.evidence_id,
            str(event.url),
            event.title,
            event.accepted_by,
            ctx.recorded_at,
            also_urls=event.also_urls,
        )
    elif isinstance(event, EvidenceRetracted):
        old = state.evidence.get(event.evidence_id)
        if old is not None:
            state.evidence[event.evidence_id] = replace(old, retracted=True)
    elif isinstance(event, StatusAssessed):
        state.assessments[event.assessment_id] = Assessment(
            event.assessment_id,
            event.status,
            event.rationale,
            event.assessor,
            event.effective_at,
            ctx.recorded_at,
            ctx.position,
            event.evidence_ids,
        )
    elif isinstance(event, AssessmentCorrected):
        old_assessment = state.assessments.get(event.assessment_id)
        if old_assessment is not None:
            state.assessments[event.assessment_id] = replace(
                old_assessment,
                status=event.status,
                rationale=event.rationale,
                effective_at=event.effective_at,
                evidence_ids=event.evidence_ids or old_assessment.evidence_ids,
                corrected=True,
            )
    elif isinstance(event, AssessmentWithdrawn):
        state.assessments.pop(event.assessment_id, None)
    elif isinstance(event, NoteAdded):
        state.notes.append((ctx, event))
    elif isinstance(event, DeadlinePassed):
        state.deadlines_passed.add(event.deadline)
    return state


def check_deadline(state: CommitmentState, now: datetime, zone: tzinfo) -> list[DomainEvent]:
    """DeadlinePassed once the deadline's day is over in ``zone``, if not recorded yet.

    Retired commitments and those without a deadline give nothing; a deadline is recorded
    once per date (a revised deadline can pass again).
    """
    registration = state.registration
    if registration is None or state.retired or registration.deadline is None:
        return []
    deadline = registration.deadline
    if deadline >= now.astimezone(zone).date() or deadline in state.deadlines_passed:
        return []
    return [DeadlinePassed(commitment_id=state.commitment_id, deadline=deadline, noticed_at=now)]


def fold(
    commitment_id: str,
    events: Iterable[tuple[DomainEvent, EventContext]],
    *,
    recorded_by: datetime | None = None,
) -> CommitmentState:
    """The state after ``events``; with ``recorded_by``, only what was recorded by then."""
    state = CommitmentState(commitment_id)
    for event, ctx in events:
        if recorded_by is not None and ctx.recorded_at > recorded_by:
            break
        apply(state, event, ctx)
    return state


# -- decisions ------------------------------------------------------------------------------


def _require_active(state: CommitmentState) -> CommitmentRegistered:
    if state.registration is None:
        raise CommandRejected(
            f"unknown commitment {state.commitment_id!r}: see `monitor list` for the ids"
        )
    if state.retired:
        raise CommandRejected(f"{state.commitment_id} is retired: reinstate it in the catalogue")
    return state.registration


@cache
def _http_url() -> TypeAdapter[HttpUrl]:
    """The URL validator, built on first use (a command that only reads never needs it)."""
    return TypeAdapter(HttpUrl)


# The earliest time zone on Earth: a date has begun there before anywhere else.
_EARLIEST_ZONE = timezone(timedelta(hours=14))


def _valid_url(url: str) -> bool:
    """Whether ``url`` is an http(s) URL that the evidence event will accept."""
    try:
        _http_url().validate_python(url)
    except (ValidationError, ValueError):
        return False
    return True


def made_at(made_on: date) -> datetime:
    """The first instant of ``made_on`` anywhere: nothing effective before it counts.

    The rule must not depend on who is looking (a Tokyo and a Washington reviewer see the
    same commitment), so the day starts when it starts in the earliest time zone.
    """
    return datetime.combine(made_on, time(0), tzinfo=_EARLIEST_ZONE)


def _check_effective(
    state: CommitmentState, effective_at: datetime, now: datetime, zone: tzinfo
) -> list[str]:
    problems = []
    if effective_at.tzinfo is None:
        problems.append("the effective date must carry a time zone")
    elif effective_at > now:
        problems.append(
            f"effective date {effective_at.astimezone(zone).date()} is in the future: "
            "a status takes effect when something happened"
        )
    elif effective_at < made_at(state.made_on):
        problems.append(
            f"effective date {effective_at.astimezone(zone).date()} is before the commitment "
            f"was made ({state.made_on})"
        )
    return problems


def _check_evidence_ids(state: CommitmentState, ids: Iterable[UUID]) -> list[str]:
    problems = []
    for evidence_id in ids:
        found = state.evidence.get(evidence_id)
        if found is None:
            problems.append(f"evidence {evidence_id} is not accepted evidence of this commitment")
        elif found.retracted:
            problems.append(f"evidence {evidence_id} was retracted")
    return problems


def _refuse(what: str, problems: list[str]) -> None:
    if problems:
        raise CommandRejected(f"{what} refused: " + "; ".join(problems))


def assess_status(
    state: CommitmentState,
    *,
    status: Status | str,
    rationale: str,
    assessor: str,
    effective_at: datetime,
    now: datetime,
    zone: tzinfo,
    evidence_urls: Iterable[str] = (),
    evidence_ids: Iterable[UUID] = (),
    note: str | None = None,
) -> list[DomainEvent]:
    """Record a status change: new evidence for each URL, then the assessment itself."""
    _require_active(state)
    urls, ids = list(evidence_urls), list(evidence_ids)
    problems: list[str] = []
    try:
        target = Status(status)
    except ValueError:
        target = None
        problems.append(f"unknown status {status!r} (one of: {', '.join(s.value for s in Status)})")
    if target is Status.NOT_YET_ASSESSED:
        problems.append(
            "not_yet_assessed is the starting point, not an assessment: to undo an assessment "
            "record a correction"
        )
    if not rationale.strip():
        problems.append("a rationale is required (--rationale)")
    if not assessor.strip():
        problems.append("the assessor is required (--by)")
    problems += _check_effective(state, effective_at, now, zone)
    problems += [f"evidence URL {u!r} is not an http(s) URL" for u in urls if not _valid_url(u)]
    problems += _check_evidence_ids(state, ids)
    deadline = state.registration.deadline if state.registration else None
    stalled_by_note = (
        target is Status.STALLED
        and deadline is not None
        and deadline < now.astimezone(zone).date()
        and bool(note and note.strip())
    )
    if not urls and not ids and not stalled_by_note:
        problems.append(
            "evidence is required (--evidence URL or an accepted evidence id; for 'stalled' "
            "after a passed deadline, an explicit --note)"
        )
    _refuse("status change", problems)
    assert target is not None
    accepted = [
        EvidenceAccepted(
            commitment_id=state.commitment_id,
            evidence_id=uuid4(),
            url=url,  # pydantic validates the string
            accepted_by=assessor.strip(),
        )
        for url in urls
    ]
    assessment = StatusAssessed(
        commitment_id=state.commitment_id,
        assessment_id=uuid4(),
        status=target,
        previous_status=state.status(),
        rationale=rationale.strip(),
        assessor=assessor.strip(),
        effective_at=effective_at,
        evidence_ids=(*ids, *(e.evidence_id for e in accepted)),
        note=note.strip() if note and note.strip() else None,
    )
    return [*accepted, assessment]


def correct_assessment(
    state: CommitmentState,
    *,
    assessment_id: UUID,
    status: Status | str,
    rationale: str,
    effective_at: datetime,
    corrected_by: str,
    reason: str,
    now: datetime,
    zone: tzinfo,
) -> list[DomainEvent]:
    """Replace an earlier assessment's status, date or rationale (a new event)."""
    _require_active(state)
    problems: list[str] = []
    original = state.assessments.get(assessment_id)
    if original is None:
        problems.append(f"no assessment {assessment_id} on {state.commitment_id}")
    try:
        target = Status(status)
    except ValueError:
        problems.append(f"unknown status {status!r}")
        target = None
    if not rationale.strip():
        problems.append("a rationale is required (--rationale)")
    if not reason.strip():
        problems.append("a reason for the correction is required (--reason)")
    if not corrected_by.strip():
        problems.append("who corrects it is required (--by)")
    problems += _check_effective(state, effective_at, now, zone)
    if (
        original is not None
        and target is not None
        and target is not original.status
        and target is not Status.NOT_YET_ASSESSED
        and not any(
            (found := state.evidence.get(i)) is not None and not found.retracted
            for i in original.evidence_ids
        )
    ):
        problems.append(
            "the assessment's evidence was retracted, so a correction cannot change its "
            "status: record a new assessment with evidence instead"
        )
    _refuse("correction", problems)
    assert target is not None
    assert original is not None
    return [
        AssessmentCorrected(
            commitment_id=state.commitment_id,
            assessment_id=assessment_id,
            status=target,
            rationale=rationale.strip(),
            effective_at=effective_at,
            evidence_ids=original.evidence_ids,
            corrected_by=corrected_by.strip(),
            reason=reason.strip(),
        )
    ]


def withdraw_assessment(
    state: CommitmentState, *, assessment_id: UUID, reason: str, by: str
) -> list[DomainEvent]:
    """Take an assessment out of the history's fold (it stays in the journal)."""
    _require_active(state)
    problems = []
    if assessment_id not in state.assessments:
        problems.append(f"no assessment {assessment_id} in force on {state.commitment_id}")
    if not reason.strip():
        problems.append("a reason is required (--rationale)")
    if not by.strip():
        problems.append("who withdraws it is required (--by)")
    _refuse("withdrawal", problems)
    return [
        AssessmentWithdrawn(
            commitment_id=state.commitment_id,
            assessment_id=assessment_id,
            reason=reason.strip(),
            withdrawn_by=by.strip(),
        )
    ]


def add_note(state: CommitmentState, *, text: str, author: str) -> list[DomainEvent]:
    """A note (allowed on retired commitments too: history stays annotatable)."""
    if state.registration is None:
        raise CommandRejected(
            f"unknown commitment {state.commitment_id!r}: see `monitor list` for the ids"
        )
    problems = []
    if not text.strip():
        problems.append("the note is empty")
    if len(text) > 20_000:
        problems.append("the note is longer than 20,000 characters")
    if not author.strip():
        problems.append("the author is required (--by)")
    _refuse("note", problems)
    return [
        NoteAdded(
            commitment_id=state.commitment_id,
            note_id=uuid4(),
            text=text.strip(),
            author=author.strip(),
        )
    ]


def retract_evidence(
    state: CommitmentState, *, evidence_id: UUID, reason: str, by: str
) -> list[DomainEvent]:
    """Withdraw accepted evidence; assessments that cited it keep their history."""
    _require_active(state)
    problems = _check_evidence_ids(state, [evidence_id])
    if not reason.strip():
        problems.append("a reason is required (--reason)")
    if not by.strip():
        problems.append("who retracts it is required (--by)")
    _refuse("retraction", problems)
    return [
        EvidenceRetracted(
            commitment_id=state.commitment_id,
            evidence_id=evidence_id,
            reason=reason.strip(),
            retracted_by=by.strip(),
        )
    ]
