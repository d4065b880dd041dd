"""Review: the queue of proposals waiting for a person, a decision on one proposal or a whole
story (accept, reject, snooze), bulk selection, and undo by compensating events.

A capability of the application layer: given a context, the commitments capability (a
decision lands on a commitment's stream) and the items read model. ``stories``
(:mod:`monitor.application.stories`) holds the queue by story and decisions on stories.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from monitor.application.stories import StoryQueue
from monitor.domain import commitment as commitment_rules
from monitor.domain import review as review_rules
from monitor.domain.commitment import CommitmentState
from monitor.errors import CommandRejected, NotFound, unknown
from monitor.events import (
    DomainEvent,
    ProposalReopened,
    commitment_stream,
    proposal_stream,
)
from monitor.ids import one_by_prefix
from monitor.projections import overview, proposal_queries, source_queries
from monitor.projections.items import ProposalView
from monitor.store.records import RecordedEvent, StreamAppend
from monitor.timestamps import format_timestamp, parse_timestamp
from monitor.writes import COMMITMENT, PROPOSAL, Loaded

if TYPE_CHECKING:
    from monitor.application.commitments import Commitments
    from monitor.application.context import Context
    from monitor.projections.items import IntakeProjection


class Review:
    """Proposals waiting for review, and decisions on them."""

    def __init__(self, context: Context, commitments: Commitments, items: IntakeProjection) -> None:
        self.context = context
        self.commitments = commitments
        self.store = context.store
        self.items = items
        #: the queue by story, and decisions on whole stories
        self.stories = StoryQueue(self)

    def queue(
        self,
        commitment: str | None = None,
        min_score: float = 0.0,
        limit: int = 200,
        offset: int = 0,
    ) -> list[ProposalView]:
        """Proposals waiting for review (snoozed ones once their date has come), best first
        (the read model's query: :func:`monitor.projections.proposal_queries.queue`)."""
        self.context.require_schema()
        self.items.catch_up()
        now = format_timestamp(self.context.clock.now())
        return proposal_queries.queue(
            self.context.engine,
            now,
            commitment=commitment,
            min_score=min_score,
            limit=limit,
            offset=offset,
        )

    def waiting_count(self) -> int:
        """How many proposals wait for review (pending, or snoozed until now)."""
        self.context.require_schema()
        self.items.catch_up()
        return overview.waiting(self.context.engine, self.context.clock.now())

    def find_proposal(self, ref: str) -> ProposalView:
        """A proposal by its id or a unique prefix of it (at least 6 characters)."""
        self.context.require_schema()
        self.items.catch_up()
        return one_by_prefix(
            ref,
            "story or proposal",
            lambda prefix: proposal_queries.proposals_starting(self.context.engine, prefix),
            where="see `monitor queue`",
            minimum=6,
        )

    def decide(
        self,
        ref: str,
        action: str,
        *,
        by: str,
        commitments: Sequence[str] = (),
        status: str | None = None,
        rationale: str = "",
        effective_at: datetime | None = None,
        reason: str = "",
        note: str | None = None,
        until: datetime | None = None,
    ) -> list[RecordedEvent]:
        """Accept, reject or snooze a story or one proposal; a second reviewer is told who
        was first.

        ``ref`` names a story (a prefix of its id: the decision applies to every member's
        waiting proposal for each of ``commitments``, which may be left out when the story
        waits on one commitment only) or one proposal (a prefix of its id).
        """
        if action not in ("accept", "reject", "snooze"):
            raise CommandRejected("action must be accept, reject or snooze")
        if action == "snooze" and until is None:
            raise CommandRejected("snooze needs --until DATE")
        story = self.stories.resolve(ref)
        if story is not None:
            return self.stories.review(
                story,
                action,
                by=by,
                commitments=commitments,
                status=status,
                rationale=rationale,
                effective_at=effective_at,
                reason=reason,
                note=note,
                until=until,
            )
        view = self.find_proposal(ref)
        if commitments and view.commitment_id not in commitments:
            raise CommandRejected(
                f"proposal {view.proposal_id[:8]} is about {view.commitment_id}, "
                f"not {', '.join(commitments)}"
            )
        proposal_id = UUID(view.proposal_id)

        def decide(states: list[Any]) -> list[list[DomainEvent]]:
            state, commitment = states
            now = self.context.clock.now()
            if action == "accept":
                on_proposal, on_commitment = review_rules.accept(
                    state,
                    commitment,
                    reviewer=by,
                    now=now,
                    zone=self.context.settings.timezone,
                    status=status,
                    rationale=rationale,
                    effective_at=effective_at,
                )
                return [on_proposal, on_commitment]
            if action == "reject":
                return [review_rules.reject(state, reviewer=by, reason=reason, note=note), []]
            assert until is not None
            return [review_rules.snooze(state, reviewer=by, until=until, now=now), []]

        recorded = self.context.writer.execute_many(
            [
                (proposal_stream(proposal_id), PROPOSAL),
                (commitment_stream(view.commitment_id), COMMITMENT),
            ],
            decide,
            {"actor": by.strip() or "unknown"},
            what=f"proposal {view.proposal_id[:8]}",
        )
        self.items.catch_up()
        return recorded

    def find_event(self, ref: UUID | str) -> UUID:
        """An event's id from the id or a unique prefix of it (at least 8 characters)."""
        if isinstance(ref, UUID):
            return ref
        return one_by_prefix(
            ref, "event", self.store.event_ids_starting, where="see `monitor history`"
        )

    def undo(self, event_ref: UUID | str, *, by: str, rationale: str) -> list[RecordedEvent]:
        """Undo a review decision or an accepted evidence with compensating events.

        Nothing is deleted: accepting is undone by retracting the evidence (and withdrawing an
        assessment that rested on it alone) and reopening the proposal; rejecting and
        snoozing by reopening it, if that decision is still the one in force; an assessment
        by withdrawing it.
        """
        self.context.require_schema()
        if not rationale.strip():
            raise CommandRejected("say why (--rationale)")
        event_id = self.find_event(event_ref)
        if not by.strip():
            raise CommandRejected("who undoes it is required (--by)")
        target = self.store.read_event(event_id)
        if target is None:
            raise NotFound(f"no event {event_id}: see `monitor history` or `monitor show`")
        data = target.data
        kind = target.event_type
        if kind == "StatusAssessed":
            # Withdrawn, not corrected: the status folds as if it had never been assessed,
            # at every date (a correction "back" would rewrite the history before it).
            return self.commitments.withdraw_assessment(
                data["commitment_id"],
                UUID(data["assessment_id"]),
                reason=f"undo: {rationale}",
                by=by,
            )
        if kind not in (
            "ProposalAccepted",
            "EvidenceAccepted",
            "EvidenceRejected",
            "ProposalSnoozed",
        ):
            raise CommandRejected(
                f"a {kind} cannot be undone: record a correction or a note instead"
            )
        commitment_id = data["commitment_id"]
        evidence_id = UUID(data["evidence_id"]) if data.get("evidence_id") else None
        proposal_ref = UUID(data["proposal_id"]) if data.get("proposal_id") else None
        metadata = {"actor": by.strip(), "undoes": str(event_id)}

        def decide(loaded: Loaded) -> list[StreamAppend]:
            appends = []
            stream = commitment_stream(commitment_id)
            commitment = loaded.state(stream, COMMITMENT)
            retraction = _retraction(commitment, evidence_id, rationale, by) if evidence_id else []
            if retraction:
                # An assessment that rested on this evidence alone goes with it.
                resting = [
                    a.assessment_id
                    for a in commitment.assessments.values()
                    if set(a.evidence_ids) == {evidence_id}
                ]
                withdrawals = [
                    withdrawn
                    for assessment_id in resting
                    for withdrawn in commitment_rules.withdraw_assessment(
                        commitment,
                        assessment_id=assessment_id,
                        reason=f"undo: {rationale}",
                        by=by,
                    )
                ]
                appends.append(loaded.append(stream, [*retraction, *withdrawals], metadata))
            if proposal_ref is not None:
                proposal = proposal_stream(proposal_ref)
                state = loaded.state(proposal, PROPOSAL)
                # Only the decision in force is undone: an old snooze must not reopen a
                # proposal that was accepted since.
                current = state.decision_event_id == event_id or (
                    kind == "EvidenceAccepted"
                    and state.state == "accepted"
                    and state.evidence_id == evidence_id
                )
                if current:
                    reopened = ProposalReopened(
                        proposal_id=proposal_ref,
                        commitment_id=commitment_id,
                        undone_event_id=event_id,
                        rationale=rationale.strip(),
                        reviewer=by.strip(),
                    )
                    appends.append(loaded.append(proposal, [reopened], metadata))
            if evidence_id is not None and proposal_ref is not None:
                # A story accepted as one: the members closed as duplicates of this
                # evidence wait for review again with it.
                appends += self.stories.reopen_duplicates(
                    loaded, proposal_ref, evidence_id, rationale=rationale, by=by,
                    metadata=metadata,
                )  # fmt: skip
            if not appends:
                raise CommandRejected(
                    "nothing to undo: it was undone already, or decided again since"
                )
            return appends

        recorded = self.context.writer.run(decide, what=commitment_id)
        self.items.catch_up()
        return recorded

    def select_proposals(self, expression: str, limit: int = 10_000) -> list[ProposalView]:
        """Pending proposals matching a filter such as ``commitment=X score<0.3 age>30``.

        Keys: commitment, source, score, age (days since proposed); operators = < <= > >=.
        """
        now = self.context.clock.now()
        tests = [_filter_term(self._named(term)) for term in expression.split()]
        if not tests:
            raise CommandRejected("an empty filter would select everything: say what to select")
        selected = []
        for proposal in self.queue(limit=limit):
            age = (now - parse_timestamp(proposal.proposed_at)).total_seconds() / 86_400
            values = {
                "commitment": proposal.commitment_id,
                "source": proposal.source,
                "score": proposal.score,
                "age": age,
            }
            if all(test(values) for test in tests):
                selected.append(proposal)
        return selected

    def _named(self, term: str) -> str:
        """A filter term with the commitment or source it names checked, case-insensitively:
        a typo is refused with the nearest name, never taken for an empty queue."""
        match = _FILTER.match(term)
        if match is None or match.group(2) != "=" or match.group(1) not in _NAMED:
            return term
        key, _, given = match.groups()
        if key == "commitment":
            return f"commitment={self.commitments.known_id(given)}"
        self.items.catch_up()
        known = [v.name for v in source_queries.sources(self.context.engine, include_removed=True)]
        found = {k.casefold(): k for k in known}.get(given.casefold())
        if found is None:
            raise unknown("source", given, known)
        return f"source={found}"


_NAMED = ("commitment", "source")
_FILTER = re.compile(r"^(commitment|source|score|age)(<=|>=|=|<|>)(.+)$")


def _filter_term(term: str) -> Callable[[dict[str, Any]], bool]:
    match = _FILTER.match(term)
    if not match:
        raise CommandRejected(
            f"filter term {term!r} not understood: use commitment=ID, source=NAME, "
            "score<0.3, age>30 (days)"
        )
    key, op, raw = match.groups()
    if key in ("score", "age"):
        try:
            wanted: Any = float(raw)
        except ValueError as exc:
            raise CommandRejected(f"filter term {term!r}: {raw!r} is not a number") from exc
    else:
        if op != "=":
            raise CommandRejected(f"filter term {term!r}: {key} takes =")
        wanted = raw
    compare: dict[str, Callable[[Any, Any], bool]] = {
        "=": lambda a, b: a == b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }
    return lambda values: compare[op](values[key], wanted)


def _retraction(
    commitment: CommitmentState, evidence_id: UUID, rationale: str, by: str
) -> list[DomainEvent]:
    """Retract evidence unless it is retracted already (undo is idempotent)."""
    found = commitment.evidence.get(evidence_id)
    if found is None or found.retracted:
        return []
    return commitment_rules.retract_evidence(
        commitment, evidence_id=evidence_id, reason=f"undo: {rationale}", by=by
    )
