"""Idempotency keys scoped to who made them, and what a public visitor typed kept on the booking.

The key's uniqueness moves from (org_id, idempotency_key) to (org_id, idempotency_scope,
idempotency_key), so one caller's key can never find another caller's booking. Existing keys are
given the scope they would have had: moves' keys "reschedule", every other key its booking's
creator (the actor).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_GUEST_COLUMNS = (
    ("guest_name", sa.String(length=200)),
    ("guest_email", sa.String(length=254)),
    ("guest_phone", sa.String(length=16)),
    ("guest_sms_consent", sa.Boolean()),
    ("guest_consent_wording", sa.Text()),
    ("guest_timezone", sa.String(length=64)),
    ("guest_matched", sa.Boolean()),
)


def upgrade() -> None:
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("idempotency_scope", sa.String(length=100), nullable=True))
        for name, type_ in _GUEST_COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=True))
    op.execute(
        "UPDATE bookings SET idempotency_scope = "
        "CASE WHEN idempotency_key LIKE 'move:%' THEN 'reschedule' ELSE created_by END "
        "WHERE idempotency_key IS NOT NULL"
    )
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.drop_constraint("uq_bookings_org_id_idempotency_key", type_="unique")
        batch_op.create_unique_constraint(
            op.f("uq_bookings_org_id_idempotency_scope_idempotency_key"),
            ["org_id", "idempotency_scope", "idempotency_key"],
        )
        batch_op.create_check_constraint(
            op.f("ck_bookings_key_has_scope"), "(idempotency_key IS NULL) = (idempotency_scope IS NULL)"
        )
        batch_op.create_check_constraint(
            op.f("ck_bookings_guest_complete"),
            "(guest_name IS NULL) = (guest_matched IS NULL) AND (guest_name IS NULL) = (guest_sms_consent IS NULL)",
        )


def downgrade() -> None:
    # Two callers may have used the same key; only the first booking keeps it under the old, unscoped rule.
    op.execute(
        "UPDATE bookings SET idempotency_key = NULL WHERE idempotency_key IS NOT NULL AND EXISTS ("
        "SELECT 1 FROM bookings AS earlier WHERE earlier.org_id = bookings.org_id "
        "AND earlier.idempotency_key = bookings.idempotency_key "
        "AND (earlier.created_at < bookings.created_at "
        "OR (earlier.created_at = bookings.created_at AND earlier.id < bookings.id)))"
    )
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_bookings_guest_complete"), type_="check")
        batch_op.drop_constraint(op.f("ck_bookings_key_has_scope"), type_="check")
        batch_op.drop_constraint(op.f("uq_bookings_org_id_idempotency_scope_idempotency_key"), type_="unique")
        batch_op.create_unique_constraint(op.f("uq_bookings_org_id_idempotency_key"), ["org_id", "idempotency_key"])
        for name, _ in reversed(_GUEST_COLUMNS):
            batch_op.drop_column(name)
        batch_op.drop_column("idempotency_scope")
