"""Billing core: packages learn whether they are paid; ledger transactions name client and item.

- packages.payment_state ('pending', 'paid', 'failed', 'refunded'): credits are used only from a
  'paid' package, and the conditional credit UPDATE checks it. Packages sold before this migration
  were recorded by hand as sold, so they stay 'paid' with payment_method 'unrecorded'.
- packages.payment_method, paid_at, payment_ref (Stripe's Checkout Session or PaymentIntent id).
- ledger_transactions.client_id and item: who paid and what for, so reports group revenue by
  client and by what was sold. Adding columns is DDL, which the ledger's append-only triggers
  (0022) do not refuse; existing rows get NULL and ''.

Plain ADD COLUMN on both databases (no table rebuild), so the ledger's rows and triggers stay put.

Revision ID: 0023
Revises: 0021
Create Date: 2026-11-28 14:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("packages", sa.Column("payment_state", sa.String(20), nullable=False, server_default="paid"))
    op.add_column("packages", sa.Column("payment_method", sa.String(20), nullable=False, server_default="unrecorded"))
    op.add_column("packages", sa.Column("paid_at", sa.DateTime(timezone=True)))
    op.add_column("packages", sa.Column("payment_ref", sa.String(255)))
    op.add_column("ledger_transactions", sa.Column("client_id", sa.Uuid()))
    op.add_column("ledger_transactions", sa.Column("item", sa.String(200), nullable=False, server_default=""))


def downgrade() -> None:
    # SQLite (3.35+) drops a column in place; the ledger's rows are untouched apart from the column.
    op.drop_column("ledger_transactions", "item")
    op.drop_column("ledger_transactions", "client_id")
    for column in ("payment_ref", "paid_at", "payment_method", "payment_state"):
        op.drop_column("packages", column)
