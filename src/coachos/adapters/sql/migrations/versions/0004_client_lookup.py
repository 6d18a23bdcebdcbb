"""Indexes for finding a returning client by email or phone.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 22:59:35.130990
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.create_index("ix_clients_org_id_email", ["org_id", "email"], unique=False)
        batch_op.create_index("ix_clients_org_id_phone", ["org_id", "phone"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_index("ix_clients_org_id_phone")
        batch_op.drop_index("ix_clients_org_id_email")
