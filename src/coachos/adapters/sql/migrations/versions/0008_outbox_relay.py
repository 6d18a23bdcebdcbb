"""Outbox relay: stable event ids and type names, and each consumer's progress per event.

Existing outbox rows get a fresh event id, and their type (stored as the class name until now)
is rewritten to the event's stable type name. Rows already marked published stay so: the old
relay's `published_at` meant the same thing, "handed on".

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 11:00:00.000000
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

#: The class names rows were stored under before 0008, and the stable names they are stored under now.
_RENAMED = {
    "OrganizationCreated": "org.created",
    "CoachAdded": "coach.added",
    "ClientCreated": "client.created",
    "ClientUpdated": "client.updated",
    "ConsentRecorded": "consent.recorded",
    "ConsentWithdrawn": "consent.withdrawn",
    "ServiceCreated": "service.created",
    "ServiceUpdated": "service.updated",
    "AvailabilityChanged": "availability.changed",
    "PackageSold": "package.sold",
    "BookingRequested": "booking.requested",
    "BookingConfirmed": "booking.confirmed",
    "BookingCancelled": "booking.cancelled",
    "BookingCompleted": "booking.completed",
    "BookingNoShow": "booking.no_show",
    "CreditUsed": "credit.used",
    "CreditReturned": "credit.returned",
}

_outbox = sa.table(
    "outbox", sa.column("id", sa.BigInteger()), sa.column("event_id", sa.Uuid()), sa.column("event_type")
)


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("event_id", sa.Uuid(), nullable=True))
    conn = op.get_bind()
    # Migrations run as the owner, whom row-level security does not bind: every organisation's rows.
    for (row_id,) in conn.execute(sa.select(_outbox.c.id)).all():
        conn.execute(_outbox.update().where(_outbox.c.id == row_id).values(event_id=uuid.uuid4()))
    for old, new in _RENAMED.items():
        conn.execute(_outbox.update().where(_outbox.c.event_type == old).values(event_type=new))
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.alter_column("event_id", existing_type=sa.Uuid(), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_outbox_event_id"), ["event_id"])

    op.create_table(
        "outbox_deliveries",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("consumer", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'done', 'dead')", name=op.f("ck_outbox_deliveries_status_known")),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["outbox.event_id"],
            name=op.f("fk_outbox_deliveries_event_id_outbox"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("event_id", "consumer", name=op.f("pk_outbox_deliveries")),
    )
    with op.batch_alter_table("outbox_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_deliveries_status_next_attempt_at", ["status", "next_attempt_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_deliveries_status_next_attempt_at")
    op.drop_table("outbox_deliveries")
    conn = op.get_bind()
    for old, new in _RENAMED.items():
        conn.execute(_outbox.update().where(_outbox.c.event_type == new).values(event_type=old))
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_outbox_event_id"), type_="unique")
        batch_op.drop_column("event_id")
