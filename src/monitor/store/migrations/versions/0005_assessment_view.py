"""Assessments in force per commitment, for status history without folding every stream.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27

The commitments projection gains a table, so it is rebuilt: its rows are cleared and its
checkpoint reset, and the next catch-up folds the journal again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "assessment_view",
        sa.Column("assessment_id", sa.String(36), primary_key=True),
        sa.Column("commitment_id", sa.Text(), nullable=False),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("effective_at", sa.String(32), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_assessment_view_commitment", "assessment_view", ["commitment_id"])
    for table in ("timeline_view", "commitment_topic_view", "commitment_view"):
        op.execute(f"DELETE FROM {table}")
    op.execute("UPDATE projection_checkpoints SET position = 0 WHERE name = 'commitments'")


def downgrade() -> None:
    op.drop_table("assessment_view")
