"""The queries on the proposals' read model (proposal_view): the review queue one proposal
at a time, proposals by id prefix, per item, per story, and what a digest reports waiting.
The capabilities ask these typed functions, never write SQL themselves."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import Connection, Engine, bindparam, func, text
from sqlmodel import Session, col, select

from monitor.projections.items import ProposalView
from monitor.projections.queue import waiting


class ItemProposal(NamedTuple):
    """A proposal about an item, as a rematch compares it with what the rules make now."""

    proposal_id: str
    commitment_id: str
    item_id: str
    state: str
    title: str
    score: float


@dataclass(frozen=True, slots=True)
class WaitingSummary:
    """The proposals waiting about some commitments: how many, and the best of them."""

    count: int
    top: list[ProposalView]


def queue(
    engine: Engine,
    now: str,
    *,
    commitment: str | None = None,
    min_score: float = 0.0,
    limit: int = 200,
    offset: int = 0,
) -> list[ProposalView]:
    """Proposals waiting for review at ``now`` (pending, or snoozed until then), best first.

    Best first is: score, then the newest proposal, then the id. Pending and due snoozed
    proposals are read as two runs in that order (each walks an index, none sorts the
    whole table) and merged.
    """
    order = (
        col(ProposalView.score).desc(),
        col(ProposalView.proposed_at).desc(),
        col(ProposalView.proposal_id).desc(),
    )
    runs = []
    with Session(engine) as session:
        for run in (
            col(ProposalView.state) == "pending",
            (col(ProposalView.state) == "snoozed") & (col(ProposalView.snoozed_until) <= now),
        ):
            query = select(ProposalView).where(run)
            if min_score > 0:
                query = query.where(ProposalView.score >= min_score)
            if commitment:
                query = query.where(ProposalView.commitment_id == commitment)
            runs.append(list(session.exec(query.order_by(*order).limit(offset + limit))))
    merged = heapq.merge(*runs, key=lambda p: (p.score, p.proposed_at, p.proposal_id), reverse=True)
    return list(itertools.islice(merged, offset, offset + limit))


def proposals_starting(engine: Engine, prefix: str, limit: int = 2) -> list[ProposalView]:
    """Proposals whose id starts with ``prefix`` (taken literally), at most ``limit`` of
    them."""
    with Session(engine) as session:
        return list(
            session.exec(
                select(ProposalView)
                .where(col(ProposalView.proposal_id).startswith(prefix, autoescape=True))
                .limit(limit)
            ).all()
        )


def of_items(conn: Connection, item_ids: Sequence[str]) -> list[ItemProposal]:
    """Every proposal about these items, whatever its state (one ``IN (...)``: the caller
    passes a page of ids), read in the caller's transaction."""
    rows = conn.execute(
        text(
            "SELECT proposal_id, commitment_id, item_id, state, title, score "
            "FROM proposal_view WHERE item_id IN :ids"
        ).bindparams(bindparam("ids", expanding=True)),
        {"ids": list(item_ids)},
    ).all()
    return [ItemProposal(p, c, i, s, t, float(score)) for p, c, i, s, t, score in rows]


def waiting_about(
    engine: Engine, now: str, commitments: Collection[str], top: int
) -> WaitingSummary:
    """How many proposals about ``commitments`` wait for review at ``now``, and the ``top``
    best of them (by score, then the newest), in one snapshot."""
    scope = col(ProposalView.commitment_id).in_(sorted(commitments))
    with Session(engine) as session:
        count = int(session.exec(select(func.count()).where(waiting(now), scope)).one())
        best = session.exec(
            select(ProposalView)
            .where(waiting(now), scope)
            .order_by(col(ProposalView.score).desc(), col(ProposalView.proposed_at).desc())
            .limit(top)
        ).all()
    return WaitingSummary(count, list(best))


def closed_as_duplicates(engine: Engine, proposal_id: str) -> list[ProposalView]:
    """The proposals rejected as duplicates in the story of ``proposal_id`` about the same
    commitment (what accepting that story closed); none if it has no story."""
    with Session(engine) as session:
        accepted = session.get(ProposalView, proposal_id)
        if accepted is None or accepted.story_id is None:
            return []
        return list(
            session.exec(
                select(ProposalView).where(
                    ProposalView.story_id == accepted.story_id,
                    ProposalView.commitment_id == accepted.commitment_id,
                    ProposalView.state == "rejected",
                    ProposalView.reject_reason == "duplicate",
                )
            ).all()
        )
