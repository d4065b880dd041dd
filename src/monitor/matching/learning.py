"""Learning from review: reviewers' decisions move the weight of the rules that proposed.

Each accepted proposal counts for every rule that fired on it, each rejection as irrelevant
against them (a duplicate, an unreliable source or an item from before the commitment says
nothing about the rule). A rule's factor is its smoothed acceptance rate against an even
prior: no decisions, factor 1; mostly rejected, down towards 0.5; mostly accepted, up
towards 1.5 (the matcher bounds it there too). Pure: the counts come from a read model,
rebuilt from the journal like any other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

#: pseudo-decisions each way before any real one: three decisions move a rule a little
PRIOR = 3.0
#: reasons for rejecting that say the rule was wrong
AGAINST_THE_RULE = frozenset({"irrelevant", "other"})
LOWEST, HIGHEST = 0.5, 1.5


@dataclass(slots=True)
class RuleRecord:
    """How reviewers decided on the proposals one rule made for one commitment."""

    accepted: int = 0
    rejected: int = 0

    @property
    def factor(self) -> float:
        rate = (self.accepted + PRIOR) / (self.accepted + self.rejected + 2 * PRIOR)
        return round(min(max(rate / 0.5, LOWEST), HIGHEST), 3)


def learned_factors(records: Mapping[tuple[str, str], RuleRecord]) -> dict[tuple[str, str], float]:
    """(commitment, rule) -> factor, for every rule with decisions that move it."""
    return {key: r.factor for key, r in records.items() if abs(r.factor - 1.0) > 1e-9}


def record_decision(
    records: dict[tuple[str, str], RuleRecord],
    commitment_id: str,
    rules: Iterable[str],
    accepted: bool,
    step: int = 1,
) -> None:
    """Count one decision (``step=-1`` takes one back, when a decision is undone)."""
    for rule in rules:
        record = records.setdefault((commitment_id, rule), RuleRecord())
        if accepted:
            record.accepted = max(record.accepted + step, 0)
        else:
            record.rejected = max(record.rejected + step, 0)
