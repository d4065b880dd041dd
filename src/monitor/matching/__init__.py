"""Matching news items to commitments: text forms, compiled rules, the matcher.

The names below are loaded on first use: the read models import ``monitor.matching.learning``
and should not pay for the matcher (its automaton library and stemmer) to do so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'monitor.matching' has no attribute {name!r}")
    import importlib

    home = "monitor.matching.text" if name == "normalise" else "monitor.matching.matcher"
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value
