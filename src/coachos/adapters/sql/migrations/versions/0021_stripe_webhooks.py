"""Stripe webhooks: every event taken in once, and each business's connected account.

- stripe_events: one row per Stripe event id (the primary key is the dedupe); no org_id, so no
  row-level security: an event names no organisation, and only the webhook's use case uses it.
- stripe_accounts: a business's connected account, whether it can take charges, and the `created`
  of the newest account.updated applied. Row-level security with the tenant policy; the webhook
  finds the business of an account across organisations while it sets `app.stripe_account_lookup`
  (reads only).

Revision ID: 0021
Revises: 0022
Create Date: 2026-11-28 13:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0022"
branch_labels = None
depends_on = None

POLICY = "tenant_isolation"
_ORG = "NULLIF(current_setting('app.org_id', true), '')::uuid"
_LOOKUP = "current_setting('app.stripe_account_lookup', true) = 'on'"


def upgrade() -> None:
    op.create_table(
        "stripe_events",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=255), nullable=False),
        sa.Column("account", sa.String(length=255), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stripe_events")),
    )
    op.create_table(
        "stripe_accounts",
        sa.Column("account_id", sa.String(length=255), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("charges_enabled", sa.Boolean(), nullable=False),
        sa.Column("details_submitted", sa.Boolean(), nullable=False),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], name=op.f("fk_stripe_accounts_org_id_organizations")),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_stripe_accounts")),
    )
    op.create_index("ix_stripe_accounts_org_id", "stripe_accounts", ["org_id"])
    if op.get_bind().dialect.name != "postgresql":
        return
    strict = f"org_id = {_ORG}"
    op.execute("ALTER TABLE stripe_accounts ENABLE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY {POLICY} ON stripe_accounts USING ({strict} OR {_LOOKUP}) WITH CHECK ({strict})")


def downgrade() -> None:
    op.drop_index("ix_stripe_accounts_org_id", table_name="stripe_accounts")
    op.drop_table("stripe_accounts")
    op.drop_table("stripe_events")
