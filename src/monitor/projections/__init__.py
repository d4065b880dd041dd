"""Read models folded from the journal; each can be dropped and rebuilt from events."""

from monitor.projections.commitments import (
    AssessmentView,
    CommitmentProjection,
    CommitmentTopicView,
    CommitmentView,
    ProjectionCheckpoint,
    TimelineView,
)
from monitor.projections.intake import (
    IntakeProjection,
    ItemKeyView,
    ItemView,
    ProposalView,
    SourceView,
)
from monitor.projections.learning import LearningProjection, ProposalRuleView, RuleReviewView
from monitor.projections.runner import Progress, Projection

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
