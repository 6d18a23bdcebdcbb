"""The platform's plans, each business's subscription to one, and the invoices it paid the platform.

- platform_plans: key, name, monthly price (minor units + currency), platform fee on each client sale
  in basis points (500 = 5 %). Platform-wide: no org_id, no row-level security. Seeded with
  Starter (free, 5 %) and Pro (49.00 USD a month, 2 %).
- org_subscriptions: one row per business; the newest Stripe event applied (`status_at`).
- platform_invoices: one row per Stripe invoice of a business's subscription (paid, or failed and noticed).

Both per-business tables carry the tenant policy. The operator's revenue report reads subscriptions and
the ledger's platform fees across businesses with `app.operator_report` = 'on' (reads only), so the
ledger tables' policies (0022) are recreated with that flag added to USING (WITH CHECK stays strict).

Revision ID: 0026
Revises: 0024
Create Date: 2026-11-28 15:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0024"
branch_labels = None
depends_on = None

POLICY = "tenant_isolation"
_ORG = "NULLIF(current_setting('app.org_id', true), '')::uuid"
_OPERATOR = "current_setting('app.operator_report', true) = 'on'"
LEDGER = ("ledger_transactions", "ledger_entries")


def upgrade() -> None:
    plans = op.create_table(
        "platform_plans",
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("price_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("fee_bps", sa.Integer(), nullable=False),
        sa.CheckConstraint("price_minor >= 0", name=op.f("ck_platform_plans_price_minor_not_negative")),
        sa.CheckConstraint("fee_bps >= 0 AND fee_bps <= 10000", name=op.f("ck_platform_plans_fee_bps_in_range")),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_platform_plans")),
    )
    op.bulk_insert(
        plans,
        [
            {"key": "starter", "name": "Starter", "price_minor": 0, "currency": "USD", "fee_bps": 500},
            {"key": "pro", "name": "Pro", "price_minor": 4900, "currency": "USD", "fee_bps": 200},
        ],
    )
    op.create_table(
        "org_subscriptions",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("plan_key", sa.String(length=40), nullable=False),
        sa.Column("subscription_id", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("current_period_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_org_subscriptions_org_id_organizations")
        ),
        sa.ForeignKeyConstraint(
            ["plan_key"], ["platform_plans.key"], name=op.f("fk_org_subscriptions_plan_key_platform_plans")
        ),
        sa.PrimaryKeyConstraint("org_id", name=op.f("pk_org_subscriptions")),
    )
    op.create_table(
        "platform_invoices",
        sa.Column("invoice_id", sa.String(length=255), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("subscription_id", sa.String(length=255), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failure_noticed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_platform_invoices_org_id_organizations")
        ),
        sa.PrimaryKeyConstraint("invoice_id", name=op.f("pk_platform_invoices")),
    )
    op.create_index("ix_platform_invoices_org_id", "platform_invoices", ["org_id"])
    if op.get_bind().dialect.name != "postgresql":
        return
    strict = f"org_id = {_ORG}"
    op.execute("ALTER TABLE org_subscriptions ENABLE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY {POLICY} ON org_subscriptions USING ({strict} OR {_OPERATOR}) WITH CHECK ({strict})")
    op.execute("ALTER TABLE platform_invoices ENABLE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY {POLICY} ON platform_invoices USING ({strict}) WITH CHECK ({strict})")
    for table in LEDGER:
        op.execute(f"DROP POLICY {POLICY} ON {table}")
        op.execute(f"CREATE POLICY {POLICY} ON {table} USING ({strict} OR {_OPERATOR}) WITH CHECK ({strict})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        strict = f"org_id = {_ORG}"
        for table in LEDGER:
            op.execute(f"DROP POLICY {POLICY} ON {table}")
            op.execute(f"CREATE POLICY {POLICY} ON {table} USING ({strict}) WITH CHECK ({strict})")
    op.drop_index("ix_platform_invoices_org_id", table_name="platform_invoices")
    op.drop_table("platform_invoices")
    op.drop_table("org_subscriptions")
    op.drop_table("platform_plans")
