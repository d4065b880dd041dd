"""The learning read model: per proposal the rules that fired, per rule the decisions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlmodel import Field, SQLModel

from monitor.events import REGISTRY
from monitor.matching.learning import AGAINST_THE_RULE, RuleRecord
from monitor.projections.runner import Projection
from monitor.store.sql import Row, SqlEventStore

NAME = "learning"
_TYPES = ("EvidenceProposed", "ProposalAccepted", "EvidenceRejected", "ProposalReopened")


class ProposalRuleView(SQLModel, table=True):
    __tablename__ = "proposal_rule_view"
    proposal_id: str = Field(primary_key=True, max_length=36)
    commitment_id: str
    #: JSON list of the names of the rules that fired
    rules: str
    #: "accepted", "rejected" (as irrelevant), or None: undecided or decided otherwise
    decision: str | None = Field(default=None, max_length=20)
    #: the story the counted decision was made on (a story is counted once)
    story_id: str | None = Field(default=None, max_length=36, index=True)


class RuleReviewView(SQLModel, table=True):
    __tablename__ = "rule_review_view"
    commitment_id: str = Field(primary_key=True)
    rule: str = Field(primary_key=True)
    accepted: int
    rejected: int


class LearningProjection(Projection):
    """Counts reviewers' accepts and rejects against the rules that made each proposal."""

    name = NAME
    tables = ("rule_review_view", "proposal_rule_view")

    def __init__(self, store: SqlEventStore, batch_size: int = 10_000) -> None:
        super().__init__(store, batch_size)
        m = self.mark
        self._insert = (
            "INSERT INTO proposal_rule_view (proposal_id, commitment_id, rules, decision) "
            f"VALUES ({m}, {m}, {m}, NULL) ON CONFLICT (proposal_id) DO NOTHING"
        )
        self._read = (
            f"SELECT commitment_id, rules, decision FROM proposal_rule_view WHERE proposal_id = {m}"
        )
        self._decide = (
            f"UPDATE proposal_rule_view SET decision = {m}, story_id = {m} WHERE proposal_id = {m}"
        )
        self._story_decided = (
            "SELECT 1 FROM proposal_rule_view WHERE story_id = "
            f"{m} AND commitment_id = {m} AND decision IS NOT NULL"
        )
        self._count = (
            "INSERT INTO rule_review_view (commitment_id, rule, accepted, rejected) "
            f"VALUES ({m}, {m}, {m}, {m}) ON CONFLICT (commitment_id, rule) DO UPDATE SET "
            "accepted = rule_review_view.accepted + excluded.accepted, "
            "rejected = rule_review_view.rejected + excluded.rejected"
        )

    def apply(self, cursor: Any, rows: Sequence[Row]) -> None:
        for row in rows:
            event_type = row[4]
            if event_type not in _TYPES:
                continue
            data = REGISTRY.upcast(event_type, row[5], json.loads(row[6]))
            proposal = str(data["proposal_id"])
            if event_type == "EvidenceProposed":
                rules = [r["name"] for r in data.get("explanation", ()) if r["kind"] == "rule"]
                cursor.execute(self._insert, (proposal, data["commitment_id"], json.dumps(rules)))
                continue
            cursor.execute(self._read, (proposal,))
            found = cursor.fetchone()
            if found is None:
                continue
            commitment, rules, decision = found[0], json.loads(found[1]), found[2]
            new: str | None
            meta = row[7] if isinstance(row[7], dict) else json.loads(row[7] or "{}")
            story = meta.get("story")
            if event_type == "ProposalAccepted":
                new = "accepted"
            elif event_type == "EvidenceRejected":
                new = "rejected" if data["reason"] in AGAINST_THE_RULE else None
                if new and story and self._story_counted(cursor, story, commitment):
                    new = None  # a story told by five outlets is one decision, not five
            else:  # reopened: the decision in force is taken back
                new = None
            if new == decision:
                continue
            for rule in rules:
                cursor.execute(
                    self._count,
                    (
                        commitment,
                        rule,
                        (new == "accepted") - (decision == "accepted"),
                        (new == "rejected") - (decision == "rejected"),
                    ),
                )
            cursor.execute(self._decide, (new, story if new else None, proposal))

    def _story_counted(self, cursor: Any, story: str, commitment: str) -> bool:
        cursor.execute(self._story_decided, (story, commitment))
        return cursor.fetchone() is not None

    def records(self) -> dict[tuple[str, str], RuleRecord]:
        """Every (commitment, rule) with its decisions so far (the read model caught up)."""
        self.catch_up()
        with self.store.read_transaction() as conn:
            rows = conn.execute(
                text("SELECT commitment_id, rule, accepted, rejected FROM rule_review_view")
            ).all()
        return {(r[0], r[1]): RuleRecord(int(r[2]), int(r[3])) for r in rows}
