"""The review queue by story: one row per story, with its members and, per commitment, the
proposals waiting about any of them. Reads the intake read models only.

Stories are ordered best first by their best waiting proposal (score, then the newest
proposal, then the story id), as proposals were. Stories with a pending proposal are read
down ``ix_story_view_queue`` (the intake projection keeps each story's best pending score);
stories whose waiting proposals are snoozed ones now due are few, read through
``ix_proposal_view_snoozed`` and merged in.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Engine, func, literal, tuple_
from sqlmodel import Session, col, select

from monitor.projections.items import ProposalView
from monitor.projections.stories import StoryMemberView, StoryView

#: (score, newest proposal, story id): the queue's order, best first when reversed
Rank = tuple[float, str, str]


@dataclass(frozen=True, slots=True)
class Member:
    """One item of a story, as the queue shows it."""

    item_id: str
    source: str
    outlet: str | None
    url: str | None
    title: str
    published_at: str | None
    joined_by: str | None

    @property
    def label(self) -> str:
        """Who told it: the outlet a news search names, else the source."""
        return self.outlet or self.source


@dataclass(frozen=True, slots=True)
class CommitmentProposals:
    """The waiting proposals of one story for one commitment, best first."""

    commitment_id: str
    proposals: tuple[ProposalView, ...]

    @property
    def best(self) -> ProposalView:
        return self.proposals[0]

    @property
    def score(self) -> float:
        return self.best.score

    @property
    def matched_terms(self) -> list[str]:
        """Every term matched in any member, in order of first appearance."""
        terms: dict[str, None] = {}
        for p in self.proposals:
            terms |= dict.fromkeys(json.loads(p.matched_terms))
        return list(terms)

    @property
    def explanation(self) -> list[dict[str, Any]]:
        """Why the best member was proposed: the rules that fired, with their words."""
        reasons: list[dict[str, Any]] = json.loads(self.best.explanation or "[]")
        return reasons


@dataclass(frozen=True, slots=True)
class StoryRow:
    """One row of the queue: a story, its members, what waits about it per commitment."""

    story_id: str
    title: str
    first_at: str
    members: tuple[Member, ...]
    commitments: tuple[CommitmentProposals, ...]

    @property
    def score(self) -> float:
        return max(c.score for c in self.commitments)

    @property
    def proposals(self) -> list[ProposalView]:
        return [p for c in self.commitments for p in c.proposals]

    @property
    def words(self) -> tuple[str, ...]:
        """The words that made any of its proposals: what to highlight in its title."""
        found: dict[str, None] = {}
        for c in self.commitments:
            for reason in c.explanation:
                found |= dict.fromkeys(str(w) for w in reason.get("words", ()))
            found |= dict.fromkeys(c.matched_terms)
        return tuple(found)

    @property
    def outlets(self) -> list[str]:
        """Who told the story, once each, in the order they told it."""
        return list(dict.fromkeys(m.label for m in self.members))


class Prefixed(NamedTuple):
    """What an id prefix starts: stories (at most two), and whether a proposal id too."""

    stories: list[StoryView]
    proposal: bool


class StoryParts(NamedTuple):
    """A story as a decision on it reads it: every proposal about a member, the members."""

    proposals: list[ProposalView]
    members: list[Member]


def _rank(story_id: str, proposals: Iterable[ProposalView]) -> Rank:
    listed = list(proposals)
    return (
        max(p.score for p in listed),
        max(p.proposed_at for p in listed),
        story_id,
    )


def waiting(now: str) -> ColumnElement[bool]:
    """Waiting for review: pending, or snoozed until a moment now past."""
    return (col(ProposalView.state) == "pending") | (
        (col(ProposalView.state) == "snoozed") & (col(ProposalView.snoozed_until) <= now)
    )


def waiting_story_ids(
    session: Session, now: str, limit: int, offset: int = 0, after: Rank | None = None
) -> list[str]:
    """One page of stories with proposals waiting, best first (``after``: those ranked
    after it only, the page that follows the one that ended there)."""
    ranks: dict[str, Rank] = {}
    query = select(StoryView.story_id, StoryView.best_score, StoryView.newest_at).where(
        col(StoryView.best_score).is_not(None)
    )
    if after is not None:
        # a snoozed proposal now due can only raise a story's rank: filtered again below
        query = query.where(
            tuple_(
                col(StoryView.best_score),
                func.coalesce(col(StoryView.newest_at), ""),
                col(StoryView.story_id),
            )
            < tuple_(literal(after[0]), literal(after[1]), literal(after[2]))
        )
    pending = session.exec(
        query.order_by(
            col(StoryView.best_score).desc(),
            col(StoryView.newest_at).desc(),
            col(StoryView.story_id).desc(),
        ).limit(offset + limit)
    ).all()
    for story_id, best, newest in pending:
        ranks[story_id] = (float(best or 0), newest or "", story_id)
    due = session.exec(
        select(
            ProposalView.story_id,
            func.max(ProposalView.score),
            func.max(ProposalView.proposed_at),
        )
        .where(col(ProposalView.state) == "snoozed", col(ProposalView.snoozed_until) <= now)
        .group_by(ProposalView.story_id)
    ).all()
    for snoozed_story, best, newest in due:
        if snoozed_story is None:
            continue
        # The story's pending proposals count too (it may be past the first run's page).
        rank = ranks.get(snoozed_story)
        if rank is None:
            story = session.get(StoryView, snoozed_story)
            if story is not None and story.best_score is not None:
                rank = (story.best_score, story.newest_at or "", snoozed_story)
        ranks[snoozed_story] = (
            max(float(best), rank[0] if rank else 0.0),
            max(newest, rank[1] if rank else ""),
            snoozed_story,
        )
    ordered = sorted(
        (r for r in ranks.values() if after is None or r < after),
        reverse=True,
    )
    return [rank[2] for rank in ordered[offset : offset + limit]]


def story_rows(
    session: Session,
    story_ids: Sequence[str],
    now: str,
    proposals: Sequence[ProposalView] | None = None,
) -> list[StoryRow]:
    """The rows of ``story_ids`` (in that order) with their waiting proposals, or only with
    ``proposals`` when given (a filtered queue shows what the filter selected)."""
    if not story_ids:
        return []
    if proposals is None:
        proposals = list(
            session.exec(
                select(ProposalView).where(col(ProposalView.story_id).in_(story_ids), waiting(now))
            )
        )
    by_story: dict[str, list[ProposalView]] = defaultdict(list)
    for p in proposals:
        by_story[p.story_id or p.item_id].append(p)
    members = members_of(session, story_ids)
    stories = {
        s.story_id: s
        for s in session.exec(select(StoryView).where(col(StoryView.story_id).in_(story_ids)))
    }
    rows = []
    for story_id in story_ids:
        story = stories.get(story_id)
        listed = by_story.get(story_id)
        if story is None or not listed:
            continue
        rows.append(
            StoryRow(
                story_id=story_id,
                title=story.title,
                first_at=story.first_at,
                members=tuple(members.get(story_id, ())),
                commitments=_by_commitment(listed),
            )
        )
    return rows


def _by_commitment(proposals: Iterable[ProposalView]) -> tuple[CommitmentProposals, ...]:
    grouped: dict[str, list[ProposalView]] = defaultdict(list)
    for p in proposals:
        grouped[p.commitment_id].append(p)
    listed = [
        CommitmentProposals(
            commitment_id,
            tuple(sorted(items, key=lambda p: (-p.score, p.proposal_id))),
        )
        for commitment_id, items in grouped.items()
    ]
    return tuple(sorted(listed, key=lambda c: (-c.score, c.commitment_id)))


def rank_proposals(proposals: Iterable[ProposalView], after: Rank | None = None) -> list[str]:
    """The stories of ``proposals``, best first by the best of each story's proposals
    (``after``: only those ranked after it)."""
    by_story: dict[str, list[ProposalView]] = defaultdict(list)
    for p in proposals:
        by_story[p.story_id or p.item_id].append(p)
    ranked = sorted((_rank(s, items) for s, items in by_story.items()), reverse=True)
    return [rank[2] for rank in ranked if after is None or rank < after]


def rank_of(row: StoryRow) -> Rank:
    """Where ``row`` stands in the queue: a page that ends with it continues after this."""
    return _rank(row.story_id, row.proposals)


def members_of(session: Session, story_ids: Sequence[str]) -> dict[str, list[Member]]:
    """The members of each story, in the order they were discovered."""
    found: dict[str, list[Member]] = defaultdict(list)
    query = (
        select(StoryMemberView)
        .where(col(StoryMemberView.story_id).in_(story_ids))
        .order_by(col(StoryMemberView.story_id), col(StoryMemberView.position))
    )
    for m in session.exec(query):
        found[m.story_id].append(
            Member(m.item_id, m.source, m.outlet, m.url, m.title, m.published_at, m.joined_by)
        )
    return found


def find_stories(session: Session, prefix: str, limit: int = 2) -> list[StoryView]:
    """Stories whose id starts with ``prefix`` (taken literally: ``%`` and ``_`` are no
    wildcards)."""
    return list(
        session.exec(
            select(StoryView)
            .where(col(StoryView.story_id).startswith(prefix, autoescape=True))
            .limit(limit)
        )
    )


def story_proposals(session: Session, story_id: str) -> list[ProposalView]:
    """Every proposal about a member of the story, whatever its state."""
    return list(session.exec(select(ProposalView).where(ProposalView.story_id == story_id)))


def page(
    engine: Engine,
    now: str,
    limit: int,
    offset: int = 0,
    selected: Sequence[ProposalView] | None = None,
    after: Rank | None = None,
) -> list[StoryRow]:
    """One page of the queue at ``now``, a row per story, best first, in one snapshot:
    the stories with proposals waiting, or (``selected`` given) the stories of those
    proposals, each row listing only them. ``after``: the page that follows the row of
    that rank (:func:`rank_of`): a page by rank, not by position, so that what was decided
    meanwhile moves no row past the reader."""
    with Session(engine) as session:
        if selected is None:
            ids = waiting_story_ids(session, now, limit, offset, after)
            return story_rows(session, ids, now)
        ids = rank_proposals(selected, after)[offset : offset + limit]
        return story_rows(session, ids, now, selected)


def by_prefix(engine: Engine, prefix: str) -> Prefixed:
    """The stories whose id starts with ``prefix`` (two at most) and whether a proposal's
    id starts with it too, in one snapshot."""
    with Session(engine) as session:
        stories = find_stories(session, prefix)
        proposal = session.exec(
            select(ProposalView.proposal_id)
            .where(col(ProposalView.proposal_id).startswith(prefix, autoescape=True))
            .limit(1)
        ).first()
    return Prefixed(stories, proposal is not None)


def story_parts(engine: Engine, story_id: str) -> StoryParts:
    """Every proposal about a member of the story, whatever its state, and its members in
    the order they were discovered, in one snapshot."""
    with Session(engine) as session:
        proposals = story_proposals(session, story_id)
        members = members_of(session, [story_id]).get(story_id, [])
    return StoryParts(proposals, members)
