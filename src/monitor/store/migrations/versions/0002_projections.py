"""Read models (projections) with their checkpoints.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Read models hold text from events (and, later, from feeds): no column of theirs has a
    # length limit, so a projection never refuses an event that the journal accepted.
    checkpoints = op.create_table(
        "projection_checkpoints",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("position", sa.BigInteger(), nullable=False),
    )
    op.bulk_insert(checkpoints, [{"name": "commitments", "position": 0}])
    op.create_table(
        "commitment_view",
        sa.Column("commitment_id", sa.Text(), primary_key=True),
        sa.Column("statement_id", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("status_effective_at", sa.String(32), nullable=True),
        sa.Column("last_assessed_at", sa.String(32), nullable=True),
        sa.Column("made_on", sa.String(10), nullable=False),
        sa.Column("deadline", sa.String(10), nullable=True),
        sa.Column("topics", sa.Text(), nullable=False),
        sa.Column("parties", sa.Text(), nullable=False),
        sa.Column("retired", sa.Boolean(), nullable=False),
        sa.Column("evidence_count", sa.Integer(), nullable=False),
        sa.Column("note_count", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "commitment_topic_view",
        sa.Column("commitment_id", sa.Text(), primary_key=True),
        sa.Column("topic", sa.Text(), primary_key=True),
    )
    op.create_index("ix_commitment_topic_view_topic", "commitment_topic_view", ["topic"])
    op.create_table(
        "timeline_view",
        sa.Column("position", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("commitment_id", sa.Text(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("effective_at", sa.String(32), nullable=True),
        sa.Column("recorded_at", sa.String(32), nullable=False),
        sa.Column("actor", sa.Text(), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
    )
    op.create_index("ix_timeline_view_commitment", "timeline_view", ["commitment_id", "position"])


def downgrade() -> None:
    op.drop_table("timeline_view")
    op.drop_table("commitment_topic_view")
    op.drop_table("commitment_view")
    op.drop_table("projection_checkpoints")
