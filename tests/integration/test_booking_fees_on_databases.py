"""Policy fees on SQLite and PostgreSQL: the unit tests again, and racing workers charging one fee once."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.engine import Engine

from coachos.adapters.clock import FixedClock
from coachos.domain.bookings import FeeState
from coachos.domain.usecases import ChargeDueFees, MarkNoShow
from tests.integration.test_concurrency import race
from tests.unit.test_booking_fees import (  # noqa: F401  # collected again with this folder's `app`
    TestAgreement,
    TestCharging,
    TestDirectCharges,
    fees,
    paid_with_card,
)
from tests.unit.test_booking_holds import Paying, book, current


class TestRacingCharges:
    def test_racing_workers_charge_a_fee_once(
        self,
        engine: Engine,
        fees: Paying,  # noqa: F811  # the imported fixture, requested by name
        clock: FixedClock,
    ) -> None:
        """Six workers charging due fees at once finish the fee once, and Stripe is asked under one key only."""
        booking = book(fees, agree=True)
        paid_with_card(fees, booking)
        clock.advance(booking.start + timedelta(minutes=5) - clock.now())
        fees.app.execute(MarkNoShow(org_id=fees.world.org.id, booking_id=booking.id, actor=fees.world.me))
        race([lambda: fees.app.execute(ChargeDueFees()) for _ in range(6)])
        done = current(fees, booking).fee
        assert done is not None
        assert done.state is FeeState.CHARGED
        keys = {c.idempotency_key for c in fees.payments.calls if c.method == "charge_saved_card"}
        assert keys == {f"fee:{booking.id}:no_show"}
        assert len([k for k in fees.payments.created if k.startswith("fee:")]) == 1
