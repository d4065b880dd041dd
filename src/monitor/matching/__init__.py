"""Matching news items to commitments: text forms, compiled rules, the matcher."""

from monitor.matching.matcher import (
    ALGORITHM_VERSION,
    MIN_SCORE,
    Match,
    MatchableItem,
    Matcher,
    Reason,
    RuleReport,
)
from monitor.matching.text import normalise

__all__ = [
    "ALGORITHM_VERSION",
    "MIN_SCORE",
    "Match",
    "MatchableItem",
    "Matcher",
    "Reason",
    "RuleReport",
    "normalise",
]
