"""Answers the JSON API remembers by Idempotency-Key, so a repeated POST records once.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03

A client that timed out sends its POST again with the same Idempotency-Key; the answer
the first one got is kept here, per account and key, with a hash of the request (the same
key with another request is refused), and given again. In the database, not in a process,
so every host behind one address shares them; a row older than 24 hours is deleted. Not
journalled: it is a cache of answers, not a fact about commitments.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("account", sa.String(100), primary_key=True),
        sa.Column("idempotency_key", sa.String(255), primary_key=True),
        # SHA-256 of the method, path, query and body (JSON in a canonical form)
        sa.Column("fingerprint", sa.String(64), nullable=False),
        # NULL while the first request is being answered
        sa.Column("status", sa.Integer(), nullable=True),
        sa.Column("media_type", sa.String(100), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_idempotency_keys_created_at", table_name="idempotency_keys")
    op.drop_table("idempotency_keys")
