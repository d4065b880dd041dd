"""Indexes and a count that keep the review queue and the dashboard fast on big journals.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27

The queue lists waiting proposals best first (score, then newest, then id): an index in
exactly that order lets the database walk the first page instead of sorting every
proposal. The dashboard asks, per commitment on its page, when a proposal about it was
last reviewed: (commitment_id, reviewed_at) answers that from the index alone. The count
of waiting proposals reads proposal_count_view (proposals by review state, kept by the
intake projection, seeded here from the rows it already has, in the same transaction as
its checkpoint) plus the snoozed ones now due, through (state, snoozed_until).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_proposal_view_queue", table_name="proposal_view")
    op.create_index(
        "ix_proposal_view_queue",
        "proposal_view",
        ["state", "score", "proposed_at", "proposal_id"],
    )
    op.create_index("ix_proposal_view_reviewed", "proposal_view", ["commitment_id", "reviewed_at"])
    op.create_index("ix_proposal_view_snoozed", "proposal_view", ["state", "snoozed_until"])
    op.create_table(
        "proposal_count_view",
        sa.Column("state", sa.String(20), primary_key=True),
        sa.Column("n", sa.BigInteger(), nullable=False),
    )
    op.execute(
        "INSERT INTO proposal_count_view (state, n) "
        "SELECT state, COUNT(*) FROM proposal_view GROUP BY state"
    )


def downgrade() -> None:
    op.drop_table("proposal_count_view")
    op.drop_index("ix_proposal_view_snoozed", table_name="proposal_view")
    op.drop_index("ix_proposal_view_reviewed", table_name="proposal_view")
    op.drop_index("ix_proposal_view_queue", table_name="proposal_view")
    op.create_index("ix_proposal_view_queue", "proposal_view", ["state", "score"])
