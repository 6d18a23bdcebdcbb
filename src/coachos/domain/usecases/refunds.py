"""Refunds: by the coach from Coach OS (card or by hand), and those made in Stripe's dashboard.

A card refund is asked of Stripe outside any database transaction:

1. one transaction reserves the amount against the sale (never past its gross, decided by the
   database) and stores the refund PENDING;
2. Stripe is asked, with the idempotency key ``refund:<org>:<refund id>``;
3. a second transaction marks it SUCCEEDED (one conditional UPDATE) and writes the ledger refund
   (key ``refund:<refund id>``) and the credit rule (domain/refunds.py).

A crash or Stripe being out of reach between 1 and 3 leaves the refund PENDING; the worker's
`RetryPendingRefunds` asks Stripe again with the same key (Stripe answers with the refund it made),
so there is one Stripe refund. Stripe refusing marks it FAILED and gives the reservation back.
Money handed back by hand (cash or bank sales) is recorded at once, with no Stripe call.

`charge.refunded` (a refund made in Stripe's dashboard, or ours echoed back) records what Stripe
refunded beyond what we hold (pending and succeeded refunds of the sale), once per Stripe refund id,
with the same ledger refund and credit rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import attrs

from coachos.domain import ledger
from coachos.domain.errors import NotFound, PaymentRefused, PaymentUnavailable, PolicyViolation, ValidationError
from coachos.domain.ids import Actor, BookingId, ClientId, OrgId, PackageId
from coachos.domain.money import Money
from coachos.domain.refunds import REASON_LIMIT, CreditPlan, Refund, RefundState, plan_credits
from coachos.domain.stripe_events import StripeEvent
from coachos.domain.todos import Todo
from coachos.domain.usecases._base import Command, Deps, handles
from coachos.domain.usecases.package_sales import high_water
from coachos.domain.usecases.stripe_events import from_connected_account, metadata_kind, on_stripe_event
from coachos.ports.payments import refund_key
from coachos.ports.storage import UnitOfWork

#: A pending refund older than this is asked of Stripe again by the worker (same key).
RETRY_AFTER = timedelta(minutes=2)
#: The `coachos_kind` of charges, and the sale key each names.
_SALE_KEYS = {"package": ("package_id", "sale:package:{}"), "booking": ("booking_id", "sale:booking:{}")}


#: Who "asked" for a lost dispute's reversal (the card holder's bank, through Stripe).
DISPUTE_ACTOR = "stripe:dispute"


def dispute_key(dispute_id: str) -> str:
    """The ledger key of a lost dispute's reversal."""
    return f"dispute:{dispute_id}"


def refund_ledger_key(refund_id: UUID) -> str:
    """The ledger key of a refund."""
    return f"refund:{refund_id}"


def _sale(uow: UnitOfWork, org_id: OrgId, sale_key: str) -> ledger.LedgerTransaction:
    sale_tx = uow.ledger.by_key(org_id, sale_key)
    if sale_tx is None or sale_tx.source_kind is not ledger.SourceKind.SALE or not sale_key.startswith("sale:"):
        raise NotFound("No such sale in this business.")
    return sale_tx


def by_hand(sale_tx: ledger.LedgerTransaction) -> bool:
    """Whether the sale's money was taken by hand (cash or bank), so it is handed back by hand too."""
    return any(e.account is ledger.Account.CASH for e in sale_tx.entries)


def _id_in(sale_key: str, prefix: str) -> UUID | None:
    if not sale_key.startswith(prefix):
        return None
    try:
        return UUID(sale_key[len(prefix) :].split(":")[0])
    except ValueError:
        return None


def package_of(sale_key: str) -> PackageId | None:
    """The package a package sale's key names."""
    found = _id_in(sale_key, "sale:package:")
    return None if found is None else PackageId(found)


def payment_intent(uow: UnitOfWork, org_id: OrgId, sale_key: str, sale_tx: ledger.LedgerTransaction) -> str | None:
    """The Stripe PaymentIntent that paid the sale, if we know it."""
    ref: str | None = None
    package_id, booking_id = package_of(sale_key), _id_in(sale_key, "sale:booking:")
    if package_id is not None:
        ref = uow.packages.get(org_id, package_id).payment_ref
    elif booking_id is not None:
        ref = uow.bookings.get(org_id, BookingId(booking_id)).payment_ref
    if not (ref or "").startswith("pi_") and sale_tx.source_id.startswith("pi_"):
        ref = sale_tx.source_id
    return ref if ref and ref.startswith("pi_") else None


@attrs.frozen
class Refundable:
    """What can still be refunded on a sale, and how (by card through Stripe, or by hand)."""

    sale_key: str
    gross: Money
    left: Money
    by_hand: bool


def refundable(uow: UnitOfWork, org_id: OrgId, sale_key: str) -> Refundable:
    """The sale's refundable amount (NotFound for what is not a sale of this business)."""
    sale_tx = _sale(uow, org_id, sale_key)
    gross = ledger.gross_of(sale_tx)
    totals = uow.refunds.totals(org_id, sale_key)
    left = gross.amount_minor - (totals.reserved if totals else 0)
    return Refundable(sale_key, gross, Money(left, gross.currency), by_hand(sale_tx))


def _reason(value: object) -> str:
    if not isinstance(value, str) or len(value) > REASON_LIMIT or "\x00" in value:
        raise ValidationError(f"A reason is text of at most {REASON_LIMIT} characters.", field="reason")
    return value.strip()


def _positive_or_none(value: Money | None) -> None:
    if value is not None and (not isinstance(value, Money) or value.amount_minor <= 0):
        raise ValidationError("A refund is of more than zero.", field="amount")


@attrs.frozen(kw_only=True)
class RefundPayment(Command[Refund]):
    """The coach gives back `amount` of a sale (all that is left when None), for `reason`."""

    org_id: OrgId
    sale_key: str
    amount: Money | None = attrs.field(validator=lambda _, __, v: _positive_or_none(v))
    reason: str = attrs.field(default="", converter=_reason)
    actor: Actor


@handles(RefundPayment)
def refund_payment(cmd: RefundPayment, deps: Deps) -> Refund:
    """Reserve and store the refund; by hand it is done at once, by card Stripe is asked after commit."""
    now = deps.clock.now()
    with deps.uow() as uow:
        sale_tx = _sale(uow, cmd.org_id, cmd.sale_key)
        can = refundable(uow, cmd.org_id, cmd.sale_key)
        amount = cmd.amount if cmd.amount is not None else can.left
        if amount.currency != can.gross.currency:
            raise ValidationError(f"This sale was in {can.gross.currency}.", field="amount")
        if amount.amount_minor <= 0:
            raise PolicyViolation("Nothing is left to refund on this sale.")
        intent = None if can.by_hand else payment_intent(uow, cmd.org_id, cmd.sale_key, sale_tx)
        if not can.by_hand and (intent is None or deps.payments is None):
            raise PolicyViolation("This payment cannot be refunded from Coach OS; refund it in Stripe's dashboard.")
        if not uow.refunds.reserve(cmd.org_id, cmd.sale_key, can.gross.amount_minor, amount.amount_minor):
            left = refundable(uow, cmd.org_id, cmd.sale_key).left
            raise PolicyViolation(f"At most {left} can still be refunded on this sale.")
        refund = Refund(
            id=deps.ids.new_id(),
            org_id=cmd.org_id,
            sale_key=cmd.sale_key,
            amount=amount,
            reason=cmd.reason,
            state=RefundState.PENDING,
            created_by=str(cmd.actor),
            created_at=now,
            updated_at=now,
        )
        uow.refunds.add(refund)
        if can.by_hand:
            refund = succeed(uow, deps, refund, sale_tx, now, None) or refund
        uow.commit()
    if can.by_hand or intent is None:
        return refund
    return send_refund(deps, refund, intent)


def send_refund(deps: Deps, refund: Refund, intent: str) -> Refund:
    """Ask Stripe (outside any transaction, our refund id in the key), then settle the refund."""
    if deps.payments is None:
        raise PolicyViolation("Card payments are not set up here.")
    with deps.uow() as uow:
        # Clients pay by direct charges on the coach's account, so the refund is made there too.
        account = uow.stripe.account(refund.org_id)
    try:
        result = deps.payments.refund(
            idempotency_key=refund_key(refund.org_id, refund.id),
            payment_intent_id=intent,
            amount=refund.amount,
            account_id=None if account is None else account.account_id,
        )
    except PaymentRefused as exc:
        with deps.uow() as uow:
            failed = uow.refunds.settle(
                refund.org_id, refund.id, state=RefundState.FAILED, at=deps.clock.now(), failure=str(exc)[:500]
            )
            if failed is not None:
                uow.refunds.release(refund.org_id, refund.sale_key, refund.amount.amount_minor)
            uow.commit()
        raise
    with deps.uow() as uow:
        sale_tx = _sale(uow, refund.org_id, refund.sale_key)
        done = succeed(uow, deps, refund, sale_tx, deps.clock.now(), result.refund_id)
        uow.commit()
    return done or uow_get(deps, refund)


def uow_get(deps: Deps, refund: Refund) -> Refund:
    """The refund as stored now."""
    with deps.uow() as uow:
        return uow.refunds.get(refund.org_id, refund.id)


def succeed(
    uow: UnitOfWork,
    deps: Deps,
    refund: Refund,
    sale_tx: ledger.LedgerTransaction,
    at: datetime,
    stripe_refund_id: str | None,
) -> Refund | None:
    """PENDING → SUCCEEDED once, with its ledger refund and the credit rule; None if settled before."""
    done = uow.refunds.settle(
        refund.org_id, refund.id, state=RefundState.SUCCEEDED, at=at, stripe_refund_id=stripe_refund_id
    )
    if done is None:
        return None
    if done.created_by == DISPUTE_ACTOR and done.stripe_refund_id:
        _book(uow, deps, done, sale_tx, at, key=dispute_key(done.stripe_refund_id), kind=ledger.SourceKind.DISPUTE)
    else:
        _book(uow, deps, done, sale_tx, at, key=refund_ledger_key(done.id), kind=ledger.SourceKind.REFUND)
    return done


def _book(
    uow: UnitOfWork,
    deps: Deps,
    refund: Refund,
    sale_tx: ledger.LedgerTransaction,
    at: datetime,
    *,
    key: str,
    kind: ledger.SourceKind,
) -> None:
    """The ledger refund (or lost dispute) and the credit rule, under the sale's row lock."""
    org_id, sale, amount = refund.org_id, refund.sale_key, refund.amount.amount_minor
    gross = ledger.gross_of(sale_tx)
    totals = uow.refunds.lock(org_id, sale, gross.amount_minor)
    plan, from_deferred = CreditPlan(0, False, 0), None
    package_id = package_of(sale)
    if package_id is not None:
        package = uow.packages.get(org_id, package_id)
        plan = plan_credits(package, gross, totals, amount, high_water(uow, org_id, package_id))
        if plan.refunded:
            uow.refunds.mark_package_refunded(org_id, package_id)
        elif plan.remove and not uow.refunds.remove_credits(org_id, package_id, plan.remove):
            plan = CreditPlan(0, False, 0)  # a credit was used meanwhile: the money comes out of revenue
        from_deferred = plan.from_deferred
    header = ledger.Header(
        id=deps.ids.new_id(),
        org_id=org_id,
        key=key,
        occurred_at=at,
        source_id=refund.stripe_refund_id or str(refund.id),
        memo="Refund" + (f": {refund.reason}" if refund.reason else ""),
        client_id=sale_tx.client_id,
        item=sale_tx.item,
    )
    uow.ledger.record(
        ledger.refund(header, sale_tx, amount, refunded_before=totals.booked, kind=kind, from_deferred=from_deferred)
    )
    uow.refunds.book(org_id, sale, amount, plan.from_deferred if plan.remove else 0)


# ---- Pending refunds a crash left behind -----------------------------------------------------------


@attrs.frozen(kw_only=True)
class RetryPendingRefunds(Command[int]):
    """Ask Stripe again (same key) for card refunds left pending; how many were settled."""

    org_id: OrgId | None = None


@handles(RetryPendingRefunds)
def retry_pending_refunds(cmd: RetryPendingRefunds, deps: Deps) -> int:
    """Each pending refund older than RETRY_AFTER, one at a time; Stripe out of reach leaves it for next time."""
    if deps.payments is None:
        return 0
    before = deps.clock.now() - RETRY_AFTER
    with deps.uow() as uow:
        org_ids = [cmd.org_id] if cmd.org_id is not None else list(uow.orgs.ids())
        work: list[tuple[Refund, str]] = []
        for org_id in org_ids:
            for refund in uow.refunds.pending(org_id, before=before):
                sale_tx = _sale(uow, org_id, refund.sale_key)
                intent = payment_intent(uow, org_id, refund.sale_key, sale_tx)
                if intent is not None:
                    work.append((refund, intent))
    done = 0
    for refund, intent in work:
        try:
            send_refund(deps, refund, intent)
            done += 1
        except PaymentRefused:
            done += 1
        except PaymentUnavailable:
            pass  # Stripe busy or out of reach: the refund stays pending for the next run
    return done


# ---- Refunds made in Stripe ------------------------------------------------------------------------


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _sale_of_charge(event: StripeEvent) -> tuple[OrgId, str] | None:
    """(org, sale key) of a charge we made, from its metadata."""
    kind = metadata_kind(event)
    meta: Any = event.object.get("metadata")
    try:
        org_id = OrgId(UUID(str(meta["org_id"])))
        if kind in _SALE_KEYS:
            field, pattern = _SALE_KEYS[kind]
            return org_id, pattern.format(UUID(str(meta[field])))
        if kind == "booking_fee":
            return org_id, f"sale:fee:{UUID(str(meta['booking_id']))}:{meta['fee']}"
    except (KeyError, TypeError, ValueError):
        return None
    return None


def _charged_sale(uow: UnitOfWork, event: StripeEvent) -> ledger.LedgerTransaction | None:
    """The sale a charge paid: named by the charge's metadata, or else (a charge on a connected account,
    e.g. a direct charge) found by its PaymentIntent among the account's business's sales."""
    found = _sale_of_charge(event)
    if found is not None:
        # Metadata on a connected account's charge is the coach's to write: it must be this business's account.
        if not from_connected_account(uow, event, found[0]):
            return None
        sale_tx = uow.ledger.by_key(*found)
        return sale_tx if sale_tx is not None and sale_tx.source_kind is ledger.SourceKind.SALE else None
    intent = event.object.get("payment_intent")
    return _sale_paid_by(uow, event.account, intent) if isinstance(intent, str) else None


def _sale_paid_by(uow: UnitOfWork, account: str | None, intent: str) -> ledger.LedgerTransaction | None:
    """The sale of the business that connected `account` which the PaymentIntent `intent` paid."""
    org_id = None if account is None else uow.stripe.account_owner(account)
    if org_id is None:
        return None
    for key in uow.refunds.sales_for_payment(org_id, intent):
        sale_tx = uow.ledger.by_key(org_id, key)
        if sale_tx is not None and sale_tx.source_kind is ledger.SourceKind.SALE:
            return sale_tx
    return None


def _listed_refunds(charge: Mapping[str, Any]) -> list[tuple[str, int]]:
    """The charge's refunds Stripe listed (id, amount), oldest first, skipping failed or cancelled ones."""
    box = charge.get("refunds")
    data = box.get("data") if isinstance(box, dict) else None
    listed: list[tuple[int, str, int]] = []
    for item in data if isinstance(data, list) else []:
        if not isinstance(item, dict) or item.get("status") in ("failed", "canceled"):
            continue
        rid, amount = item.get("id"), _int(item.get("amount"))
        if isinstance(rid, str) and amount is not None and amount > 0:
            listed.append((_int(item.get("created")) or 0, rid, amount))
    return [(rid, amount) for _, rid, amount in sorted(listed)]


@on_stripe_event("charge.refunded")
def charge_refunded(uow: UnitOfWork, deps: Deps, event: StripeEvent) -> None:
    """Record what Stripe refunded on one of our charges beyond what we hold, once per Stripe refund."""
    target = _int(event.object.get("amount_refunded"))
    if target is None or target <= 0:
        return
    sale_tx = _charged_sale(uow, event)
    if sale_tx is None:
        return  # not ours, or the sale is not recorded (yet): nothing to give back on
    org_id, sale_key = sale_tx.org_id, sale_tx.key
    gross = ledger.gross_of(sale_tx)
    target = min(target, gross.amount_minor)
    reserved = uow.refunds.lock(org_id, sale_key, gross.amount_minor).reserved
    ours_in_flight = any(r.state is RefundState.PENDING for r in uow.refunds.for_sale(org_id, sale_key))
    # While one of ours is on its way its Stripe id is not stored yet; the listed ids could be it.
    for rid, amount in [] if ours_in_flight else _listed_refunds(event.object):
        if uow.refunds.by_stripe_id(org_id, rid) is None and reserved + amount <= target:
            _record_stripe_refund(uow, deps, event, sale_tx, amount, rid)
            reserved += amount
    if target > reserved:
        _record_stripe_refund(uow, deps, event, sale_tx, target - reserved, None)


def _record_stripe_refund(
    uow: UnitOfWork,
    deps: Deps,
    event: StripeEvent,
    sale_tx: ledger.LedgerTransaction,
    amount: int,
    stripe_refund_id: str | None,
) -> None:
    gross = ledger.gross_of(sale_tx)
    if not uow.refunds.reserve(sale_tx.org_id, sale_tx.key, gross.amount_minor, amount):
        return
    refund = Refund(
        id=deps.ids.new_id(),
        org_id=sale_tx.org_id,
        sale_key=sale_tx.key,
        amount=Money(amount, gross.currency),
        reason="Refunded in Stripe",
        state=RefundState.PENDING,
        stripe_refund_id=stripe_refund_id,
        created_by="stripe",
        created_at=event.created,
        updated_at=event.created,
    )
    uow.refunds.add(refund)
    succeed(uow, deps, refund, sale_tx, event.created, stripe_refund_id)


# ---- Disputes ------------------------------------------------------------------------------------


def _dispute_sale(uow: UnitOfWork, event: StripeEvent) -> tuple[ledger.LedgerTransaction, str] | None:
    """The sale a dispute is about, and the dispute's id: the business from the event's connected
    account (direct charges), the sale from the disputed PaymentIntent."""
    dispute_id, intent = event.object.get("id"), event.object.get("payment_intent")
    if not isinstance(dispute_id, str) or not isinstance(intent, str):
        return None
    sale_tx = _sale_paid_by(uow, event.account, intent)
    return None if sale_tx is None else (sale_tx, dispute_id)


@on_stripe_event("charge.dispute.created")
def dispute_created(uow: UnitOfWork, deps: Deps, event: StripeEvent) -> None:
    """Tell the coach (a to-do on Today, once per dispute): the client's bank is disputing a payment."""
    found = _dispute_sale(uow, event)
    if found is None:
        return
    sale_tx, dispute_id = found
    amount = _int(event.object.get("amount")) or 0
    what = str(Money(amount, ledger.gross_of(sale_tx).currency)) if amount > 0 else "a payment"
    title = f"Payment disputed ({what}, {sale_tx.item or 'sale'}): respond in Stripe's dashboard"
    uow.todos.add(
        Todo(
            id=deps.ids.new_id(),
            org_id=sale_tx.org_id,
            title=title[:200],
            created_at=event.created,
            client_id=None if sale_tx.client_id is None else ClientId(sale_tx.client_id),
            key=f"dispute:{dispute_id}"[:200],
        )
    )


@on_stripe_event("charge.dispute.closed")
def dispute_closed(uow: UnitOfWork, deps: Deps, event: StripeEvent) -> None:
    """A dispute lost: the money went back to the card holder, reversed in the ledger (key
    ``dispute:<id>``) with the credit rule, once; a dispute won changes nothing more."""
    if event.object.get("status") != "lost":
        return
    found = _dispute_sale(uow, event)
    if found is None:
        return
    sale_tx, dispute_id = found
    if uow.refunds.by_stripe_id(sale_tx.org_id, dispute_id) is not None:
        return
    gross = ledger.gross_of(sale_tx)
    left = uow.refunds.lock(sale_tx.org_id, sale_tx.key, gross.amount_minor).refundable
    amount = min(_int(event.object.get("amount")) or gross.amount_minor, left)
    if amount <= 0 or not uow.refunds.reserve(sale_tx.org_id, sale_tx.key, gross.amount_minor, amount):
        return  # refunded already in full: nothing more left the business
    refund = Refund(
        id=deps.ids.new_id(),
        org_id=sale_tx.org_id,
        sale_key=sale_tx.key,
        amount=Money(amount, gross.currency),
        reason="Dispute lost",
        state=RefundState.PENDING,
        stripe_refund_id=dispute_id,
        created_by=DISPUTE_ACTOR,
        created_at=event.created,
        updated_at=event.created,
    )
    uow.refunds.add(refund)
    succeed(uow, deps, refund, sale_tx, event.created, dispute_id)
