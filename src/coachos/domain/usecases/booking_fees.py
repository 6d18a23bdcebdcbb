"""Late-cancellation and no-show fees, charged to the card a client kept, only where they agreed to the policy.

When a client cancels inside the cancellation window, or the coach marks a no-show, `owe_fee` records
the fee as PENDING on the booking — but only if the client ticked "I agree" to that fee when booking
(the amounts they saw are stored on the booking; a later change of policy does not apply). The web
request does no more: the worker's `ChargeDueFees` charges each pending fee off-session under the key
`fee:<booking_id>:<kind>` (so racing workers and retries make one charge at Stripe), then marks it
CHARGED with a ledger sale (`sale:fee:<booking_id>:<kind>`) or FAILED with the reason the coach sees.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import attrs

from coachos.domain import ledger
from coachos.domain.bookings import Booking, FeeCharge, FeeKind, FeeState, SavedCard
from coachos.domain.errors import PaymentRefused, PaymentUnavailable
from coachos.domain.ids import BookingId, OrgId
from coachos.domain.stripe_events import StripeEvent
from coachos.domain.usecases._base import Command, Deps, handles
from coachos.domain.usecases._fees import platform_fee_percent
from coachos.domain.usecases.stripe_events import from_connected_account, metadata_kind, on_stripe_event
from coachos.domain.usecases.stripe_fees import learn_stripe_fee
from coachos.ports.storage import UnitOfWork

#: What a fee is called on the client's statement and in the ledger.
FEE_NAMES = {FeeKind.LATE_CANCEL: "Late cancellation fee", FeeKind.NO_SHOW: "No-show fee"}


def fee_key(booking_id: BookingId, kind: FeeKind) -> str:
    """The idempotency key of a booking's fee charge: one charge per booking and kind, whatever the retries."""
    return f"fee:{booking_id}:{kind.value}"


def fee_sale_key(booking_id: BookingId, kind: FeeKind) -> str:
    """The ledger key of a charged fee."""
    return f"sale:fee:{booking_id}:{kind.value}"


def owe_fee(uow: UnitOfWork, booking: Booking, kind: FeeKind, now: datetime) -> bool:
    """Record the fee of `kind` as owed if the client agreed to it when booking; False (nothing owed) otherwise."""
    agreed = booking.fee_agreement.amount(kind) if booking.fee_agreement is not None else None
    if agreed is None:
        return False  # no agreement, no fee: never charged
    return uow.bookings.start_fee(
        booking.org_id, booking.id, FeeCharge(kind=kind, amount=agreed, state=FeeState.PENDING, at=now)
    )


@on_stripe_event("payment_intent.succeeded")
def keep_card(uow: UnitOfWork, deps: Deps, event: StripeEvent) -> None:
    """Keep the card a held booking was paid with (its customer and payment method) when it agreed to fees.

    The card (a Customer of the coach's connected account) is kept only from an event of the named
    business's own account (`from_connected_account`): another account's card could not be charged there.
    """
    del deps
    if metadata_kind(event) != "booking":
        return
    meta = event.object.get("metadata")
    customer, method = event.object.get("customer"), event.object.get("payment_method")
    if not (isinstance(meta, dict) and isinstance(customer, str) and isinstance(method, str)):
        return
    try:
        org_id, booking_id = OrgId(UUID(str(meta["org_id"]))), BookingId(UUID(str(meta["booking_id"])))
    except (KeyError, ValueError):
        return
    if not from_connected_account(uow, event, org_id):
        return
    uow.bookings.save_card(org_id, booking_id, SavedCard(customer_id=customer, payment_method_id=method))


@attrs.frozen(kw_only=True)
class ChargeDueFees(Command[int]):
    """Charge every pending late-cancellation and no-show fee (the worker runs it every minute)."""

    limit: int = 100


@handles(ChargeDueFees)
def charge_due_fees(cmd: ChargeDueFees, deps: Deps) -> int:
    """Charge each pending fee once; how many ended (charged or failed) in this call."""
    with deps.uow() as uow:
        due = uow.bookings.pending_fees(limit=cmd.limit)
    return sum(1 for org_id, booking_id in due if _charge_one(deps, org_id, booking_id))


def _charge_one(deps: Deps, org_id: OrgId, booking_id: BookingId) -> bool:
    now = deps.clock.now()
    with deps.uow() as uow:
        booking = uow.bookings.get(org_id, booking_id)
        fee = booking.fee
        if fee is None or fee.state is not FeeState.PENDING:
            return False
        account = uow.stripe.account(org_id)
        percent = platform_fee_percent(uow, org_id)
    card = booking.saved_card
    if deps.payments is None or account is None or not account.charges_enabled:
        return _finish(deps, booking, FeeState.FAILED, now, None, "Card payments are not set up for this business.")
    if card is None:
        why = "No card was kept for this booking (it was not paid online); collect the fee by hand."
        return _finish(deps, booking, FeeState.FAILED, now, None, why)
    try:
        charged = deps.payments.charge_saved_card(
            idempotency_key=fee_key(booking.id, fee.kind),
            customer_id=card.customer_id,
            payment_method_id=card.payment_method_id,
            amount=fee.amount,
            application_fee=ledger.platform_fee(fee.amount, percent),
            account_id=account.account_id,
            description=FEE_NAMES[fee.kind],
            metadata={
                "coachos_kind": "booking_fee",
                "org_id": str(org_id),
                "booking_id": str(booking_id),
                "fee": fee.kind.value,
            },
        )
    except PaymentUnavailable:
        return False  # Stripe is busy or out of reach: still pending, tried again next minute under the same key
    except PaymentRefused as exc:
        return _finish(deps, booking, FeeState.FAILED, now, None, str(exc))
    return _finish(deps, booking, FeeState.CHARGED, now, charged.payment_intent_id, None, account.account_id)


def _finish(
    deps: Deps,
    booking: Booking,
    state: FeeState,
    now: datetime,
    ref: str | None,
    error: str | None,
    account_id: str | None = None,
) -> bool:
    with deps.uow() as uow:
        done = uow.bookings.finish_fee(booking.org_id, booking.id, state=state, at=now, ref=ref, error=error)
        if done is None or done.fee is None:
            return False  # another worker finished it first
        if state is FeeState.CHARGED:
            fee = done.fee
            header = ledger.Header(
                id=deps.ids.new_id(),
                org_id=booking.org_id,
                key=fee_sale_key(booking.id, fee.kind),
                occurred_at=now,
                source_id=ref or str(booking.id),
                memo=FEE_NAMES[fee.kind],
                client_id=booking.client_id,
                item=FEE_NAMES[fee.kind],
            )
            cut = ledger.platform_fee(fee.amount, platform_fee_percent(uow, booking.org_id))
            uow.ledger.record(ledger.sale(header, fee.amount, stripe_fee=0, platform_fee=cut.amount_minor))
            if ref is not None and account_id is not None:
                # Stripe's own fee on this charge is read by the worker (stripe_fees) and written apart.
                learn_stripe_fee(
                    uow,
                    org_id=booking.org_id,
                    at=now,
                    sale_key=header.key,
                    payment_ref=ref,
                    account_id=account_id,
                )
        uow.commit()
    return True
