"""Pay-per-session at booking: a booking held until its card payment succeeds, released if it does not.

A client booking a service with `pay_at_booking` online gets a HELD booking: it keeps its seat, is
not confirmed and sends no confirmation. The client is sent to Stripe Checkout for the service's
price (`StartBookingCheckout`). Then exactly one of these happens, each a conditional UPDATE on the
booking's status, so whatever order or how many times they arrive only the first one counts:

- `checkout.session.completed` (paid) → CONFIRMED, the confirmation goes out, a ledger sale
  (`sale:booking:<booking_id>`, revenue, the platform fee split out);
- `checkout.session.expired` / `checkout.session.async_payment_failed` → released (CANCELLED, seat
  given back);
- the hold expires (`ReleaseExpiredHolds`, run by the worker every minute) → released.

A payment that completes after the hold was released leaves the booking released (the seat may
have been taken since) and marks it `paid_after_release` for the coach, who refunds or rebooks by
hand; the money is still recorded in the ledger, since it did arrive.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import attrs

from coachos.domain import ledger
from coachos.domain.bookings import Booking, BookingStatus
from coachos.domain.errors import InvalidTransition, PolicyViolation
from coachos.domain.events import BookingConfirmed
from coachos.domain.ids import SYSTEM, BookingId, OrgId
from coachos.domain.stripe_events import StripeEvent
from coachos.domain.usecases._base import Command, Deps, handles
from coachos.domain.usecases._fees import platform_fee_percent
from coachos.domain.usecases._holds import checkout_expiry, require_chargeable
from coachos.domain.usecases.booking import booking_event
from coachos.domain.usecases.stripe_events import from_connected_account, metadata_kind, on_stripe_event
from coachos.domain.usecases.stripe_fees import learn_stripe_fee
from coachos.ports.payments import CheckoutSession
from coachos.ports.storage import UnitOfWork

#: The `coachos_kind` on the Checkout Sessions of bookings.
KIND = "booking"


def booking_checkout_key(org_id: OrgId, booking_id: BookingId) -> str:
    """The key of a booking's one Checkout: asking again (a reload, a retry) returns the same session."""
    return f"checkout:booking:{org_id}:{booking_id}"


def sale_key(booking_id: BookingId) -> str:
    """The ledger key of a booking's sale: one per booking, whatever Stripe redelivers."""
    return f"sale:booking:{booking_id}"


@attrs.frozen(kw_only=True)
class StartBookingCheckout(Command[CheckoutSession]):
    """Send the client of a held booking to pay: Stripe Checkout for the service's price, on the coach's account."""

    org_id: OrgId
    booking_id: BookingId
    success_url: str
    cancel_url: str


@handles(StartBookingCheckout)
def start_booking_checkout(cmd: StartBookingCheckout, deps: Deps) -> CheckoutSession:
    """Create (or find again, by its key) the booking's Checkout Session and remember its id on the booking."""
    with deps.uow() as uow:
        booking = uow.bookings.get(cmd.org_id, cmd.booking_id)
        if booking.status is not BookingStatus.HELD:
            raise InvalidTransition(f"This booking is {booking.status.value}; there is nothing to pay for it now.")
        service = uow.services.get(cmd.org_id, booking.service_id)
        account_id = require_chargeable(uow, deps, cmd.org_id)
        fee = ledger.platform_fee(service.price, platform_fee_percent(uow, cmd.org_id))
    if deps.payments is None:  # require_chargeable refused already; kept for the type checker
        raise PolicyViolation("Card payments are not set up.")
    # The provider is called outside any transaction: no database connection waits on Stripe.
    session = deps.payments.create_checkout(
        idempotency_key=booking_checkout_key(cmd.org_id, cmd.booking_id),
        account_id=account_id,
        name=service.name,
        price=service.price,
        application_fee=fee,
        success_url=cmd.success_url,
        cancel_url=cmd.cancel_url,
        reference=str(cmd.booking_id),
        metadata={"coachos_kind": KIND, "org_id": str(cmd.org_id), "booking_id": str(cmd.booking_id)},
        # Keep the card only when the client agreed to a fee policy it may pay for.
        save_card=booking.fee_agreement is not None,
        expires_at=checkout_expiry(booking.hold_expires_at, deps.clock.now()) if booking.hold_expires_at else None,
    )
    with deps.uow() as uow:
        uow.bookings.set_payment_ref(cmd.org_id, cmd.booking_id, session.session_id)
        uow.commit()
    return session


def _ours(uow: UnitOfWork, event: StripeEvent) -> tuple[OrgId, BookingId] | None:
    """The booking a Checkout event is about, when it is one of ours for a booking made on the named
    business's own connected account (see `from_connected_account`); else None."""
    if metadata_kind(event) != KIND:
        return None
    meta: Any = event.object.get("metadata")
    try:
        found = OrgId(_uuid(meta["org_id"])), BookingId(_uuid(meta["booking_id"]))
    except (KeyError, TypeError, ValueError):
        return None
    return found if from_connected_account(uow, event, found[0]) else None


def _uuid(value: object) -> UUID:
    return UUID(str(value))


def _payment_ref(event: StripeEvent) -> str | None:
    intent = event.object.get("payment_intent")
    if isinstance(intent, str):
        return intent
    session = event.object.get("id")
    return session if isinstance(session, str) else None


@on_stripe_event("checkout.session.completed", "checkout.session.async_payment_succeeded")
def booking_paid(uow: UnitOfWork, deps: Deps, event: StripeEvent) -> None:
    """A held booking's payment succeeded: confirm it (only if still held) and record the sale once."""
    if event.object.get("payment_status") not in ("paid", "no_payment_required"):
        return  # paid later by a slow method (async_payment_succeeded follows)
    found = _ours(uow, event)
    if found is None:
        return  # not a booking's
    org_id, booking_id = found
    now = deps.clock.now()
    ref = _payment_ref(event)
    confirmed = uow.bookings.confirm_held(org_id, booking_id, at=now, payment_ref=ref)
    if confirmed is not None:
        uow.emit(booking_event(BookingConfirmed, confirmed, now, SYSTEM))
        _record_sale(uow, deps, confirmed, now, event)
        return
    late = uow.bookings.record_late_payment(org_id, booking_id, at=now, payment_ref=ref)
    if late is not None:
        # Paid after the hold was released: the money arrived, so it is recorded; the coach sees the issue.
        _record_sale(uow, deps, late, now, event)


def _record_sale(uow: UnitOfWork, deps: Deps, booking: Booking, now: datetime, event: StripeEvent) -> None:
    service = uow.services.get(booking.org_id, booking.service_id)
    amount = event.object.get("amount_total")
    currency = event.object.get("currency")
    gross = service.price
    if isinstance(amount, int) and not isinstance(amount, bool) and isinstance(currency, str) and amount > 0:
        gross = attrs.evolve(gross, amount_minor=amount) if currency.upper() == gross.currency else gross
    fee = ledger.platform_fee(gross, platform_fee_percent(uow, booking.org_id))
    header = ledger.Header(
        id=deps.ids.new_id(),
        org_id=booking.org_id,
        key=sale_key(booking.id),
        occurred_at=now,
        source_id=event.id,
        memo="Session paid when booked",
        client_id=booking.client_id,
        item=service.name,
    )
    # Stripe's own fee is not in the Checkout event: the worker reads it (stripe_fees) and writes it apart.
    recorded = uow.ledger.record(ledger.sale(header, gross, stripe_fee=0, platform_fee=fee.amount_minor))
    intent = event.object.get("payment_intent")
    if recorded and isinstance(intent, str) and event.account is not None:
        learn_stripe_fee(
            uow,
            org_id=booking.org_id,
            at=now,
            sale_key=header.key,
            payment_ref=intent,
            account_id=event.account,
        )


@on_stripe_event("checkout.session.expired", "checkout.session.async_payment_failed")
def booking_payment_failed(uow: UnitOfWork, deps: Deps, event: StripeEvent) -> None:
    """The Checkout of a held booking expired or its payment failed: release the hold (only if still held)."""
    found = _ours(uow, event)
    if found is None:
        return
    release_hold(uow, found[0], found[1], deps.clock.now())


def release_hold(uow: UnitOfWork, org_id: OrgId, booking_id: BookingId, now: datetime) -> bool:
    """Release a held booking and give its seat back, once; False if it was no longer held."""
    released = uow.bookings.release_held(org_id, booking_id, at=now)
    if released is None:
        return False
    uow.calendar.release_seat(org_id, released.appointment_id)
    return True


@attrs.frozen(kw_only=True)
class ReleaseExpiredHolds(Command[list[BookingId]]):
    """Release every held booking whose hold has expired (the worker runs it every minute)."""

    limit: int = 500


@handles(ReleaseExpiredHolds)
def release_expired_holds(cmd: ReleaseExpiredHolds, deps: Deps) -> list[BookingId]:
    """Release each expired hold in its own transaction; the bookings this call released.

    Racing workers may list the same booking; the conditional UPDATE lets only one release it.
    """
    now = deps.clock.now()
    with deps.uow() as uow:
        due = uow.bookings.expired_holds(now, limit=cmd.limit)
    released: list[BookingId] = []
    for org_id, booking_id in due:
        with deps.uow() as uow:
            if release_hold(uow, org_id, booking_id, now):
                uow.commit()
                released.append(booking_id)
    return released
