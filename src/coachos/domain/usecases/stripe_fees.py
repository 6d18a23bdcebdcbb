"""Stripe's fee on every card sale, learnt in the worker (one mechanism for every kind of sale).

A webhook handler (or the worker, for fee charges) that records a card sale emits `CardPaymentReceived`
with the sale's ledger key, the payment (PaymentIntent, or a membership period's invoice) and the
connected account it was made on. The `stripe_fees` outbox consumer then asks Stripe — outside any
transaction, never inside the webhook — for the balance transaction's `stripe_fee` (the coach pays
it: sales are direct charges) and writes it once under ``stripe_fee:<what the sale key names>``:
``stripe_fee:package:<id>`` (packages and membership periods), ``stripe_fee:booking:<id>`` (paid when
booked), ``stripe_fee:fee:<booking>:<kind>`` (late-cancellation / no-show fees). While Stripe has not
settled the fee yet the consumer raises PaymentUnavailable and the relay tries again with its backoff.
"""

from __future__ import annotations

from datetime import datetime

from coachos.domain import ledger
from coachos.domain.errors import PaymentUnavailable
from coachos.domain.events import CardPaymentReceived, Event
from coachos.domain.ids import OrgId
from coachos.domain.usecases._base import Deps
from coachos.domain.usecases.relay import Relay
from coachos.ports.storage import UnitOfWork

#: The outbox consumer's name (its progress is stored under it).
FEES_CONSUMER = "stripe_fees"


def stripe_fee_key(sale_key: str) -> str:
    """The ledger key of Stripe's fee on the sale keyed `sale_key` (``sale:x:y`` → ``stripe_fee:x:y``)."""
    return "stripe_fee:" + sale_key.removeprefix("sale:")


def learn_stripe_fee(
    uow: UnitOfWork, *, org_id: OrgId, at: datetime, sale_key: str, payment_ref: str, account_id: str
) -> None:
    """Have the worker read Stripe's fee on the card sale just recorded under `sale_key` (same transaction)."""
    uow.emit(
        CardPaymentReceived(
            org_id=org_id,
            occurred_at=at,
            actor="stripe",
            sale_key=sale_key,
            payment_ref=payment_ref,
            account_id=account_id,
        )
    )


def subscribe_stripe_fees(relay: Relay) -> None:
    """Subscribe the consumer that writes Stripe's fee on card sales (the composition root calls this)."""
    relay.subscribe(FEES_CONSUMER, CardPaymentReceived, record_stripe_fee)


def record_stripe_fee(event: Event, deps: Deps) -> None:
    """Write Stripe's fee on one card sale once; nothing when Coach OS has no payments or the fee is 0."""
    if not isinstance(event, CardPaymentReceived) or deps.payments is None:
        return
    key = stripe_fee_key(event.sale_key)
    with deps.uow() as uow:
        if uow.ledger.by_key(event.org_id, key) is not None:
            return
        sale = uow.ledger.by_key(event.org_id, event.sale_key)
    if sale is None:
        return  # the sale is written in the transaction that emitted this event; none: nothing to attach to
    fee = deps.payments.payment_fee(event.payment_ref, account_id=event.account_id)
    if fee is None:
        raise PaymentUnavailable("Stripe has not settled this payment's fee yet; it is asked again later.")
    if fee.amount_minor <= 0:
        return
    header = ledger.Header(
        id=deps.ids.new_id(),
        org_id=event.org_id,
        key=key,
        occurred_at=event.occurred_at,
        source_id=event.payment_ref,
        memo="Stripe fee",
        client_id=sale.client_id,
        item=sale.item,
    )
    with deps.uow() as uow:
        uow.ledger.record(ledger.processing_fee(header, fee))
        uow.commit()
