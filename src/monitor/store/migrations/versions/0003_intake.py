"""Read models of intake: sources and their health, items seen, proposals for review.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "source_view",
        sa.Column("name", sa.Text(), primary_key=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("interval_seconds", sa.Integer(), nullable=False),
        sa.Column("language", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("origin", sa.Text(), nullable=False),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.Column("next_check_at", sa.String(32), nullable=True),
        sa.Column("last_checked_at", sa.String(32), nullable=True),
        sa.Column("last_success_at", sa.String(32), nullable=True),
        sa.Column("last_outcome", sa.Text(), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("failing_since", sa.String(32), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.Text(), nullable=True),
        sa.Column("items_seen", sa.Integer(), nullable=False),
        sa.Column("proposals", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_index("ix_source_view_next_check", "source_view", ["next_check_at"])
    op.create_table(
        "item_view",
        sa.Column("item_id", sa.String(36), primary_key=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("canonical_url", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("published_at", sa.String(32), nullable=True),
        sa.Column("first_seen_at", sa.String(32), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("outlet", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_index("ix_item_view_canonical_url", "item_view", ["canonical_url"])
    op.create_table(
        "item_key_view",
        sa.Column("source", sa.Text(), primary_key=True),
        sa.Column("key", sa.Text(), primary_key=True),
        sa.Column("item_id", sa.String(36), nullable=False),
        # what this source showed last: an edit is a change from it
        sa.Column("content_hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "proposal_view",
        sa.Column("proposal_id", sa.String(36), primary_key=True),
        sa.Column("commitment_id", sa.Text(), nullable=False),
        sa.Column("item_id", sa.String(36), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("published_at", sa.String(32), nullable=True),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("matched_terms", sa.Text(), nullable=False),
        sa.Column("matcher_version", sa.Text(), nullable=False),
        sa.Column("proposed_at", sa.String(32), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("reviewer", sa.Text(), nullable=True),
        sa.Column("reviewed_at", sa.String(32), nullable=True),
        sa.Column("snoozed_until", sa.String(32), nullable=True),
        sa.Column("reject_reason", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_index("ix_proposal_view_queue", "proposal_view", ["state", "score"])
    op.create_index("ix_proposal_view_commitment", "proposal_view", ["commitment_id"])
    checkpoints = sa.table(
        "projection_checkpoints", sa.column("name", sa.String), sa.column("position", sa.BigInteger)
    )
    op.bulk_insert(checkpoints, [{"name": "intake", "position": 0}])


def downgrade() -> None:
    for table in ("proposal_view", "item_key_view", "item_view", "source_view"):
        op.drop_table(table)
    op.execute("DELETE FROM projection_checkpoints WHERE name = 'intake'")
