"""Pay-per-session at booking: held until paid, confirmed by the payment webhook, released on failure or expiry."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import attrs
import pytest

from coachos import (
    BookAsGuest,
    BookingPolicy,
    BookingStatus,
    CoachOS,
    CreateService,
    Money,
    PolicyViolation,
    Settings,
    ValidationError,
    bootstrap,
)
from coachos.adapters.clock import FixedClock, RandomIds
from coachos.adapters.payments import MemoryPayments
from coachos.domain.bookings import Booking, PaymentIssue
from coachos.domain.catalog import Service
from coachos.domain.stripe_events import StripeAccount
from coachos.domain.usecases import ReceiveStripeEvent, ReleaseExpiredHolds, StartBookingCheckout
from coachos.domain.usecases._holds import HOLD_FOR
from coachos.domain.usecases.booking_payments import sale_key
from tests.helpers import World, drain, local, make_world

CREATED = 1772442000  # 2 March 2026, a second the events say they were made


@attrs.frozen
class Paying:
    """Coach OS with card payments (the recording fake), a business whose account can take charges, a paid service."""

    app: CoachOS
    payments: MemoryPayments
    world: World
    service: Service
    account: str


@pytest.fixture
def paying(app: CoachOS, clock: FixedClock) -> Iterator[Paying]:
    """The test's storage again, now with card payments on and a connected account able to take charges."""
    with paying_on(app, clock) as built:
        yield built


@contextmanager
def paying_on(app: CoachOS, clock: FixedClock, policy: BookingPolicy | None = None) -> Iterator[Paying]:
    """`app`'s storage with card payments (the recording fake), a chargeable account, a $50 drop-in paid when booked."""
    payments = MemoryPayments()
    with bootstrap(
        Settings(database_url="memory://"), uow=app.deps.uow, clock=clock, ids=RandomIds(), payments=payments
    ) as built:
        world = make_world(built, policy=policy)
        service = built.execute(
            CreateService(
                org_id=world.org.id,
                name="Drop-in session",
                duration=timedelta(minutes=60),
                price=Money(5000, "USD"),
                uses_credit=False,
                pay_at_booking=True,
                actor=world.me,
            )
        )
        account = "acct_" + uuid.uuid4().hex[:16]
        with built.deps.uow() as uow:
            uow.stripe.link_account(world.org.id, account, clock.now())
            uow.stripe.update_account(
                StripeAccount(
                    org_id=world.org.id,
                    account_id=account,
                    charges_enabled=True,
                    details_submitted=True,
                    status_at=clock.now(),
                    updated_at=clock.now(),
                )
            )
            uow.commit()
        yield Paying(built, payments, world, service, account)


def book(p: Paying, hour: int = 10, key: str | None = None, *, agree: bool = False) -> Booking:
    """A guest books the paid service at `hour` on Tuesday 3 March (ticking "I agree" to fees if `agree`)."""
    return p.app.execute(
        BookAsGuest(
            org_id=p.world.org.id,
            service_id=p.service.id,
            start=local(p.world, 3, hour),
            name="Casey Morgan",
            email=f"casey{uuid.uuid4().hex[:6]}@example.com",
            sms_consent=False,
            consent_wording="Text me",
            idempotency_key=key or uuid.uuid4().hex,
            visitor="visitor-1",
            agree_to_fees=agree,
        )
    )


def checkout(p: Paying, booking: Booking) -> Any:
    return p.app.execute(
        StartBookingCheckout(
            org_id=p.world.org.id,
            booking_id=booking.id,
            success_url="https://x.test/ok",
            cancel_url="https://x.test/no",
        )
    )


def checkout_event(
    p: Paying, booking: Booking, kind: str = "checkout.session.completed", *, event_id: str | None = None, **extra: Any
) -> str:
    """A Checkout Session event for the booking's payment, shaped as Stripe sends it."""
    obj = {
        "id": "cs_test_" + booking.id.hex[:12],
        "object": "checkout.session",
        "payment_status": "paid" if kind == "checkout.session.completed" else "unpaid",
        "payment_intent": "pi_test_" + booking.id.hex[:12],
        "amount_total": 5000,
        "currency": "usd",
        "metadata": {"coachos_kind": "booking", "org_id": str(p.world.org.id), "booking_id": str(booking.id)},
    } | extra
    return json.dumps(
        {
            "id": event_id or "evt_" + uuid.uuid4().hex,
            "object": "event",
            "type": kind,
            "account": p.account,  # a direct charge: the event comes from the business's connected account
            "created": CREATED,
            "livemode": False,
            "data": {"object": obj},
        }
    )


def current(p: Paying, booking: Booking) -> Booking:
    with p.app.deps.uow() as uow:
        return uow.bookings.get(p.world.org.id, booking.id)


def seats_taken(p: Paying, booking: Booking) -> int:
    """How many appointments with a seat taken cover the booking's time (busy lists only those)."""
    with p.app.deps.uow() as uow:
        return len(uow.calendar.busy(p.world.org.id, booking.coach_id, booking.start, booking.end))


def booking_events(p: Paying, booking: Booking) -> list[str]:
    """The types of the stored events about the booking, oldest first."""
    with p.app.deps.uow() as uow:
        pending = uow.outbox.pending(limit=100_000)
    return [e.type_name for e in pending if getattr(e, "booking_id", None) == booking.id]


def sales(p: Paying, booking: Booking) -> Any:
    with p.app.deps.uow() as uow:
        return uow.ledger.by_key(p.world.org.id, sale_key(booking.id))


class TestHeldBooking:
    def test_a_paid_service_booked_online_is_held_with_its_seat(self, paying: Paying, clock: FixedClock) -> None:
        """A guest's booking of a pay-at-booking service is HELD for 30 minutes and keeps its seat."""
        booking = book(paying)
        assert booking.status is BookingStatus.HELD
        assert booking.hold_expires_at == clock.now() + HOLD_FOR
        assert seats_taken(paying, booking) == 1

    def test_checkout_is_for_the_price_on_the_coach_account_with_our_ids(self, paying: Paying) -> None:
        """The Checkout charges the service's price for the connected account, with the platform fee and our ids."""
        booking = book(paying)
        session = checkout(paying, booking)
        call = paying.payments.calls[-1]
        assert call.method == "checkout"
        assert call.idempotency_key == f"checkout:booking:{paying.world.org.id}:{booking.id}"
        assert call.params["account_id"] == paying.account
        assert call.params["price"] == Money(5000, "USD")
        assert call.params["application_fee"] == Money(250, "USD")  # the default 5 %
        assert call.params["metadata"] == {
            "coachos_kind": "booking",
            "org_id": str(paying.world.org.id),
            "booking_id": str(booking.id),
        }
        assert current(paying, booking).payment_ref == session.session_id
        # Stripe ends the Checkout a minute before the hold, so its expiry releases the seat first.
        assert booking.hold_expires_at is not None
        assert call.params["expires_at"] == booking.hold_expires_at - timedelta(minutes=1)

    def test_checkout_again_returns_the_same_session(self, paying: Paying) -> None:
        """Asking for the booking's Checkout twice (a reload) makes one session."""
        booking = book(paying)
        assert checkout(paying, booking) == checkout(paying, booking)
        assert len(paying.payments.created) == 1

    def test_a_business_that_cannot_take_charges_is_refused_before_a_seat_is_taken(
        self, paying: Paying, clock: FixedClock
    ) -> None:
        """Without an account able to take charges, booking the paid service is refused and nothing is held."""
        with paying.app.deps.uow() as uow:
            uow.stripe.update_account(
                StripeAccount(
                    org_id=paying.world.org.id,
                    account_id=paying.account,
                    charges_enabled=False,
                    details_submitted=True,
                    status_at=clock.now() + timedelta(seconds=1),
                    updated_at=clock.now(),
                )
            )
            uow.commit()
        with pytest.raises(PolicyViolation, match="cannot take card payments"):
            book(paying)
        with paying.app.deps.uow() as uow:
            taken = uow.bookings.between(paying.world.org.id, local(paying.world, 3, 0), local(paying.world, 4, 0))
        assert list(taken) == []

    def test_without_card_payments_a_service_cannot_be_paid_when_booked(self, app: CoachOS, world: World) -> None:
        """When Coach OS has no payment provider, making a pay-at-booking service is refused."""
        with pytest.raises(ValidationError, match="Card payments are not set up"):
            app.execute(
                CreateService(
                    org_id=world.org.id,
                    name="Drop-in",
                    duration=timedelta(minutes=60),
                    price=Money(5000, "USD"),
                    uses_credit=False,
                    pay_at_booking=True,
                    actor=world.me,
                )
            )

    def test_a_credit_service_cannot_also_be_paid_when_booked(self, paying: Paying) -> None:
        """A service is paid by credit or by card at booking, not both."""
        with pytest.raises(ValidationError, match="not both"):
            paying.app.execute(
                CreateService(
                    org_id=paying.world.org.id,
                    name="Both",
                    duration=timedelta(minutes=60),
                    price=Money(5000, "USD"),
                    pay_at_booking=True,
                    actor=paying.world.me,
                )
            )


class TestPaymentWebhook:
    def test_nothing_is_announced_while_held_and_one_confirmation_after_payment(self, paying: Paying) -> None:
        """A held booking emits no booking event (no confirmation goes out); its payment emits one BookingConfirmed."""
        booking = book(paying)
        assert booking_events(paying, booking) == []
        paying.app.execute(ReceiveStripeEvent(body=checkout_event(paying, booking)))
        paying.app.execute(ReceiveStripeEvent(body=checkout_event(paying, booking)))  # another delivery, new id
        assert booking_events(paying, booking) == ["booking.confirmed"]

    def test_payment_confirms_and_records_one_sale(self, paying: Paying) -> None:
        """checkout.session.completed confirms the held booking and writes one revenue sale with the platform fee."""
        booking = book(paying)
        paying.app.execute(ReceiveStripeEvent(body=checkout_event(paying, booking)))
        now = current(paying, booking)
        assert now.status is BookingStatus.CONFIRMED
        assert now.payment_ref == "pi_test_" + booking.id.hex[:12]
        sale = sales(paying, booking)
        assert sale is not None
        assert sale.item == "Drop-in session"
        assert sale.client_id == booking.client_id
        by_account = {e.account.value: e.amount_minor for e in sale.entries}
        assert by_account["revenue"] == -5000
        assert by_account["platform_fees"] == 250

    def test_the_same_payment_twice_confirms_once(self, paying: Paying) -> None:
        """Two different events for one payment (completed, then async succeeded) leave one sale."""
        booking = book(paying)
        paying.app.execute(ReceiveStripeEvent(body=checkout_event(paying, booking)))
        paying.app.execute(
            ReceiveStripeEvent(body=checkout_event(paying, booking, "checkout.session.async_payment_succeeded"))
        )
        assert current(paying, booking).status is BookingStatus.CONFIRMED
        assert sales(paying, booking) is not None

    def test_expired_checkout_releases_the_seat(self, paying: Paying) -> None:
        """checkout.session.expired releases the held booking and gives its seat back."""
        booking = book(paying)
        paying.app.execute(ReceiveStripeEvent(body=checkout_event(paying, booking, "checkout.session.expired")))
        assert current(paying, booking).status is BookingStatus.CANCELLED
        assert seats_taken(paying, booking) == 0
        assert sales(paying, booking) is None

    def test_payment_after_release_stays_released_and_is_flagged(self, paying: Paying) -> None:
        """A payment arriving after the hold was released leaves it released, flagged for the coach, money recorded."""
        booking = book(paying)
        paying.app.execute(ReceiveStripeEvent(body=checkout_event(paying, booking, "checkout.session.expired")))
        paying.app.execute(ReceiveStripeEvent(body=checkout_event(paying, booking)))
        late = current(paying, booking)
        assert late.status is BookingStatus.CANCELLED
        assert late.payment_issue is PaymentIssue.PAID_AFTER_RELEASE
        assert sales(paying, booking) is not None

    def test_an_unpaid_completion_does_not_confirm(self, paying: Paying) -> None:
        """A completed Checkout whose payment is still processing leaves the booking held."""
        booking = book(paying)
        paying.app.execute(ReceiveStripeEvent(body=checkout_event(paying, booking, payment_status="unpaid")))
        assert current(paying, booking).status is BookingStatus.HELD

    def test_other_kinds_are_ignored(self, paying: Paying) -> None:
        """A Checkout event whose metadata is not a booking's changes no booking."""
        booking = book(paying)
        body = checkout_event(paying, booking, metadata={"coachos_kind": "package", "booking_id": str(booking.id)})
        paying.app.execute(ReceiveStripeEvent(body=body))
        assert current(paying, booking).status is BookingStatus.HELD


class TestDirectCharges:
    def test_a_payment_on_another_account_confirms_nothing(self, paying: Paying) -> None:
        """A Checkout made on an account that is not this business's (or on the platform's) naming this booking
        is kept and ignored: still held, no sale; nor can such an event release it."""
        booking = book(paying)
        for account in ("acct_forger000000001", None):
            for kind in ("checkout.session.completed", "checkout.session.expired"):
                forged = json.loads(checkout_event(paying, booking, kind))
                forged["account"] = account
                assert paying.app.execute(ReceiveStripeEvent(body=json.dumps(forged))).new
        assert current(paying, booking).status is BookingStatus.HELD
        assert sales(paying, booking) is None

    def test_stripes_fee_on_the_sale_is_written_by_the_worker(self, paying: Paying, clock: FixedClock) -> None:
        """After the webhook, the stripe_fees consumer reads the PaymentIntent on the coach's account and writes
        Stripe's fee once under stripe_fee:booking:<id>."""
        booking = book(paying)
        paying.app.execute(ReceiveStripeEvent(body=checkout_event(paying, booking)))
        intent = "pi_test_" + booking.id.hex[:12]
        paying.payments.fees[intent] = Money(175, "USD")
        drain(paying.app)
        with paying.app.deps.uow() as uow:
            fee = uow.ledger.by_key(paying.world.org.id, f"stripe_fee:booking:{booking.id}")
        assert fee is not None
        assert {e.account.value: e.amount_minor for e in fee.entries} == {"stripe_fees": 175, "stripe_balance": -175}
        assert (fee.client_id, fee.item) == (booking.client_id, "Drop-in session")
        asked = [c.params for c in paying.payments.calls if c.method == "payment_fee"]
        assert {"payment_ref": intent, "account_id": paying.account} in asked


class TestHoldExpiry:
    def test_an_expired_hold_is_released_once(self, paying: Paying, clock: FixedClock) -> None:
        """After the hold ends the worker's job releases the booking once; running it again releases nothing."""
        booking = book(paying)
        assert booking.id not in paying.app.execute(ReleaseExpiredHolds())
        clock.advance(HOLD_FOR)
        assert booking.id in paying.app.execute(ReleaseExpiredHolds())
        assert booking.id not in paying.app.execute(ReleaseExpiredHolds())
        assert current(paying, booking).status is BookingStatus.CANCELLED
        assert seats_taken(paying, booking) == 0

    def test_a_paid_booking_is_not_released(self, paying: Paying, clock: FixedClock) -> None:
        """A booking confirmed by its payment is not released when its old hold time passes."""
        booking = book(paying)
        paying.app.execute(ReceiveStripeEvent(body=checkout_event(paying, booking)))
        clock.advance(HOLD_FOR * 2)
        assert booking.id not in paying.app.execute(ReleaseExpiredHolds())
        assert current(paying, booking).status is BookingStatus.CONFIRMED
