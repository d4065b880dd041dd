"""Learning from review: decisions move the weight of the rules that proposed."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor import Monitor
from monitor.domain.catalogue import parse_catalogue
from monitor.matching import Matcher
from monitor.matching.evaluation import load_labelled, replay
from monitor.matching.learning import RuleRecord, learned_factors, record_decision

from .conftest import CATALOGUE
from .test_review import proposal, reviewed  # noqa: F401  (a fixture)

DEVSET = Path(__file__).parent / "data" / "matching"
RULE = ("EPCC23-SEMI-01", "legacy chips with Japan")


def test_a_rule_moves_with_decisions_and_stays_bounded() -> None:
    assert RuleRecord().factor == 1.0
    assert RuleRecord(accepted=0, rejected=3).factor < 1.0
    assert RuleRecord(accepted=3, rejected=0).factor > 1.0
    assert RuleRecord(accepted=0, rejected=1000).factor == 0.5
    assert RuleRecord(accepted=1000, rejected=0).factor == 1.5
    records: dict[tuple[str, str], RuleRecord] = {}
    record_decision(records, "C", ["r"], accepted=False)
    record_decision(records, "C", ["r"], accepted=False, step=-1)  # undone
    assert learned_factors(records) == {}


def test_replaying_the_development_set_learns_without_losing(
    tmp_path: Path,
) -> None:
    catalogue = parse_catalogue(CATALOGUE.read_text(encoding="utf-8"), "commitments.toml")
    result = replay(load_labelled([DEVSET]), Matcher(catalogue.commitments))
    assert result.learning.items > 30
    assert result.learning.overall.precision >= result.static.overall.precision
    assert result.learning.overall.recall >= result.static.overall.recall
    assert result.factors  # the decisions taught something


def test_review_decisions_reach_the_matcher_and_a_rebuild_agrees(reviewed) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    monitor: Monitor = reviewed[0]
    assert RULE not in monitor.matching.matcher().learned
    pid = proposal(monitor, "EPCC23-SEMI-01")
    monitor.review.decide(pid[:8], "reject", by="bob", reason="irrelevant")
    taught = monitor.matching.matcher().learned
    assert taught[RULE] < 1.0
    live = monitor.learning.records()
    monitor.rebuild()
    assert monitor.learning.records() == live
    # undoing the decision takes it back
    [rejected] = [
        e
        for e in monitor.store.read_stream(f"proposal-{pid}")
        if e.event_type == "EvidenceRejected"
    ]
    monitor.review.undo(rejected.event_id, by="bob", rationale="wrong button")
    assert RULE not in monitor.matching.matcher().learned


@pytest.mark.parametrize("reason", ["duplicate", "before-commitment"])
def test_rejections_that_say_nothing_of_the_rule_teach_nothing(reviewed, reason: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    monitor: Monitor = reviewed[0]
    pid = proposal(monitor, "EPCC23-SEMI-01")
    monitor.review.decide(pid[:8], "reject", by="bob", reason=reason)
    assert RULE not in monitor.matching.matcher().learned
