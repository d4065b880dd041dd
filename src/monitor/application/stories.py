"""The review queue by story, and one review decision for every member of a story.

Reached as ``Monitor.review.stories``. A story (see :mod:`monitor.domain.stories`) is one row of the
queue however many outlets told it; a decision on it (``monitor review STORY accept``)
applies, per commitment, to the waiting proposals of all its members: accepting records
one EvidenceAccepted (the best member's URL, every other member's in ``also_urls``) and
closes the other members' proposals as duplicates of it. All of one decision is appended
in one transaction, at the versions that were read: if anyone decided a member meanwhile,
the decision is made again on what is there now (and the rules say who got there first).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from monitor.domain import review as review_rules
from monitor.errors import CommandRejected
from monitor.events import (
    DomainEvent,
    EvidenceAccepted,
    ProposalReopened,
    commitment_stream,
    proposal_stream,
)
from monitor.ids import id_prefix
from monitor.projections import proposal_queries
from monitor.projections import queue as story_reads
from monitor.projections.items import ProposalView
from monitor.projections.queue import Rank, StoryRow
from monitor.projections.stories import StoryView
from monitor.store.records import RecordedEvent, StreamAppend
from monitor.timestamps import format_timestamp
from monitor.writes import COMMITMENT, PROPOSAL, Loaded

if TYPE_CHECKING:
    from monitor.application.review import Review

#: how many proposals a filtered queue reads before grouping them into stories
FILTER_LIMIT = 10_000


@dataclass(frozen=True, slots=True)
class QueuePage:
    """Rows of the queue, and the cursor of the page after them (None: none after)."""

    rows: list[StoryRow]
    next: str | None


def cursor_of(rank: Rank) -> str:
    """An opaque cursor for the page after the row of ``rank`` (what a client passes back:
    it means nothing to it, and may change form between versions)."""
    raw = json.dumps(list(rank), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def rank_from_cursor(cursor: str) -> Rank:
    """The rank a cursor of :func:`cursor_of` holds; a clear refusal for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        score, newest, story_id = json.loads(raw)
        if (
            isinstance(score, int | float)
            and not isinstance(score, bool)
            and isinstance(newest, str)
            and isinstance(story_id, str)
            and "\x00" not in newest + story_id  # PostgreSQL's text holds none
        ):
            return (float(score), newest, story_id)
    except (ValueError, TypeError):
        pass
    raise CommandRejected(
        "that cursor is not one this server gave: start again from the first page "
        "(without a cursor) and follow the next links"
    )


class StoryQueue:
    """Stories waiting for review, and decisions on whole stories."""

    def __init__(self, review: Review) -> None:
        self.reviewing = review
        self.context = review.context
        self.commitments = review.commitments
        self.store = review.store

    def page(
        self,
        *,
        commitment: str | None = None,
        min_score: float = 0.0,
        source: str | None = None,
        expression: str | None = None,
        limit: int = 50,
        offset: int = 0,
        after: Rank | None = None,
    ) -> list[StoryRow]:
        """One page of the queue, a row per story, best first (by its best proposal);
        ``after``: the rows ranked after that one only (see :meth:`page_after`).

        With a filter (a commitment, a minimum score, a source or an expression as
        ``monitor review --filter`` takes), a row lists only the proposals selected.
        """
        terms = [f"commitment={commitment}"] if commitment else []
        terms += [f"source={source}"] if source else []
        terms += [f"score>={min_score}"] if min_score else []
        terms += expression.split() if expression else []
        selected = (
            self.reviewing.select_proposals(" ".join(terms), limit=FILTER_LIMIT) if terms else None
        )
        self.context.require_schema()
        self.reviewing.items.catch_up()
        now = format_timestamp(self.context.clock.now())
        return story_reads.page(self.context.engine, now, limit, offset, selected, after)

    def page_after(
        self,
        cursor: str | None,
        *,
        commitment: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> QueuePage:
        """The page that follows ``cursor`` (None: the first page, or the page at
        ``offset``), and the cursor of the page after it, if there are more rows."""
        after = rank_from_cursor(cursor) if cursor else None
        rows = self.page(commitment=commitment, limit=limit + 1, offset=offset, after=after)
        if len(rows) <= limit:
            return QueuePage(rows, None)
        return QueuePage(rows[:limit], cursor_of(story_reads.rank_of(rows[limit - 1])))

    def resolve(self, ref: str) -> StoryView | None:
        """The story ``ref`` (a unique id prefix) names, or None when it names none."""
        self.context.require_schema()
        self.reviewing.items.catch_up()
        ref = id_prefix(ref, "story and proposal")
        if len(ref) < 6:
            return None
        found, proposal = story_reads.by_prefix(self.context.engine, ref)
        if found and proposal:
            raise CommandRejected(f"{ref!r} starts a story id and a proposal id: give more of it")
        if len(found) > 1:
            raise CommandRejected(f"{ref!r} matches several stories: give more of the id")
        return found[0] if found else None

    def review(
        self,
        story: StoryView,
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
        """Accept, reject or snooze a whole story for one or more commitments (``action``
        and ``until`` checked by :meth:`Review.decide`, the one way here)."""
        story_id = story.story_id

        def decide(loaded: Loaded) -> list[StreamAppend]:
            self.reviewing.items.catch_up()
            proposals, members = story_reads.story_parts(self.context.engine, story_id)
            chosen = _choose_commitments(story_id, proposals, commitments)
            if status is not None and len(chosen) > 1:
                raise CommandRejected(
                    "--status sets one commitment's status: give one --commitment with it"
                )
            metadata = {"actor": by.strip() or "unknown", "story": story_id}
            urls = [m.url for m in members if m.url]
            appends: list[StreamAppend] = []
            for commitment_id in chosen:
                appends += self._decide(
                    loaded,
                    story_id,
                    [p for p in proposals if p.commitment_id == commitment_id],
                    commitment_id,
                    action,
                    metadata,
                    urls=urls,
                    by=by,
                    status=status,
                    rationale=rationale,
                    effective_at=effective_at,
                    reason=reason,
                    note=note,
                    until=until,
                )
            return appends

        recorded = self.context.writer.run(decide, what=f"story {story_id[:8]}")
        self.reviewing.items.catch_up()
        return recorded

    def _decide(
        self,
        loaded: Loaded,
        story_id: str,
        proposals: list[ProposalView],
        commitment_id: str,
        action: str,
        metadata: dict[str, Any],
        *,
        urls: list[str],
        by: str,
        status: str | None,
        rationale: str,
        effective_at: datetime | None,
        reason: str,
        note: str | None,
        until: datetime | None,
    ) -> list[StreamAppend]:
        """The appends of one decision on one commitment's proposals in the story."""
        states = {
            UUID(p.proposal_id): loaded.state(proposal_stream(UUID(p.proposal_id)), PROPOSAL)
            for p in sorted(proposals, key=lambda p: p.proposal_id)
        }
        listed = list(states.values())
        now = self.context.clock.now()
        on_commitment: list[DomainEvent] = []
        if action == "accept":
            commitment = loaded.state(commitment_stream(commitment_id), COMMITMENT)
            decisions, on_commitment = review_rules.accept_story(
                listed,
                commitment,
                story_id=story_id,
                member_urls=urls,
                reviewer=by,
                now=now,
                zone=self.context.settings.timezone,
                status=status,
                rationale=rationale,
                effective_at=effective_at,
            )
            # What an undo of this evidence reopens: the members closed as its duplicates.
            evidence = on_commitment[0]
            assert isinstance(evidence, EvidenceAccepted)
            metadata = {**metadata, "evidence": str(evidence.evidence_id)}
        elif action == "reject":
            decisions = review_rules.reject_story(
                listed, commitment_id, reviewer=by, reason=reason, note=note
            )
        else:
            assert until is not None
            decisions = review_rules.snooze_story(
                listed, commitment_id, reviewer=by, until=until, now=now
            )
        appends = [
            loaded.append(proposal_stream(pid), events, metadata)
            for pid, events in decisions.items()
        ]
        if on_commitment:
            appends.append(loaded.append(commitment_stream(commitment_id), on_commitment, metadata))
        return appends

    def reopen_duplicates(
        self,
        loaded: Loaded,
        proposal_id: UUID,
        evidence_id: UUID,
        *,
        rationale: str,
        by: str,
        metadata: dict[str, Any],
    ) -> list[StreamAppend]:
        """The appends that reopen the members of a story closed as duplicates when it was
        accepted as ``evidence_id`` (through ``proposal_id``), if that is still in force."""
        closed = proposal_queries.closed_as_duplicates(self.context.engine, str(proposal_id))
        appends = []
        for view in sorted(closed, key=lambda v: v.proposal_id):
            pid = UUID(view.proposal_id)
            state = loaded.state(proposal_stream(pid), PROPOSAL)
            decision = (
                self.store.read_event(state.decision_event_id)
                if state.state == "rejected" and state.decision_event_id
                else None
            )
            if decision is None or decision.metadata.get("evidence") != str(evidence_id):
                continue
            reopened = ProposalReopened(
                proposal_id=pid,
                commitment_id=view.commitment_id,
                undone_event_id=decision.event_id,
                rationale=rationale.strip(),
                reviewer=by.strip(),
            )
            appends.append(loaded.append(proposal_stream(pid), [reopened], metadata))
        return appends


def _choose_commitments(
    story_id: str, proposals: Sequence[ProposalView], given: Sequence[str]
) -> list[str]:
    """The commitments a decision on the story is about: those given, or the only one."""
    short = story_id[:8]
    proposed = sorted({p.commitment_id for p in proposals})
    if given:
        unknown = [c for c in given if c not in proposed]
        if unknown:
            raise CommandRejected(
                f"story {short} has no proposal for {', '.join(unknown)}; "
                f"it has: {', '.join(proposed) or 'none'}"
            )
        return list(dict.fromkeys(given))
    waiting = sorted({p.commitment_id for p in proposals if p.state in ("pending", "snoozed")})
    if len(waiting) == 1:
        return waiting
    if not waiting:
        raise CommandRejected(f"nothing of story {short} waits for review: see `monitor queue`")
    raise CommandRejected(
        f"story {short} waits on {len(waiting)} commitments ({', '.join(waiting)}): "
        "choose with --commitment ID (repeatable)"
    )


def story_json(row: StoryRow) -> dict[str, Any]:
    """The JSON shape of one queue row (``monitor queue --json`` and ``/api/queue``)."""
    return {
        "story_id": row.story_id,
        "title": row.title,
        "first_published_at": row.first_at,
        "score": row.score,
        "outlets": row.outlets,
        "members": [
            {
                "item_id": m.item_id,
                "source": m.source,
                "outlet": m.outlet,
                "url": m.url,
                "title": m.title,
                "published_at": m.published_at,
                "joined_by": m.joined_by,
            }
            for m in row.members
        ],
        "commitments": [
            {
                "commitment_id": c.commitment_id,
                "score": c.score,
                "proposal_id": c.best.proposal_id,
                "matched_terms": c.matched_terms,
                "explanation": c.explanation,
                "proposals": [
                    {
                        "proposal_id": p.proposal_id,
                        "item_id": p.item_id,
                        "url": p.url,
                        "title": p.title,
                        "source": p.source,
                        "score": p.score,
                        "state": p.state,
                        "published_at": p.published_at,
                        "proposed_at": p.proposed_at,
                    }
                    for p in c.proposals
                ],
            }
            for c in row.commitments
        ],
    }
