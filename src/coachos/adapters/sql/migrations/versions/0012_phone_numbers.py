"""Phone numbers: the numbers each business receives texts on, each number in one business only.

The table gets the tenant policy of 0007. An incoming text names a number, not a business, so a
transaction that sets `app.number_lookup` may read (never write) every organisation's numbers.

Revision ID: 0012
Revises: 0015
Create Date: 2026-11-28 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0015"
branch_labels = None
depends_on = None

POLICY = "tenant_isolation"
_ORG = "NULLIF(current_setting('app.org_id', true), '')::uuid"
_LOOKUP = "current_setting('app.number_lookup', true) = 'on'"


def upgrade() -> None:
    op.create_table(
        "phone_numbers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], name=op.f("fk_phone_numbers_org_id_organizations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phone_numbers")),
        sa.UniqueConstraint("number", name=op.f("uq_phone_numbers_number")),
        sa.UniqueConstraint("org_id", "id", name="uq_phone_numbers_org_id_id"),
    )
    with op.batch_alter_table("phone_numbers", schema=None) as batch_op:
        batch_op.create_index("ix_phone_numbers_org_id_created_at", ["org_id", "created_at"], unique=False)
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    strict = f"org_id = {_ORG}"
    op.execute("ALTER TABLE phone_numbers ENABLE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY {POLICY} ON phone_numbers USING ({strict} OR {_LOOKUP}) WITH CHECK ({strict})")


def downgrade() -> None:
    with op.batch_alter_table("phone_numbers", schema=None) as batch_op:
        batch_op.drop_index("ix_phone_numbers_org_id_created_at")
    op.drop_table("phone_numbers")
