"""Refunds: money given back on a sale, and one lock-and-sum row per refunded sale.

- refunds: one row per refund (by the coach in Coach OS, or found in Stripe's dashboard), naming the
  sale by its ledger key; state pending → succeeded | failed; `stripe_refund_id` unique when set.
- refund_totals: per (business, sale) what is reserved (pending + succeeded; never more than the
  sale's gross, checked by the upsert and a CHECK), what the ledger holds, and what the credits
  removed by refunds stood for (package revenue recognition prices the remaining credits with it).

Both carry the tenant policy.

Revision ID: 0028
Revises: 0026
Create Date: 2026-11-28 15:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0026"
branch_labels = None
depends_on = None

POLICY = "tenant_isolation"
_ORG = "NULLIF(current_setting('app.org_id', true), '')::uuid"


def upgrade() -> None:
    op.create_table(
        "refunds",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("sale_key", sa.String(length=200), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reason", sa.String(length=500), server_default="", nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("stripe_refund_id", sa.String(length=255), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failure", sa.String(length=500), nullable=True),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_refunds_amount_positive")),
        sa.CheckConstraint("state IN ('pending', 'succeeded', 'failed')", name=op.f("ck_refunds_state_known")),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], name=op.f("fk_refunds_org_id_organizations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refunds")),
        sa.UniqueConstraint("stripe_refund_id", name=op.f("uq_refunds_stripe_refund_id")),
    )
    op.create_index("ix_refunds_org_id_sale_key", "refunds", ["org_id", "sale_key"])
    op.create_index("ix_refunds_org_id_state", "refunds", ["org_id", "state"])
    op.create_table(
        "refund_totals",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("sale_key", sa.String(length=200), nullable=False),
        sa.Column("gross_minor", sa.BigInteger(), nullable=False),
        sa.Column("reserved_minor", sa.BigInteger(), nullable=False),
        sa.Column("booked_minor", sa.BigInteger(), nullable=False),
        sa.Column("credits_value_minor", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "reserved_minor >= 0 AND reserved_minor <= gross_minor",
            name=op.f("ck_refund_totals_reserved_within_gross"),
        ),
        sa.CheckConstraint(
            "booked_minor >= 0 AND booked_minor <= reserved_minor",
            name=op.f("ck_refund_totals_booked_within_reserved"),
        ),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], name=op.f("fk_refund_totals_org_id_organizations")),
        sa.PrimaryKeyConstraint("org_id", "sale_key", name=op.f("pk_refund_totals")),
    )
    if op.get_bind().dialect.name != "postgresql":
        return
    strict = f"org_id = {_ORG}"
    for table in ("refunds", "refund_totals"):
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY {POLICY} ON {table} USING ({strict}) WITH CHECK ({strict})")


def downgrade() -> None:
    op.drop_table("refund_totals")
    op.drop_index("ix_refunds_org_id_state", table_name="refunds")
    op.drop_index("ix_refunds_org_id_sale_key", table_name="refunds")
    op.drop_table("refunds")
