"""Message templates per business, and the business's reminder and coach-notice settings.

`message_templates` holds a business's own wording for a kind of message on a channel (the
defaults live in code); it gets the tenant policy of 0007. The new `organizations` columns default
to what Coach OS did before they existed: both reminders on, coach notices by email only.

Revision ID: 0011
Revises: 0014
Create Date: 2026-11-28 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0014"
branch_labels = None
depends_on = None

POLICY = "tenant_isolation"
_ORG = "NULLIF(current_setting('app.org_id', true), '')::uuid"


def upgrade() -> None:
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reminder_24h", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column("reminder_2h", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column("notice_email", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column("notice_sms", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("notice_phone", sa.String(length=16), nullable=True))
    op.create_table(
        "message_templates",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_message_templates_org_id_organizations")
        ),
        sa.PrimaryKeyConstraint("org_id", "kind", "channel", name=op.f("pk_message_templates")),
    )
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    strict = f"org_id = {_ORG}"
    op.execute("ALTER TABLE message_templates ENABLE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY {POLICY} ON message_templates USING ({strict}) WITH CHECK ({strict})")


def downgrade() -> None:
    op.drop_table("message_templates")
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_column("notice_phone")
        batch_op.drop_column("notice_sms")
        batch_op.drop_column("notice_email")
        batch_op.drop_column("reminder_2h")
        batch_op.drop_column("reminder_24h")
