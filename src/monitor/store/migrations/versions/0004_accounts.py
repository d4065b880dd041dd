"""Accounts: users with roles and API tokens.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27

Kept out of the event journal on purpose: password hashes and token hashes must never
travel in an exported journal. Who was added, changed or disabled is still journalled
(UserChanged events, without secrets).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        # bumped on logout and disable: every session cookie of older epochs stops working
        sa.Column("session_epoch", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "api_tokens",
        sa.Column("token_id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("label", sa.Text(), nullable=False),
        # "api": scripts (read and write, by role); "feed": only the Atom feed, as it travels
        # in URLs (feed readers cannot send headers)
        sa.Column("scope", sa.String(10), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("revoked_at", sa.String(32), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("api_tokens")
    op.drop_table("accounts")
