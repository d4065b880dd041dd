"""Read models folded from the journal; each can be dropped and rebuilt from events.

Each read model's module is loaded on first use of one of its names: listing commitments
loads neither the review queue's tables nor the matcher they need. :func:`load_all` loads
every one (for a complete ``SQLModel.metadata``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monitor.projections.commitments import (
        AssessmentView,
        CommitmentProjection,
        CommitmentTopicView,
        CommitmentView,
        ProjectionCheckpoint,
        TimelineView,
    )
    from monitor.projections.items import (
        IntakeProjection,
        ItemKeyView,
        ItemView,
        ProposalView,
        SourceView,
    )
    from monitor.projections.learning import LearningProjection, ProposalRuleView, RuleReviewView
    from monitor.projections.runner import Progress, Projection

_HOMES = {
    **dict.fromkeys(
        (
            "AssessmentView",
            "CommitmentProjection",
            "CommitmentTopicView",
            "CommitmentView",
            "ProjectionCheckpoint",
            "TimelineView",
        ),
        "commitments",
    ),
    **dict.fromkeys(
        ("IntakeProjection", "ItemKeyView", "ItemView", "ProposalView", "SourceView"), "items"
    ),
    **dict.fromkeys(("LearningProjection", "ProposalRuleView", "RuleReviewView"), "learning"),
    **dict.fromkeys(("Progress", "Projection"), "runner"),
}
#: every module that defines read-model tables
MODULES = ("commitments", "items", "learning", "stories")

__all__ = [
    "AssessmentView",
    "CommitmentProjection",
    "CommitmentTopicView",
    "CommitmentView",
    "IntakeProjection",
    "ItemKeyView",
    "ItemView",
    "LearningProjection",
    "Progress",
    "Projection",
    "ProjectionCheckpoint",
    "ProposalRuleView",
    "ProposalView",
    "RuleReviewView",
    "SourceView",
    "TimelineView",
]


def load_all() -> None:
    """Import every read model (so that ``SQLModel.metadata`` holds all their tables)."""
    for module in MODULES:
        importlib.import_module(f"monitor.projections.{module}")


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'monitor.projections' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"monitor.projections.{home}"), name)
    globals()[name] = value
    return value
