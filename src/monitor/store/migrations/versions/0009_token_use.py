"""When each API token was last used, so an admin can tell a live token from a forgotten one.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-10

``monitor token list`` shows it; a token's use is written at most once an hour (a feed
reader polling every few minutes must not turn every read into a write). Tokens made
before this revision have none until their next use.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("api_tokens", sa.Column("last_used_at", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("last_used_at")
