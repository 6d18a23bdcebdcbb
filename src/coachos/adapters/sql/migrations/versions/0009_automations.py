"""Scheduled automations, and their runs: one row per (automation, due time), claimed once.

Both tables get the tenant policy of 0007. The runner may read (never write) every
organisation's automations while it sets `app.automation_runner`, to find whose are enabled.

Revision ID: 0009
Revises: 0007
Create Date: 2026-11-30 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

POLICY = "tenant_isolation"
_ORG = "NULLIF(current_setting('app.org_id', true), '')::uuid"
_RUNNER = "current_setting('app.automation_runner', true) = 'on'"


def upgrade() -> None:
    op.create_table(
        "automations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("schedule", sa.String(length=200), nullable=False),
        sa.Column("action", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], name=op.f("fk_automations_org_id_organizations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automations")),
        sa.UniqueConstraint("org_id", "id", name="uq_automations_org_id_id"),
    )
    with op.batch_alter_table("automations", schema=None) as batch_op:
        batch_op.create_index("ix_automations_org_id_name", ["org_id", "name"], unique=False)
    op.create_table(
        "automation_runs",
        sa.Column("automation_id", sa.Uuid(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("affected", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "automation_id"],
            ["automations.org_id", "automations.id"],
            name="fk_automations_automation_id_same_org",
        ),
        sa.PrimaryKeyConstraint("automation_id", "due_at", name=op.f("pk_automation_runs")),
    )
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    strict = f"org_id = {_ORG}"
    op.execute("ALTER TABLE automations ENABLE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY {POLICY} ON automations USING ({strict} OR {_RUNNER}) WITH CHECK ({strict})")
    op.execute("ALTER TABLE automation_runs ENABLE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY {POLICY} ON automation_runs USING ({strict}) WITH CHECK ({strict})")


def downgrade() -> None:
    op.drop_table("automation_runs")
    with op.batch_alter_table("automations", schema=None) as batch_op:
        batch_op.drop_index("ix_automations_org_id_name")
    op.drop_table("automations")
