"""Messages: every SMS and email sent or received, one row each, unique by idempotency key and provider id.

The table gets the tenant policy of 0007. The sender (the worker sending due messages, and
the provider's status callback, which names no business) may read and update every
organisation's messages while it sets `app.message_sender`.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-28 11:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

POLICY = "tenant_isolation"
_ORG = "NULLIF(current_setting('app.org_id', true), '')::uuid"
_SENDER = "current_setting('app.message_sender', true) = 'on'"


def upgrade() -> None:
    op.create_table(
        "messages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("to_address", sa.String(length=320), nullable=False),
        sa.Column("from_address", sa.String(length=320), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=True),
        sa.Column("client_id", sa.Uuid(), nullable=True),
        sa.Column("coach_id", sa.Uuid(), nullable=True),
        sa.Column("template", sa.String(length=100), nullable=True),
        sa.Column("subject", sa.String(length=300), nullable=True),
        sa.Column("html", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.String(length=100), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("quiet_hours", sa.Boolean(), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_messages_attempts_not_negative")),
        sa.ForeignKeyConstraint(["org_id"], ["organizations.id"], name=op.f("fk_messages_org_id_organizations")),
        sa.ForeignKeyConstraint(
            ["org_id", "client_id"], ["clients.org_id", "clients.id"], name="fk_clients_client_id_same_org"
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "coach_id"], ["coaches.org_id", "coaches.id"], name="fk_coaches_coach_id_same_org"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint("org_id", "id", name="uq_messages_org_id_id"),
        sa.UniqueConstraint("org_id", "key", name=op.f("uq_messages_org_id_key")),
        sa.UniqueConstraint("channel", "provider_id", name=op.f("uq_messages_channel_provider_id")),
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index("ix_messages_status_not_before", ["status", "not_before"], unique=False)
        batch_op.create_index(
            "ix_messages_org_id_client_id_created_at", ["org_id", "client_id", "created_at"], unique=False
        )
    conn = op.get_bind()
    if conn.dialect.name != "postgresql":
        return
    strict = f"org_id = {_ORG}"
    op.execute("ALTER TABLE messages ENABLE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY {POLICY} ON messages USING ({strict} OR {_SENDER}) WITH CHECK ({strict} OR {_SENDER})")


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_org_id_client_id_created_at")
        batch_op.drop_index("ix_messages_status_not_before")
    op.drop_table("messages")
