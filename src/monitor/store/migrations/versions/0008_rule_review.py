"""What reviewers decided on the proposals of each match rule (learning from review).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03

proposal_rule_view keeps, per proposal, the rules that fired on it and the decision in
force (and the story it was made on: a story rejected for five outlets counts once);
rule_review_view counts accepted and rejected proposals per (commitment, rule). The
matcher reads the counts as weights. Filled by the "learning" projection from the journal:
its checkpoint starts at 0, so the next catch-up folds every past decision.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "proposal_rule_view",
        sa.Column("proposal_id", sa.String(36), primary_key=True),
        sa.Column("commitment_id", sa.String(), nullable=False),
        sa.Column("rules", sa.Text(), nullable=False),
        sa.Column("decision", sa.String(20), nullable=True),
        sa.Column("story_id", sa.String(36), nullable=True),
    )
    op.create_index("ix_proposal_rule_view_story_id", "proposal_rule_view", ["story_id"])
    op.create_table(
        "rule_review_view",
        sa.Column("commitment_id", sa.String(), primary_key=True),
        sa.Column("rule", sa.String(), primary_key=True),
        sa.Column("accepted", sa.BigInteger(), nullable=False),
        sa.Column("rejected", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("rule_review_view")
    op.drop_index("ix_proposal_rule_view_story_id", table_name="proposal_rule_view")
    op.drop_table("proposal_rule_view")
