"""Services paid when booked, and bookings held until their payment succeeds.

- services.pay_at_booking: a client booking the service online pays its price by card at once.
- bookings.status may be 'held': the booking keeps its seat without being confirmed until Stripe
  says the payment succeeded; it is released (cancelled, seat given back) when the payment fails
  or `hold_expires_at` passes.
- bookings.hold_expires_at, payment_ref (Stripe's Checkout Session, then PaymentIntent), paid_at
  and payment_issue ('paid_after_release': the client paid after the hold was released).
- An index on (status, hold_expires_at) for the worker that releases expired holds.
- organizations.late_cancel_fee_minor / no_show_fee_minor: policy fees (the org's currency).
- bookings: the fee policy the client agreed to (fees_agreed_at, amounts, currency, wording), the card
  kept for fees (card_customer, card_payment_method) and the fee owed (fee_kind, fee_state 'pending' /
  'charged' / 'failed', amount, when, Stripe's PaymentIntent, the refusal), indexed by fee_state for
  the worker that charges pending fees.

Revision ID: 0027
Revises: 0025
Create Date: 2026-11-28 14:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0025"
branch_labels = None
depends_on = None

_FEE_COLUMNS = (
    ("fees_agreed_at", sa.DateTime(timezone=True)),
    ("agreed_late_cancel_minor", sa.BigInteger()),
    ("agreed_no_show_minor", sa.BigInteger()),
    ("fee_currency", sa.String(length=3)),
    ("fee_wording", sa.Text()),
    ("card_customer", sa.String(length=255)),
    ("card_payment_method", sa.String(length=255)),
    ("fee_kind", sa.String(length=16)),
    ("fee_state", sa.String(length=16)),
    ("fee_amount_minor", sa.BigInteger()),
    ("fee_at", sa.DateTime(timezone=True)),
    ("fee_ref", sa.String(length=255)),
    ("fee_error", sa.String(length=300)),
)

_OLD = "status IN ('requested', 'confirmed', 'completed', 'cancelled', 'no_show')"
_NEW = "status IN ('held', 'requested', 'confirmed', 'completed', 'cancelled', 'no_show')"


def upgrade() -> None:
    op.add_column("services", sa.Column("pay_at_booking", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("organizations", sa.Column("late_cancel_fee_minor", sa.BigInteger()))
    op.add_column("organizations", sa.Column("no_show_fee_minor", sa.BigInteger()))
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hold_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("payment_ref", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("payment_issue", sa.String(length=32), nullable=True))
        for name, type_ in _FEE_COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=True))
        batch_op.drop_constraint(op.f("ck_bookings_status_known"), type_="check")
        batch_op.create_check_constraint(op.f("ck_bookings_status_known"), _NEW)
        batch_op.create_check_constraint(
            op.f("ck_bookings_held_has_expiry"), "status <> 'held' OR hold_expires_at IS NOT NULL"
        )
        batch_op.create_index("ix_bookings_status_hold_expires_at", ["status", "hold_expires_at"], unique=False)
        batch_op.create_index("ix_bookings_fee_state", ["fee_state"], unique=False)


def downgrade() -> None:
    # Held bookings cannot exist under the old rules: they are released (cancelled) first.
    op.execute("UPDATE bookings SET status = 'cancelled' WHERE status = 'held'")
    with op.batch_alter_table("bookings", schema=None) as batch_op:
        batch_op.drop_index("ix_bookings_fee_state")
        batch_op.drop_index("ix_bookings_status_hold_expires_at")
        for name, _ in reversed(_FEE_COLUMNS):
            batch_op.drop_column(name)
        batch_op.drop_constraint(op.f("ck_bookings_held_has_expiry"), type_="check")
        batch_op.drop_constraint(op.f("ck_bookings_status_known"), type_="check")
        batch_op.create_check_constraint(op.f("ck_bookings_status_known"), _OLD)
        for column in ("payment_issue", "paid_at", "payment_ref", "hold_expires_at"):
            batch_op.drop_column(column)
    op.drop_column("organizations", "no_show_fee_minor")
    op.drop_column("organizations", "late_cancel_fee_minor")
    op.drop_column("services", "pay_at_booking")
