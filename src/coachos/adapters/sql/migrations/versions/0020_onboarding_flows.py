"""Onboarding flows: a business's checklists, the services they hold, and when each client started.

- onboarding_flows: name, ordered steps (JSON), whether the flow applies to every service.
- onboarding_flow_services: the services a flow holds bookings of until it is complete.
- onboarding_starts: when a client's onboarding in a flow started and how many reminders were
  sent; the reminder tick finds the businesses owing reminders across organisations while it sets
  `app.onboarding_reminders` (reads only), as the automation runner does with its own flag.

Revision ID: 0020
Revises: 0018
Create Date: 2026-11-28 12:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0018"
branch_labels = None
depends_on = None

POLICY = "tenant_isolation"
_ORG = "NULLIF(current_setting('app.org_id', true), '')::uuid"
_REMINDERS = "current_setting('app.onboarding_reminders', true) = 'on'"


def upgrade() -> None:
    op.create_table(
        "onboarding_flows",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("all_services", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_onboarding_flows_org_id_organizations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_onboarding_flows")),
        sa.UniqueConstraint("org_id", "id", name="uq_onboarding_flows_org_id_id"),
    )
    op.create_index("ix_onboarding_flows_org_id_name", "onboarding_flows", ["org_id", "name"])
    op.create_table(
        "onboarding_flow_services",
        sa.Column("flow_id", sa.Uuid(), nullable=False),
        sa.Column("service_id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "flow_id"],
            ["onboarding_flows.org_id", "onboarding_flows.id"],
            name="fk_onboarding_flows_flow_id_same_org",
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "service_id"], ["services.org_id", "services.id"], name="fk_services_service_id_same_org"
        ),
        sa.PrimaryKeyConstraint("flow_id", "service_id", name=op.f("pk_onboarding_flow_services")),
    )
    op.create_table(
        "onboarding_starts",
        sa.Column("flow_id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reminders_sent", sa.SmallInteger(), nullable=False),
        sa.CheckConstraint("reminders_sent BETWEEN 0 AND 3", name=op.f("ck_onboarding_starts_reminders_sent_known")),
        sa.ForeignKeyConstraint(
            ["org_id", "flow_id"],
            ["onboarding_flows.org_id", "onboarding_flows.id"],
            name="fk_onboarding_flows_flow_id_same_org",
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "client_id"], ["clients.org_id", "clients.id"], name="fk_clients_client_id_same_org"
        ),
        sa.PrimaryKeyConstraint("flow_id", "client_id", name=op.f("pk_onboarding_starts")),
    )
    op.create_index(
        "ix_onboarding_starts_reminders_sent_started_at", "onboarding_starts", ["reminders_sent", "started_at"]
    )
    op.create_index("ix_onboarding_starts_org_id_client_id", "onboarding_starts", ["org_id", "client_id"])
    if op.get_bind().dialect.name != "postgresql":
        return
    strict = f"org_id = {_ORG}"
    for table in ("onboarding_flows", "onboarding_flow_services"):
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY {POLICY} ON {table} USING ({strict}) WITH CHECK ({strict})")
    op.execute("ALTER TABLE onboarding_starts ENABLE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY {POLICY} ON onboarding_starts USING ({strict} OR {_REMINDERS}) WITH CHECK ({strict})")


def downgrade() -> None:
    op.drop_index("ix_onboarding_starts_org_id_client_id", table_name="onboarding_starts")
    op.drop_index("ix_onboarding_starts_reminders_sent_started_at", table_name="onboarding_starts")
    op.drop_table("onboarding_starts")
    op.drop_table("onboarding_flow_services")
    op.drop_index("ix_onboarding_flows_org_id_name", table_name="onboarding_flows")
    op.drop_table("onboarding_flows")
