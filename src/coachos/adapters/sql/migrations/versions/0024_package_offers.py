"""Package offers: the packages a coach lists for clients to buy themselves (by card, from the portal).

- package_offers: name, sessions, price (minor units + currency), optional validity in days, active.
  An offer is never deleted (packages sold from it keep their own copy of name, sessions and price);
  the coach deactivates it instead.

Carries the tenant policy of 0007 (row-level security on org_id).

Revision ID: 0024
Revises: 0027
Create Date: 2026-11-28 15:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0027"
branch_labels = None
depends_on = None

POLICY = "tenant_isolation"
_ORG = "NULLIF(current_setting('app.org_id', true), '')::uuid"


def upgrade() -> None:
    op.create_table(
        "package_offers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.Column("price_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("validity_days", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("sessions >= 1 AND sessions <= 1000", name=op.f("ck_package_offers_sessions_in_range")),
        sa.CheckConstraint("price_minor >= 0", name=op.f("ck_package_offers_price_not_negative")),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], name=op.f("fk_package_offers_org_id_organizations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_package_offers")),
        sa.UniqueConstraint("org_id", "id", name="uq_package_offers_org_id_id"),
    )
    op.create_index("ix_package_offers_org_id", "package_offers", ["org_id"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        strict = f"org_id = {_ORG}"
        op.execute("ALTER TABLE package_offers ENABLE ROW LEVEL SECURITY")
        op.execute(f"CREATE POLICY {POLICY} ON package_offers USING ({strict}) WITH CHECK ({strict})")


def downgrade() -> None:
    op.drop_index("ix_package_offers_org_id", table_name="package_offers")
    op.drop_table("package_offers")
