"""Reviewing proposals: accept (optionally setting a status), reject, snooze. Pure rules.

A proposal's own stream is the lock between reviewers: every decision is appended at the
version that was read, so when two reviewers act on one proposal the second one's append
fails, the core reloads, and these rules then say who got there first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from uuid import UUID, uuid4

from monitor import commitment as rules
from monitor.commitment import CommitmentState, EventContext
from monitor.errors import CommandRejected
from monitor.events import (
    DomainEvent,
    EvidenceAccepted,
    EvidenceProposed,
    EvidenceRejected,
    ProposalAccepted,
    ProposalReopened,
    ProposalSnoozed,
)

REJECT_REASONS = ("irrelevant", "duplicate", "unreliable", "before-commitment", "other")


@dataclass(slots=True)
class ProposalState:
    """Where one proposal stands."""

    proposal: EvidenceProposed | None = None
    state: str = "pending"
    reviewer: str | None = None
    reviewed_at: datetime | None = None
    snoozed_until: datetime | None = None
    #: the event of the decision in force (an undo must name this one)
    decision_event_id: UUID | None = None
    #: the evidence an acceptance recorded
    evidence_id: UUID | None = None
    version: int = 0


def fold_proposal(events: Iterable[tuple[DomainEvent, EventContext]]) -> ProposalState:
    """The state after a proposal stream's events."""
    state = ProposalState()
    for event, ctx in events:
        state.version += 1
        if isinstance(event, EvidenceProposed):
            state.proposal = event
        elif isinstance(event, ProposalReopened):
            state.state, state.reviewer, state.snoozed_until = "pending", None, None
            state.reviewed_at = None
            state.decision_event_id = None
        elif isinstance(event, ProposalAccepted | EvidenceRejected | ProposalSnoozed):
            state.reviewer = event.reviewer
            state.reviewed_at = ctx.recorded_at
            state.decision_event_id = ctx.event_id
            if isinstance(event, ProposalAccepted):
                state.state, state.evidence_id = "accepted", event.evidence_id
            elif isinstance(event, EvidenceRejected):
                state.state = "rejected"
            else:
                state.state, state.snoozed_until = "snoozed", event.until
    return state


def _open(state: ProposalState, reviewer: str) -> EvidenceProposed:
    if state.proposal is None:
        raise CommandRejected("no such proposal: see `monitor queue`")
    if state.state in ("accepted", "rejected"):
        when = state.reviewed_at.strftime("%Y-%m-%d %H:%M UTC") if state.reviewed_at else ""
        raise CommandRejected(
            f"{state.reviewer} already {state.state} this proposal ({when}): nothing changed"
        )
    if not reviewer.strip():
        raise CommandRejected("the reviewer is required (--by)")
    return state.proposal


def accept(
    state: ProposalState,
    commitment: CommitmentState,
    *,
    reviewer: str,
    now: datetime,
    zone: tzinfo,
    status: str | None = None,
    rationale: str = "",
    effective_at: datetime | None = None,
) -> tuple[list[DomainEvent], list[DomainEvent]]:
    """(proposal stream events, commitment stream events) of accepting a proposal."""
    proposal = _open(state, reviewer)
    if proposal.url is None:
        raise CommandRejected("the item has no link to keep as evidence: reject or snooze it")
    evidence = EvidenceAccepted(
        commitment_id=proposal.commitment_id,
        evidence_id=uuid4(),
        url=proposal.url,
        title=proposal.title,
        proposal_id=proposal.proposal_id,
        accepted_by=reviewer.strip(),
    )
    on_commitment: list[DomainEvent] = [evidence]
    if status is not None:
        # Decide the status on the commitment as it will be with this evidence accepted.
        with_evidence = rules.apply(
            _copy(commitment), evidence, EventContext(evidence.evidence_id, 0, now)
        )
        on_commitment += rules.assess_status(
            with_evidence,
            status=status,
            rationale=rationale,
            assessor=reviewer,
            effective_at=effective_at or now,
            now=now,
            zone=zone,
            evidence_ids=[evidence.evidence_id],
        )
    elif not commitment.exists or commitment.retired:
        raise CommandRejected(f"{proposal.commitment_id} is not an active commitment")
    accepted = ProposalAccepted(
        proposal_id=proposal.proposal_id,
        commitment_id=proposal.commitment_id,
        evidence_id=evidence.evidence_id,
        reviewer=reviewer.strip(),
    )
    return [accepted], on_commitment


def reject(
    state: ProposalState, *, reviewer: str, reason: str, note: str | None = None
) -> list[DomainEvent]:
    """Decide the item is not evidence about the commitment (with a reason)."""
    proposal = _open(state, reviewer)
    if reason not in REJECT_REASONS:
        raise CommandRejected(f"reason must be one of: {', '.join(REJECT_REASONS)}")
    return [
        EvidenceRejected(
            proposal_id=proposal.proposal_id,
            commitment_id=proposal.commitment_id,
            reason=reason,
            note=note.strip() if note and note.strip() else None,
            reviewer=reviewer.strip(),
        )
    ]


def snooze(
    state: ProposalState, *, reviewer: str, until: datetime, now: datetime
) -> list[DomainEvent]:
    """Put a proposal aside until ``until`` (it returns to the queue then)."""
    proposal = _open(state, reviewer)
    if until <= now:
        raise CommandRejected("snooze until a moment in the future (--until DATE)")
    return [
        ProposalSnoozed(
            proposal_id=proposal.proposal_id,
            commitment_id=proposal.commitment_id,
            until=until,
            reviewer=reviewer.strip(),
        )
    ]


def _copy(state: CommitmentState) -> CommitmentState:
    return CommitmentState(
        state.commitment_id,
        state.registration,
        state.retired,
        state.version,
        dict(state.assessments),
        dict(state.evidence),
        list(state.notes),
    )
