"""Inbox: a partial index of unread incoming messages, for the unread counts on every coach page.

Revision ID: 0014
Revises: 0010
Create Date: 2026-11-28 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0010"
branch_labels = None
depends_on = None

UNREAD = "direction = 'in' AND read_at IS NULL"


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_messages_unread",
            ["org_id", "client_id"],
            unique=False,
            postgresql_where=sa.text(UNREAD),
            sqlite_where=sa.text(UNREAD),
        )


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_unread")
