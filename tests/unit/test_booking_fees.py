"""Late-cancellation and no-show fees: agreed when booking, charged once by the worker, never without agreement."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest

from coachos import (
    Actor,
    BookingPolicy,
    BookingStatus,
    BookSession,
    CancelBooking,
    CoachOS,
    CurrencyMismatch,
    InvalidTransition,
    MarkNoShow,
    Money,
    RescheduleBooking,
    UpdateOrganizationSettings,
    ValidationError,
)
from coachos.adapters.clock import FixedClock
from coachos.adapters.payments import PaymentCall
from coachos.domain.bookings import Booking, FeeKind, FeeState, SavedCard
from coachos.domain.errors import PaymentRefused
from coachos.domain.usecases import ChargeDueFees, ReceiveStripeEvent
from coachos.domain.usecases.booking_fees import fee_sale_key
from tests.helpers import World, drain, local
from tests.unit.test_booking_holds import Paying, book, checkout, checkout_event, current, paying_on

FEES = BookingPolicy(
    min_notice=timedelta(hours=1),
    horizon=timedelta(days=120),
    cancellation_window=timedelta(hours=24),
    late_cancel_fee=Money(2500, "USD"),
    no_show_fee=Money(4000, "USD"),
)


@pytest.fixture
def fees(app: CoachOS, clock: FixedClock) -> Iterator[Paying]:
    """A business with card payments and a fee policy: $25 to cancel within 24 hours, $40 for a no-show."""
    with paying_on(app, clock, FEES) as built:
        yield built


def paid_with_card(p: Paying, booking: Booking) -> None:
    """Stripe says the booking's Checkout was paid, and its PaymentIntent kept the card."""
    p.app.execute(ReceiveStripeEvent(body=checkout_event(p, booking)))
    intent = {
        "id": "pi_test_" + booking.id.hex[:12],
        "object": "payment_intent",
        "customer": "cus_test_kept",
        "payment_method": "pm_test_kept",
        "metadata": {"coachos_kind": "booking", "org_id": str(p.world.org.id), "booking_id": str(booking.id)},
    }
    body = {
        "id": "evt_" + uuid.uuid4().hex,
        "object": "event",
        "type": "payment_intent.succeeded",
        "account": p.account,
        "created": 1772442000,
        "livemode": False,
        "data": {"object": intent},
    }
    p.app.execute(ReceiveStripeEvent(body=json.dumps(body)))


def fee_calls(p: Paying) -> list[PaymentCall]:
    return [c for c in p.payments.calls if c.method == "charge_saved_card"]


def sale(p: Paying, booking: Booking, kind: FeeKind) -> object:
    with p.app.deps.uow() as uow:
        return uow.ledger.by_key(p.world.org.id, fee_sale_key(booking.id, kind))


class TestAgreement:
    def test_booking_online_needs_the_i_agree_box_when_there_are_fees(self, fees: Paying) -> None:
        """Without ticking "I agree" to the fee policy the online booking is refused and nothing is held."""
        with pytest.raises(ValidationError, match="I agree"):
            book(fees, agree=False)

    def test_the_agreement_keeps_the_amounts_words_and_time(self, fees: Paying, clock: FixedClock) -> None:
        """The booking keeps the fees the client agreed to, the policy's words and when they agreed."""
        booking = book(fees, agree=True)
        agreement = current(fees, booking).fee_agreement
        assert agreement is not None
        assert (agreement.late_cancel, agreement.no_show) == (Money(2500, "USD"), Money(4000, "USD"))
        assert agreement.agreed_at == clock.now()
        assert "not showing up costs" in agreement.wording

    def test_checkout_keeps_the_card_only_when_fees_were_agreed(
        self, fees: Paying, app: CoachOS, clock: FixedClock
    ) -> None:
        """A Checkout for a booking with a fee agreement asks Stripe to keep the card; one without does not."""
        checkout(fees, book(fees, agree=True))
        assert fees.payments.calls[-1].params["save_card"] is True
        with paying_on(app, clock) as plain:
            checkout(plain, book(plain))
            assert plain.payments.calls[-1].params["save_card"] is False

    def test_the_paid_card_is_kept_from_the_payment_intent(self, fees: Paying) -> None:
        """payment_intent.succeeded of a booking keeps its customer and payment method on the booking."""
        booking = book(fees, agree=True)
        paid_with_card(fees, booking)
        assert current(fees, booking).saved_card == SavedCard("cus_test_kept", "pm_test_kept")


class TestDirectCharges:
    def test_a_card_from_another_account_is_not_kept(self, fees: Paying) -> None:
        """payment_intent.succeeded naming this booking from another account keeps no card (it could not be
        charged on this business's account, and a forger must not choose the card)."""
        booking = book(fees, agree=True)
        fees.app.execute(ReceiveStripeEvent(body=checkout_event(fees, booking)))
        intent = {
            "id": "pi_forged0000001",
            "object": "payment_intent",
            "customer": "cus_forged",
            "payment_method": "pm_forged",
            "metadata": {"coachos_kind": "booking", "org_id": str(fees.world.org.id), "booking_id": str(booking.id)},
        }
        body = {
            "id": "evt_" + uuid.uuid4().hex,
            "object": "event",
            "type": "payment_intent.succeeded",
            "account": "acct_forger000000001",
            "created": 1772442000,
            "livemode": False,
            "data": {"object": intent},
        }
        fees.app.execute(ReceiveStripeEvent(body=json.dumps(body)))
        assert current(fees, booking).saved_card is None

    def test_stripes_fee_on_a_charged_fee_is_written_by_the_worker(self, fees: Paying, clock: FixedClock) -> None:
        """A charged late-cancellation fee: its Stripe fee is read on the coach's account and written once under
        stripe_fee:fee:<booking>:late_cancel."""
        booking = book(fees, agree=True)
        paid_with_card(fees, booking)
        clock.set(booking.start - timedelta(hours=2))
        fees.app.execute(
            CancelBooking(org_id=fees.world.org.id, booking_id=booking.id, actor=Actor("client", booking.client_id))
        )
        fees.app.execute(ChargeDueFees())
        charged = current(fees, booking).fee
        assert charged is not None
        assert charged.ref is not None
        fees.payments.fees[charged.ref] = Money(103, "USD")
        drain(fees.app)
        with fees.app.deps.uow() as uow:
            fee = uow.ledger.by_key(fees.world.org.id, f"stripe_fee:fee:{booking.id}:late_cancel")
        assert fee is not None
        assert {e.account.value: e.amount_minor for e in fee.entries} == {"stripe_fees": 103, "stripe_balance": -103}
        asked = [c.params for c in fees.payments.calls if c.method == "payment_fee"]
        assert {"payment_ref": charged.ref, "account_id": fees.account} in asked


class TestCharging:
    def test_a_late_cancellation_is_charged_once_by_the_worker(self, fees: Paying, clock: FixedClock) -> None:
        """A client cancelling inside the window owes the agreed fee; the worker charges it once and records a sale."""
        booking = book(fees, agree=True)
        paid_with_card(fees, booking)
        clock.set(booking.start - timedelta(hours=2))
        fees.app.execute(
            CancelBooking(org_id=fees.world.org.id, booking_id=booking.id, actor=Actor("client", booking.client_id))
        )
        owed = current(fees, booking).fee
        assert owed is not None
        assert (owed.kind, owed.state, owed.amount) == (FeeKind.LATE_CANCEL, FeeState.PENDING, Money(2500, "USD"))
        assert fee_calls(fees) == []  # nothing charged inside the request
        fees.app.execute(ChargeDueFees())
        fees.app.execute(ChargeDueFees())  # a second run finds nothing pending for this booking
        (call,) = fee_calls(fees)
        assert call.idempotency_key == f"fee:{booking.id}:late_cancel"
        assert call.params["amount"] == Money(2500, "USD")
        assert call.params["application_fee"] == Money(125, "USD")
        done = current(fees, booking).fee
        assert done is not None
        assert done.state is FeeState.CHARGED
        assert sale(fees, booking, FeeKind.LATE_CANCEL) is not None

    def test_a_no_show_is_charged(self, fees: Paying, clock: FixedClock) -> None:
        """The coach marking a no-show charges the agreed no-show fee to the kept card."""
        booking = book(fees, agree=True)
        paid_with_card(fees, booking)
        clock.advance(booking.start + timedelta(minutes=5) - clock.now())
        fees.app.execute(MarkNoShow(org_id=fees.world.org.id, booking_id=booking.id, actor=fees.world.me))
        fees.app.execute(ChargeDueFees())
        done = current(fees, booking).fee
        assert done is not None
        assert (done.kind, done.state, done.amount) == (FeeKind.NO_SHOW, FeeState.CHARGED, Money(4000, "USD"))
        assert sale(fees, booking, FeeKind.NO_SHOW) is not None

    def test_without_agreement_there_is_no_fee_and_no_charge(self, fees: Paying, clock: FixedClock) -> None:
        """A booking the client never agreed fees for (the coach booked it) owes nothing on a no-show."""
        w = fees.world
        booking = fees.app.execute(
            BookSession(
                org_id=w.org.id,
                coach_id=w.coach.id,
                service_id=w.group.id,
                client_id=w.client.id,
                start=local(w, 3, 10),
                actor=w.me,
            )
        )
        clock.advance(booking.start + timedelta(minutes=5) - clock.now())
        fees.app.execute(MarkNoShow(org_id=w.org.id, booking_id=booking.id, actor=w.me))
        fees.app.execute(ChargeDueFees())
        assert current(fees, booking).fee is None
        assert fee_calls(fees) == []

    def test_a_declined_card_is_recorded_for_the_coach(self, fees: Paying, clock: FixedClock) -> None:
        """A refused charge leaves the fee FAILED with Stripe's reason and no sale."""
        booking = book(fees, agree=True)
        paid_with_card(fees, booking)
        clock.advance(booking.start + timedelta(minutes=5) - clock.now())
        fees.app.execute(MarkNoShow(org_id=fees.world.org.id, booking_id=booking.id, actor=fees.world.me))
        fees.payments.fail_next(PaymentRefused("Your card has insufficient funds.", reason="card_declined"))
        fees.app.execute(ChargeDueFees())
        done = current(fees, booking).fee
        assert done is not None
        assert done.state is FeeState.FAILED
        assert done.error == "Your card has insufficient funds."
        assert sale(fees, booking, FeeKind.NO_SHOW) is None

    def test_no_kept_card_fails_with_a_reason(self, fees: Paying, clock: FixedClock) -> None:
        """An agreed fee on a booking whose card was not kept fails with a reason, and nothing is charged."""
        booking = book(fees, agree=True)
        fees.app.execute(ReceiveStripeEvent(body=checkout_event(fees, booking)))  # paid, but no card kept
        clock.advance(booking.start + timedelta(minutes=5) - clock.now())
        fees.app.execute(MarkNoShow(org_id=fees.world.org.id, booking_id=booking.id, actor=fees.world.me))
        fees.app.execute(ChargeDueFees())
        done = current(fees, booking).fee
        assert done is not None
        assert done.state is FeeState.FAILED
        assert "No card was kept" in (done.error or "")
        assert fee_calls(fees) == []


class TestFeePolicy:
    def test_fees_are_in_the_business_currency(self, app: CoachOS, world: World) -> None:
        """A fee in another currency than the business's is refused."""
        with pytest.raises(CurrencyMismatch):
            app.execute(
                UpdateOrganizationSettings(
                    org_id=world.org.id, actor=world.me, policy=BookingPolicy(no_show_fee=Money(1000, "EUR"))
                )
            )

    def test_a_fee_is_above_zero(self) -> None:
        """A zero fee is refused (leave it empty for none)."""
        with pytest.raises(ValidationError, match="above zero"):
            BookingPolicy(late_cancel_fee=Money(0, "USD"))

    def test_the_words_name_both_fees_and_the_window(self) -> None:
        """The policy text names the cancellation window and both amounts."""
        assert FEES.fee_text() == (
            "By booking you agree that cancelling less than 24 hours before the session costs 25.00 USD "
            "and not showing up costs 40.00 USD, charged to the card you pay with."
        )


class TestMoving:
    def test_a_held_booking_cannot_be_moved_before_it_is_paid(self, fees: Paying) -> None:
        """Moving a booking still waiting for its payment is refused (it would skip the payment)."""
        booking = book(fees, agree=True)
        with pytest.raises(InvalidTransition, match="waiting for its payment"):
            fees.app.execute(
                RescheduleBooking(
                    org_id=fees.world.org.id,
                    booking_id=booking.id,
                    new_start=local(fees.world, 3, 14),
                    actor=Actor("client", booking.client_id),
                )
            )

    def test_a_paid_booking_moves_with_its_payment_agreement_and_card(self, fees: Paying) -> None:
        """A paid booking moved to another time stays paid, with the fee agreement and kept card."""
        booking = book(fees, agree=True)
        paid_with_card(fees, booking)
        paid = current(fees, booking)
        moved = fees.app.execute(
            RescheduleBooking(
                org_id=fees.world.org.id,
                booking_id=booking.id,
                new_start=local(fees.world, 3, 14),
                actor=fees.world.me,
            )
        )
        assert moved.status is BookingStatus.CONFIRMED
        assert (moved.paid_at, moved.payment_ref) == (paid.paid_at, paid.payment_ref)
        assert moved.fee_agreement == paid.fee_agreement
        assert moved.saved_card == SavedCard("cus_test_kept", "pm_test_kept")
