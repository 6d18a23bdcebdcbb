"""Memberships: plans, clients' Stripe subscriptions and the package each paid invoice granted.

- membership_plans: price per week or month, sessions per period (an unlimited plan's cap).
- memberships: one client's subscription; `subscription_id` unique; `status_at` is the `created` of the
  newest Stripe event applied; `grace_until` after a failed renewal. The pausing job finds lapsed
  memberships across businesses while it sets `app.membership_lapse` (reads only).
- membership_periods: one row per paid invoice (the invoice id is the primary key), so a redelivery or
  the twin event (invoice.paid + invoice.payment_succeeded) grants once.

All three have row-level security with the tenant policy.

Revision ID: 0025
Revises: 0023
Create Date: 2026-11-28 15:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0023"
branch_labels = None
depends_on = None

POLICY = "tenant_isolation"
_ORG = "NULLIF(current_setting('app.org_id', true), '')::uuid"
_LAPSE = "current_setting('app.membership_lapse', true) = 'on'"


def _same_org(column: str, parent: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["org_id", column], [f"{parent}.org_id", f"{parent}.id"], name=f"fk_{parent}_{column}_same_org"
    )


def _org_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], name=op.f(f"fk_{table}_org_id_organizations"))


def upgrade() -> None:
    op.create_table(
        "membership_plans",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("price_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("interval", sa.String(length=10), nullable=False),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.Column("unlimited", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _org_fk("membership_plans"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_membership_plans")),
        sa.UniqueConstraint("org_id", "id", name="uq_membership_plans_org_id_id"),
    )
    op.create_table(
        "memberships",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("subscription_id", sa.String(length=255), nullable=True),
        sa.Column("current_period_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("current_period_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("grace_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _org_fk("memberships"),
        _same_org("client_id", "clients"),
        _same_org("plan_id", "membership_plans"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_memberships")),
        sa.UniqueConstraint("org_id", "id", name="uq_memberships_org_id_id"),
        sa.UniqueConstraint("subscription_id", name=op.f("uq_memberships_subscription_id")),
    )
    op.create_index("ix_memberships_org_id_client_id", "memberships", ["org_id", "client_id"])
    op.create_index("ix_memberships_status_grace_until", "memberships", ["status", "grace_until"])
    op.create_table(
        "membership_periods",
        sa.Column("invoice_id", sa.String(length=255), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("membership_id", sa.Uuid(), nullable=False),
        sa.Column("package_id", sa.Uuid(), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        _org_fk("membership_periods"),
        _same_org("membership_id", "memberships"),
        sa.PrimaryKeyConstraint("invoice_id", name=op.f("pk_membership_periods")),
    )
    op.create_index("ix_membership_periods_org_id_membership_id", "membership_periods", ["org_id", "membership_id"])
    if op.get_bind().dialect.name != "postgresql":
        return
    strict = f"org_id = {_ORG}"
    for table in ("membership_plans", "membership_periods"):
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY {POLICY} ON {table} USING ({strict}) WITH CHECK ({strict})")
    op.execute("ALTER TABLE memberships ENABLE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY {POLICY} ON memberships USING ({strict} OR {_LAPSE}) WITH CHECK ({strict})")


def downgrade() -> None:
    op.drop_index("ix_membership_periods_org_id_membership_id", table_name="membership_periods")
    op.drop_table("membership_periods")
    op.drop_index("ix_memberships_status_grace_until", table_name="memberships")
    op.drop_index("ix_memberships_org_id_client_id", table_name="memberships")
    op.drop_table("memberships")
    op.drop_table("membership_plans")
