"""Reviewing proposals: accept (optionally setting a status), reject, snooze. Pure rules.

A proposal's own stream is the lock between reviewers: every decision is appended at the
version that was read, so when two reviewers act on one proposal the second one's append
fails, the core reloads, and these rules then say who got there first.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from uuid import UUID, uuid4

from monitor.domain import commitment as rules
from monitor.domain.commitment import CommitmentState, EventContext
from monitor.domain.stories import is_aggregator_link
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
        apply_proposal(state, event, ctx)
    return state


def apply_proposal(state: ProposalState, event: DomainEvent, ctx: EventContext) -> ProposalState:
    """Fold one event into a proposal's state (mutates and returns ``state``)."""
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


def _web_address(url: str) -> bool:
    return url.lower().startswith(("http://", "https://"))


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
    also_urls: Sequence[str] = (),
) -> tuple[list[DomainEvent], list[DomainEvent]]:
    """(proposal stream events, commitment stream events) of accepting a proposal.

    ``also_urls``: where else the story was told (recorded with the evidence).
    """
    proposal = _open(state, reviewer)
    if proposal.url is None:
        raise CommandRejected("the item has no link to keep as evidence: reject or snooze it")
    # A poll records http(s) links only; an imported journal's items may say anything,
    # and evidence is a link on pages and in digests.
    if not _web_address(proposal.url):
        raise CommandRejected(
            f"the item's link {proposal.url[:80]!r} is not an http(s) URL: reject it"
        )
    evidence = EvidenceAccepted(
        commitment_id=proposal.commitment_id,
        evidence_id=uuid4(),
        url=proposal.url,
        title=proposal.title,
        proposal_id=proposal.proposal_id,
        accepted_by=reviewer.strip(),
        also_urls=tuple(
            dict.fromkeys(u for u in also_urls if _web_address(u) and u != proposal.url)
        ),
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


# -- story groups: one decision for every member of a story ------------------------------

#: what a group decision appends, by proposal
Decisions = dict[UUID, list[DomainEvent]]
_LATEST = datetime.max.replace(tzinfo=UTC)


def _undecided(states: Sequence[ProposalState], commitment_id: str) -> list[ProposalState]:
    waiting = [s for s in states if s.proposal is not None and s.state in ("pending", "snoozed")]
    if waiting:
        return waiting
    decided = [s for s in states if s.proposal is not None]
    if not decided:
        raise CommandRejected(f"the story has no proposal for {commitment_id}: see `monitor queue`")
    first = decided[0]
    raise CommandRejected(
        f"nothing of this story waits on {commitment_id}: {first.reviewer} already "
        f"{first.state} it; nothing changed"
    )


def stands_for(states: Sequence[ProposalState]) -> ProposalState:
    """The member whose link stands for the story as evidence: the best score, then a
    publisher's own link over a news-search redirect, then the first published."""

    def rank(state: ProposalState) -> tuple[float, bool, datetime, str]:
        proposal = state.proposal
        assert proposal is not None
        return (
            -proposal.score,
            is_aggregator_link(proposal.url),
            proposal.published_at or _LATEST,
            str(proposal.proposal_id),
        )

    return min(states, key=rank)


def accept_story(
    states: Sequence[ProposalState],
    commitment: CommitmentState,
    *,
    story_id: str,
    member_urls: Sequence[str],
    reviewer: str,
    now: datetime,
    zone: tzinfo,
    status: str | None = None,
    rationale: str = "",
    effective_at: datetime | None = None,
) -> tuple[Decisions, list[DomainEvent]]:
    """Accept a story for one commitment: one evidence, every member decided.

    ``states``: the story's proposals for the commitment. The best member is accepted (its
    URL is the evidence, every other member URL goes into ``also_urls``); the other waiting
    members are rejected as duplicates of it, with a note naming the story and the evidence.
    """
    accepted = [s for s in states if s.state == "accepted"]
    if accepted:
        raise CommandRejected(
            f"{accepted[0].reviewer} already accepted this story for {commitment.commitment_id}:"
            " reject the other members (--reason duplicate) or undo that acceptance first"
        )
    waiting = _undecided(states, commitment.commitment_id)
    linked = [s for s in waiting if s.proposal is not None and s.proposal.url]
    if not linked:
        raise CommandRejected("no member of the story has a link to keep: reject or snooze it")
    best = stands_for(linked)
    on_best, on_commitment = accept(
        best,
        commitment,
        reviewer=reviewer,
        now=now,
        zone=zone,
        status=status,
        rationale=rationale,
        effective_at=effective_at,
        also_urls=member_urls,
    )
    assert best.proposal is not None
    assert isinstance(on_commitment[0], EvidenceAccepted)
    decisions: Decisions = {best.proposal.proposal_id: on_best}
    note = (
        f"the same story ({story_id}) as proposal {best.proposal.proposal_id}, accepted as "
        f"evidence {on_commitment[0].evidence_id}"
    )
    for state in waiting:
        if state is not best and state.proposal is not None:
            decisions[state.proposal.proposal_id] = reject(
                state, reviewer=reviewer, reason="duplicate", note=note
            )
    return decisions, on_commitment


def reject_story(
    states: Sequence[ProposalState],
    commitment_id: str,
    *,
    reviewer: str,
    reason: str,
    note: str | None = None,
) -> Decisions:
    """Reject every waiting member of a story for one commitment, for one reason."""
    return {
        s.proposal.proposal_id: reject(s, reviewer=reviewer, reason=reason, note=note)
        for s in _undecided(states, commitment_id)
        if s.proposal is not None
    }


def snooze_story(
    states: Sequence[ProposalState],
    commitment_id: str,
    *,
    reviewer: str,
    until: datetime,
    now: datetime,
) -> Decisions:
    """Put every waiting member of a story aside for one commitment until ``until``."""
    return {
        s.proposal.proposal_id: snooze(s, reviewer=reviewer, until=until, now=now)
        for s in _undecided(states, commitment_id)
        if s.proposal is not None
    }


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
