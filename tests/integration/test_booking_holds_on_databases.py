"""Held bookings on SQLite and PostgreSQL: the unit tests again, and the races that must end in one outcome."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from coachos import BookingStatus
from coachos.adapters.clock import FixedClock
from coachos.adapters.sql.tables import appointments, ledger_transactions, outbox
from coachos.domain.bookings import PaymentIssue
from coachos.domain.usecases import ReceiveStripeEvent, ReleaseExpiredHolds
from coachos.domain.usecases._holds import HOLD_FOR
from coachos.domain.usecases.booking_payments import sale_key
from tests.integration.test_concurrency import race
from tests.unit.test_booking_holds import (  # noqa: F401  # collected again with this folder's `app`
    Paying,
    TestDirectCharges,
    TestHeldBooking,
    TestHoldExpiry,
    TestPaymentWebhook,
    book,
    checkout_event,
    current,
    paying,
)


def count(engine: Engine, table: sa.Table, *where: sa.ColumnElement[bool]) -> int:
    """Rows of `table` as the owner sees them (past row-level security)."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SET LOCAL ROLE NONE"))
        return int(conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one())


def seats(engine: Engine, appointment_id: object) -> int:
    """The seats taken in the appointment, as stored."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SET LOCAL ROLE NONE"))
        return int(
            conn.execute(sa.select(appointments.c.seats_taken).where(appointments.c.id == appointment_id)).scalar_one()
        )


def confirmations(engine: Engine, booking_id: object) -> int:
    """booking.confirmed events written for the booking (each one sends a confirmation)."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SET LOCAL ROLE NONE"))
        rows = conn.execute(sa.select(outbox.c.payload).where(outbox.c.event_type == "booking.confirmed")).scalars()
        return sum(1 for payload in rows if str(payload.get("booking_id")) == str(booking_id))


class TestRaces:
    def test_racing_workers_release_each_hold_once(
        self,
        engine: Engine,
        paying: Paying,  # noqa: F811  # the imported fixture, requested by name
        clock: FixedClock,
    ) -> None:
        """Eight workers releasing expired holds at once release each of three holds exactly once."""
        held = [book(paying, hour) for hour in (10, 12, 14)]
        clock.advance(HOLD_FOR)
        results = race([lambda: paying.app.execute(ReleaseExpiredHolds()) for _ in range(8)])
        released = [b for r in results if isinstance(r, list) for b in r]
        for booking in held:
            assert released.count(booking.id) == 1
            assert current(paying, booking).status is BookingStatus.CANCELLED
            assert seats(engine, booking.appointment_id) == 0

    def test_payment_racing_expiry_ends_in_exactly_one_outcome(
        self,
        engine: Engine,
        paying: Paying,  # noqa: F811  # the imported fixture, requested by name
        clock: FixedClock,
    ) -> None:
        """A payment and the expiry job racing for one hold: confirmed with its seat, or released and flagged."""
        booking = book(paying)
        clock.advance(HOLD_FOR)
        body = checkout_event(paying, booking)
        race(
            [
                lambda: paying.app.execute(ReceiveStripeEvent(body=body)),
                lambda: paying.app.execute(ReleaseExpiredHolds()),
            ]
        )
        after = current(paying, booking)
        if after.status is BookingStatus.CONFIRMED:
            assert after.payment_issue is None
            assert seats(engine, booking.appointment_id) == 1
            assert confirmations(engine, booking.id) == 1
        else:
            assert after.status is BookingStatus.CANCELLED
            assert after.payment_issue is PaymentIssue.PAID_AFTER_RELEASE
            assert seats(engine, booking.appointment_id) == 0
            assert confirmations(engine, booking.id) == 0
        assert count(engine, ledger_transactions, ledger_transactions.c.key == sale_key(booking.id)) == 1

    def test_fifty_copies_of_the_payment_confirm_once_and_sell_once(
        self,
        engine: Engine,
        paying: Paying,  # noqa: F811  # the imported fixture, requested by name
    ) -> None:
        """The same checkout.session.completed fifty times at once: one confirmation, one ledger sale, all taken in."""
        booking = book(paying)
        body = checkout_event(paying, booking)
        results = race([lambda: paying.app.execute(ReceiveStripeEvent(body=body)) for _ in range(50)])
        assert [r for r in results if isinstance(r, Exception)] == []
        assert sum(1 for r in results if getattr(r, "new", False)) == 1
        assert current(paying, booking).status is BookingStatus.CONFIRMED
        assert confirmations(engine, booking.id) == 1
        assert count(engine, ledger_transactions, ledger_transactions.c.key == sale_key(booking.id)) == 1
        assert seats(engine, booking.appointment_id) == 1
