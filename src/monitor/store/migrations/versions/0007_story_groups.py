"""Story groups in the review queue, and why each proposal was made.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03

The same story told by several outlets or searches is one group in the queue: story_view
(one row per story, its id the id of its first item, ordered for the queue by its best
waiting proposal through ix_story_view_queue), story_member_view (item -> story, with what
people see of each member), story_token_view and story_token_count_view (the index that
finds the members a new item may join). proposal_view gains the proposal's story and its
explanation (EvidenceProposed v2: the rules that fired and the words they fired on, as
JSON).

Which story an item joins depends on every item folded before it, so the groups of the
items already projected cannot be made by SQL here: the intake read models are emptied and
their checkpoint set back to 0, in this transaction, and the next catch-up (any command, or
`monitor rebuild`) folds the journal again and fills them, groups and explanations alike.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

INTAKE_TABLES = (
    "proposal_count_view",
    "proposal_view",
    "item_key_view",
    "item_view",
    "source_view",
)


def upgrade() -> None:
    op.create_table(
        "story_view",
        sa.Column("story_id", sa.String(36), primary_key=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("first_at", sa.String(32), nullable=False),
        sa.Column("first_position", sa.BigInteger(), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("pending", sa.Integer(), nullable=False),
        sa.Column("best_score", sa.Float(), nullable=True),
        sa.Column("newest_at", sa.String(32), nullable=True),
    )
    # The queue: stories with a pending proposal, best first, then the newest, then the id.
    op.create_index("ix_story_view_queue", "story_view", ["best_score", "newest_at", "story_id"])
    op.create_table(
        "story_member_view",
        sa.Column("item_id", sa.String(36), primary_key=True),
        sa.Column("story_id", sa.String(36), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("outlet", sa.Text(), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("published_at", sa.String(32), nullable=True),
        sa.Column("joined_by", sa.Text(), nullable=True),
        sa.Column("features", sa.Text(), nullable=False),
    )
    op.create_index("ix_story_member_view_story", "story_member_view", ["story_id", "position"])
    op.create_table(
        "story_token_view",
        sa.Column("token", sa.Text(), primary_key=True),
        sa.Column("item_id", sa.String(36), primary_key=True),
        sa.Column("story_at", sa.String(32), nullable=False),
    )
    # A probe reads one token's postings within a window of story starts, newest first.
    op.create_index(
        "ix_story_token_view_window", "story_token_view", ["token", "story_at", "item_id"]
    )
    op.create_table(
        "story_token_count_view",
        sa.Column("token", sa.Text(), primary_key=True),
        sa.Column("n", sa.BigInteger(), nullable=False),
    )
    op.add_column("proposal_view", sa.Column("explanation", sa.Text(), nullable=True))
    op.add_column("proposal_view", sa.Column("story_id", sa.String(36), nullable=True))
    op.create_index("ix_proposal_view_story", "proposal_view", ["story_id", "state"])
    for table in INTAKE_TABLES:
        op.execute(f"DELETE FROM {table}")
    op.execute("UPDATE projection_checkpoints SET position = 0 WHERE name = 'intake'")


def downgrade() -> None:
    op.drop_index("ix_proposal_view_story", table_name="proposal_view")
    with op.batch_alter_table("proposal_view") as batch:
        batch.drop_column("story_id")
        batch.drop_column("explanation")
    op.drop_table("story_token_count_view")
    op.drop_index("ix_story_token_view_window", table_name="story_token_view")
    op.drop_table("story_token_view")
    op.drop_index("ix_story_member_view_story", table_name="story_member_view")
    op.drop_table("story_member_view")
    op.drop_index("ix_story_view_queue", table_name="story_view")
    op.drop_table("story_view")
