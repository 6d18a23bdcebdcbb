"""Session packages sold for money: the coach's offers, card Checkout, hand-recorded payments, and
deferred revenue recognised as credits are used.

Money rules (each written once here):
- A package paid by card or recorded as paid in cash or by bank transfer gets one ledger sale,
  key ``sale:package:<package id>``, into deferred revenue (its credits are owed sessions).
- Card sales pay the platform fee (``platform_fee_percent``, half up). Cash and bank sales pay no
  platform fee and no Stripe fee: the money never passed through Stripe, so the platform has
  nothing to take it from. Complimentary packages record no money at all.
- The card sale records Stripe's fee as 0, so the webhook answers at once without calling Stripe
  (the fee is known only from the charge's balance transaction, which may not exist yet). The
  PackagePaid event it emits reaches the "stripe_fees" outbox consumer in the worker, which reads
  the fee through the payments port and writes it as its own transaction, key
  ``stripe_fee:package:<id>`` (Stripe fees debited, Stripe balance credited); while Stripe has no
  fee yet the consumer fails and the relay retries it with backoff.
- Each credit used earns its share of the sale (price // sessions; the last credit also the
  remainder), key ``recognise:<package id>:<n>`` where n is the package's used count after the use.
  Returning a credit does not reverse what was recognised, and using it again writes the same key
  (so nothing twice): what is recognised only ever follows the highest "used" the package reached,
  and can never exceed the price. On expiry the rest is recognised under ``recognise:<id>:expiry``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import attrs

from coachos.domain import ledger
from coachos.domain.bookings import CreditEventKind
from coachos.domain.catalog import PackageOffer, PaymentMethod, PaymentState, SessionPackage
from coachos.domain.errors import (
    InvalidTransition,
    NotFound,
    PolicyViolation,
    ValidationError,
)
from coachos.domain.events import PackagePaid, PackageSold
from coachos.domain.ids import Actor, ClientId, OrgId, PackageId, PackageOfferId
from coachos.domain.money import Money
from coachos.domain.refunds import credit_price
from coachos.domain.stripe_events import StripeEvent
from coachos.domain.usecases._base import Command, Deps, handles
from coachos.domain.usecases._fees import platform_fee_percent
from coachos.domain.usecases.stripe_events import from_connected_account, metadata_kind, on_stripe_event
from coachos.domain.usecases.stripe_fees import learn_stripe_fee, stripe_fee_key
from coachos.ports.payments import checkout_key
from coachos.ports.storage import UnitOfWork

#: The `coachos_kind` of the Stripe objects made for a package sale.
PACKAGE_KIND = "package"
#: Ways a coach records a package as paid by hand.
BY_HAND = (PaymentMethod.CASH, PaymentMethod.BANK)


def sale_key(package_id: UUID) -> str:
    """The ledger key of a package's sale."""
    return f"sale:package:{package_id}"


def fee_key(package_id: UUID) -> str:
    """The ledger key of Stripe's fee on a package's card sale (see stripe_fees)."""
    return stripe_fee_key(sale_key(package_id))


def recognise_key(package_id: UUID, n: int | str) -> str:
    """The ledger key of the revenue the `n`-th credit (or "expiry") of a package earned."""
    return f"recognise:{package_id}:{n}"


def _header(deps: Deps, package: SessionPackage, key: str, at: datetime, source_id: str, memo: str) -> ledger.Header:
    return ledger.Header(
        id=deps.ids.new_id(),
        org_id=package.org_id,
        key=key,
        occurred_at=at,
        source_id=source_id,
        memo=memo,
        client_id=package.client_id,
        item=package.name,
    )


def record_hand_sale(uow: UnitOfWork, deps: Deps, package: SessionPackage, at: datetime) -> None:
    """The ledger sale of a package paid in cash or by bank transfer: all of it into cash, no fees."""
    if package.price.amount_minor <= 0:
        return
    memo = f"Package paid by {package.payment_method.value}"
    header = _header(deps, package, sale_key(package.id), at, str(package.id), memo)
    uow.ledger.record(ledger.sale(header, package.price, 0, 0, deferred=True, received_in=ledger.Account.CASH))


def recognise_use(uow: UnitOfWork, deps: Deps, org_id: OrgId, package_id: PackageId, used: int, at: datetime) -> None:
    """Recognise the `used`-th credit's share of the package's sale (nothing if it has no ledger sale)."""
    sale_tx = uow.ledger.by_key(org_id, sale_key(package_id))
    if sale_tx is None or used < 1:
        return
    package = uow.packages.get(org_id, package_id)
    priced = credits_priced(uow, package, sale_tx)
    share = priced.credit_share(min(used, package.total))
    if share.amount_minor > 0:
        header = _header(deps, package, recognise_key(package_id, used), at, str(package_id), "Session used")
        uow.ledger.record(ledger.recognise(header, share))


def credits_priced(uow: UnitOfWork, package: SessionPackage, sale_tx: ledger.LedgerTransaction) -> SessionPackage:
    """The package priced at what its credits stand for: the sale, less what credits removed by partial
    refunds stood for (domain/refunds.py), so each remaining credit keeps its share."""
    totals = uow.refunds.totals(package.org_id, sale_tx.key)
    return credit_price(package, ledger.gross_of(sale_tx), totals.credits_value if totals else 0)


def high_water(uow: UnitOfWork, org_id: OrgId, package_id: PackageId) -> int:
    """The most credits the package ever had in use at once (returns lower `used`, never this)."""
    used = top = 0
    for event in uow.packages.credit_events(org_id, package_id):
        used += 1 if event.kind is CreditEventKind.USE else -1
        top = max(top, used)
    return top


# ---- Payments recorded by hand ------------------------------------------------------------------


def payment_method(value: object) -> PaymentMethod:
    """`value` as a PaymentMethod, or a ValidationError naming the ways a package can be paid."""
    try:
        return PaymentMethod(str(value))
    except ValueError:
        names = ", ".join(m.value for m in PaymentMethod)
        raise ValidationError(f"How it was paid is one of: {names}.", field="paid_by") from None


@attrs.frozen(kw_only=True)
class RecordPackagePayment(Command[SessionPackage]):
    """The coach took the money for a pending package in cash or by bank transfer: its credits unlock."""

    org_id: OrgId
    package_id: PackageId
    method: PaymentMethod = attrs.field(converter=payment_method, validator=lambda _, __, v: _by_hand(v))
    actor: Actor


def _by_hand(method: PaymentMethod) -> None:
    # A validator, not __attrs_post_init__: that belongs to Command (its field type checks).
    if method not in BY_HAND:
        raise ValidationError("Record a payment taken in cash or by bank transfer.", field="method")


@handles(RecordPackagePayment)
def record_package_payment(cmd: RecordPackagePayment, deps: Deps) -> SessionPackage:
    """PENDING → PAID by one conditional UPDATE, with the cash sale in the ledger, in one transaction."""
    now = deps.clock.now()
    with deps.uow() as uow:
        paid = uow.packages.mark_paid(cmd.org_id, cmd.package_id, method=cmd.method, at=now, ref=None)
        if paid is None:
            current = uow.packages.get(cmd.org_id, cmd.package_id)
            raise InvalidTransition(f"This package is {current.payment_state.value}, not waiting for payment.")
        record_hand_sale(uow, deps, paid, now)
        uow.emit(
            PackagePaid(
                org_id=cmd.org_id,
                occurred_at=now,
                actor=str(cmd.actor),
                package_id=paid.id,
                client_id=paid.client_id,
                method=cmd.method.value,
            )
        )
        uow.commit()
    return paid


# ---- Card Checkout ------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class PackageCheckout:
    """A pending package and the Checkout page where the client pays for it."""

    package: SessionPackage
    url: str


@attrs.frozen(kw_only=True)
class StartPackageCheckout(Command[PackageCheckout]):
    """A client pays by card: for an offer (a new PENDING package) or for a pending card package the
    coach sold them (`package_id`), through a Stripe Checkout.

    Exactly one of `offer_id` and `package_id`. `success_url` and `cancel_url` may contain
    ``{package_id}``, replaced by the package's id.
    """

    org_id: OrgId
    client_id: ClientId
    success_url: str
    cancel_url: str
    offer_id: PackageOfferId | None = None
    package_id: PackageId | None = attrs.field(default=None)

    @package_id.validator
    def _one_of_two(self, _: attrs.Attribute[PackageId | None], value: PackageId | None) -> None:
        # A validator, not __attrs_post_init__: that belongs to Command (its field type checks).
        if (self.offer_id is None) == (value is None):
            raise ValidationError("Choose a package to buy.", field="offer_id")


def new_package(deps: Deps, offer: PackageOffer, client_id: ClientId, now: datetime) -> SessionPackage:
    """A pending card package for `client_id` with the offer's name, sessions, price and validity."""
    return SessionPackage(
        id=PackageId(deps.ids.new_id()),
        org_id=offer.org_id,
        client_id=client_id,
        name=offer.name,
        total=offer.sessions,
        price=offer.price,
        purchased_at=now,
        expires_at=offer.expires_at(now),
        payment_state=PaymentState.PENDING,
        payment_method=PaymentMethod.CARD,
    )


@handles(StartPackageCheckout)
def start_package_checkout(cmd: StartPackageCheckout, deps: Deps) -> PackageCheckout:
    """Store the pending package, then ask Stripe for Checkout (keyed by the package id) outside the
    transaction; when the call fails, a package made from an offer is marked FAILED so no stray
    pending package is left behind."""
    payments = deps.payments
    if payments is None:
        raise PolicyViolation("Card payments are not set up here; ask your coach how to pay.")
    now = deps.clock.now()
    with deps.uow() as uow:
        uow.clients.get(cmd.org_id, cmd.client_id)
        account = uow.stripe.account(cmd.org_id)
        if account is None or not account.charges_enabled:
            raise PolicyViolation("This business cannot take card payments yet; ask your coach how to pay.")
        if cmd.package_id is not None:
            package = _payable(uow, cmd.org_id, cmd.client_id, cmd.package_id)
        else:
            package = _from_offer(uow, deps, cmd, now)
        if package.price.amount_minor <= 0:
            raise PolicyViolation("That package is free; ask your coach to add it for you.")
        fee = ledger.platform_fee(package.price, platform_fee_percent(uow, cmd.org_id))
        uow.commit()
    try:
        session = payments.create_checkout(
            idempotency_key=checkout_key(cmd.org_id, package.id, package.id),
            account_id=account.account_id,
            name=package.name,
            price=package.price,
            application_fee=fee,
            success_url=cmd.success_url.replace("{package_id}", str(package.id)),
            cancel_url=cmd.cancel_url.replace("{package_id}", str(package.id)),
            reference=str(package.id),
            metadata={
                "coachos_kind": PACKAGE_KIND,
                "org_id": str(cmd.org_id),
                "package_id": str(package.id),
                "client_id": str(cmd.client_id),
            },
        )
    except Exception:
        if cmd.offer_id is not None:  # a package the coach sold stays pending: the client may try again
            with deps.uow() as uow:
                uow.packages.mark_failed(cmd.org_id, package.id)
                uow.commit()
        raise
    return PackageCheckout(package=package, url=session.url)


def _payable(uow: UnitOfWork, org_id: OrgId, client_id: ClientId, package_id: PackageId) -> SessionPackage:
    """The client's own card package waiting for payment; NotFound for another's, a refusal otherwise."""
    package = uow.packages.get(org_id, package_id)
    if package.client_id != client_id:
        raise NotFound("No such package in this business.")
    if package.payment_state is not PaymentState.PENDING or package.payment_method is not PaymentMethod.CARD:
        raise PolicyViolation("This package is not waiting for a card payment.")
    return package


def _from_offer(uow: UnitOfWork, deps: Deps, cmd: StartPackageCheckout, now: datetime) -> SessionPackage:
    """A new pending card package from the offer, stored with its PackageSold event."""
    if cmd.offer_id is None:
        raise ValidationError("Choose a package to buy.", field="offer_id")
    offer = uow.packages.offer(cmd.org_id, cmd.offer_id)
    if not offer.active:
        raise PolicyViolation("That package is not on sale any more.")
    package = new_package(deps, offer, cmd.client_id, now)
    if package.price.amount_minor <= 0:
        return package  # refused by the caller before anything is stored
    uow.packages.add(package)
    uow.emit(
        PackageSold(
            org_id=cmd.org_id,
            occurred_at=now,
            actor=f"client:{cmd.client_id}",
            package_id=package.id,
            client_id=cmd.client_id,
            total=package.total,
            price_minor=package.price.amount_minor,
            currency=package.price.currency,
        )
    )
    return package


# ---- Stripe's word on a package's Checkout ------------------------------------------------------


def _package_of(uow: UnitOfWork, event: StripeEvent) -> tuple[OrgId, PackageId] | None:
    """The (org, package) a package Checkout event is about; None for others' events, unreadable ids,
    or an event from an account that is not the named business's own (see `from_connected_account`)."""
    if metadata_kind(event) != PACKAGE_KIND:
        return None
    meta: Any = event.object.get("metadata")
    try:
        found = OrgId(UUID(str(meta["org_id"]))), PackageId(UUID(str(meta["package_id"])))
    except (KeyError, TypeError, ValueError):
        return None
    return found if from_connected_account(uow, event, found[0]) else None


@on_stripe_event("checkout.session.completed", "checkout.session.async_payment_succeeded")
def package_checkout_paid(uow: UnitOfWork, deps: Deps, event: StripeEvent) -> None:
    """A paid package Checkout: PENDING → PAID once, with its deferred sale in the ledger."""
    if event.object.get("payment_status") != "paid":
        return  # a delayed payment method still on its way (async_payment_* follows)
    found = _package_of(uow, event)
    if found is None:
        return  # not ours
    org_id, package_id = found
    intent = event.object.get("payment_intent")
    ref = intent if isinstance(intent, str) else str(event.object.get("id", ""))[:255] or None
    paid = uow.packages.mark_paid(org_id, package_id, method=PaymentMethod.CARD, at=event.created, ref=ref)
    if paid is None:
        return  # paid already (a redelivery, or the other of completed / async_payment_succeeded)
    gross = _gross(event, paid.price)
    cut = ledger.platform_fee(gross, platform_fee_percent(uow, org_id)).amount_minor
    header = _header(deps, paid, sale_key(package_id), event.created, event.id, "Package paid by card")
    uow.ledger.record(ledger.sale(header, gross, 0, cut, deferred=True))
    uow.emit(
        PackagePaid(
            org_id=org_id,
            occurred_at=event.created,
            actor="stripe",
            package_id=package_id,
            client_id=paid.client_id,
            method=PaymentMethod.CARD.value,
            payment_ref=paid.payment_ref,
        )
    )
    if isinstance(intent, str) and event.account is not None:
        learn_stripe_fee(
            uow,
            org_id=org_id,
            at=event.created,
            sale_key=sale_key(package_id),
            payment_ref=intent,
            account_id=event.account,
        )


def _gross(event: StripeEvent, price: Money) -> Money:
    """What the client paid, as Stripe says (`amount_total`), when it is in the package's currency."""
    amount, currency = event.object.get("amount_total"), event.object.get("currency")
    readable = isinstance(amount, int) and not isinstance(amount, bool) and amount > 0
    if readable and isinstance(currency, str) and currency.upper() == price.currency:
        return Money(int(str(amount)), price.currency)
    return price


@on_stripe_event("checkout.session.async_payment_failed", "checkout.session.expired")
def package_checkout_failed(uow: UnitOfWork, deps: Deps, event: StripeEvent) -> None:
    """An unpaid or expired package Checkout: PENDING → FAILED; a package already paid stays paid."""
    del deps
    found = _package_of(uow, event)
    if found is not None:
        uow.packages.mark_failed(*found)


# ---- Expiry ---------------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class RecogniseExpiredPackages(Command[int]):
    """Recognise the deferred revenue left on expired packages (of one business, or of every business
    when `org_id` is None, one transaction each); how many packages were recognised."""

    org_id: OrgId | None = None


@handles(RecogniseExpiredPackages)
def recognise_expired_packages(cmd: RecogniseExpiredPackages, deps: Deps) -> int:
    """For each expired package with a ledger sale: what its never-used credits stood for, once
    (key ``recognise:<id>:expiry``)."""
    if cmd.org_id is not None:
        return _recognise_expired(deps, cmd.org_id)
    with deps.uow() as uow:
        org_ids = list(uow.orgs.ids())
    return sum(_recognise_expired(deps, org_id) for org_id in org_ids)


def _recognise_expired(deps: Deps, org_id: OrgId) -> int:
    now = deps.clock.now()
    done = 0
    with deps.uow() as uow:
        expired: Sequence[SessionPackage] = [
            # Paused membership credits (payment_state failed) were paid for all the same: their sale
            # is recognised on expiry too. A refunded package's sale was reversed by its refund.
            p
            for p in uow.packages.recent(org_id, limit=10_000)
            if p.is_expired(now) and p.payment_state is not PaymentState.REFUNDED
        ]
        for package in expired:
            sale_tx = uow.ledger.by_key(org_id, sale_key(package.id))
            if sale_tx is None or uow.ledger.by_key(org_id, recognise_key(package.id, "expiry")) is not None:
                continue
            priced = credits_priced(uow, package, sale_tx)
            left = priced.unearned(min(high_water(uow, org_id, package.id), package.total))
            if left.amount_minor > 0:
                at = package.expires_at or now
                header = _header(
                    deps, package, recognise_key(package.id, "expiry"), at, str(package.id), "Package expired"
                )
                done += uow.ledger.record(ledger.recognise(header, left))
        uow.commit()
    return done
