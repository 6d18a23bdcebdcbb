"""Accounting: reports over the ledger, payments still owed, and Stripe payouts into the books.

Payouts (Connect `payout.paid` / `payout.failed`, naming the connected account) move money from the
Stripe balance to the bank account of the books. Both handlers are idempotent by the ledger's unique
keys and tolerate either order: `payout.failed` records the payout (if `payout.paid` has not) and its
reversal, so paid-then-failed and failed-then-paid both leave the payout's net at zero, and a paid
event arriving after the failure finds its key taken.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import attrs

from coachos.domain import ledger
from coachos.domain.accounting import (
    OUTSTANDING_PER_SOURCE,
    Outstanding,
    OutstandingPayment,
    PaymentSource,
    Report,
    build_report,
    month_boundaries,
    months_between,
    oldest_first,
)
from coachos.domain.bookings import Booking, FeeState
from coachos.domain.catalog import SessionPackage
from coachos.domain.ids import OrgId
from coachos.domain.ledger import Header
from coachos.domain.memberships import Membership, MembershipPlan, MembershipStatus
from coachos.domain.money import Money
from coachos.domain.rows import Rows, corrupt_record, unreadable_in
from coachos.domain.stripe_events import StripeEvent
from coachos.domain.usecases._base import Command, Deps, handles
from coachos.domain.usecases.booking_fees import FEE_NAMES
from coachos.domain.usecases.stripe_events import on_stripe_event
from coachos.ports.storage import UnitOfWork


@attrs.frozen(kw_only=True)
class AccountingReport(Command[Report]):
    """The business's report for the local months from `first`'s to `last`'s, in the business's currency."""

    org_id: OrgId
    first: date
    last: date


@handles(AccountingReport)
def accounting_report(cmd: AccountingReport, deps: Deps) -> Report:
    """Sum the ledger by local month in the database and build the report from the sums."""
    months = months_between(cmd.first, cmd.last)
    with deps.uow() as uow:
        org = uow.orgs.get(cmd.org_id)
        sums = uow.ledger.summary(cmd.org_id, month_boundaries(months, org.tz))
    return build_report(sums, months, org.currency)


@attrs.frozen(kw_only=True)
class OutstandingPayments(Command[Outstanding]):
    """Payments still owed or failed (packages, memberships past due or paused, policy fees), oldest first.

    Each source gives at most its `limit` oldest rows; a source with more is named in `capped`.
    """

    org_id: OrgId
    limit: int = OUTSTANDING_PER_SOURCE


@handles(OutstandingPayments)
def outstanding_payments(cmd: OutstandingPayments, deps: Deps) -> Outstanding:
    """Every source of payments owed, as typed rows, the longest owed first."""
    ask = cmd.limit + 1  # one more than shown tells whether a source was cut short
    with deps.uow() as uow:
        packages = uow.packages.unsettled(cmd.org_id, limit=ask)
        members = uow.memberships.owing(cmd.org_id, limit=ask)
        plans = uow.memberships.plans(cmd.org_id) if members else Rows[MembershipPlan]()
        fees = uow.bookings.unpaid_fees(cmd.org_id, limit=ask)
    by_id = {plan.id: plan for plan in plans}
    found: dict[PaymentSource, list[OutstandingPayment | None]] = {
        PaymentSource.PACKAGE: [_package_row(p) for p in packages],
        PaymentSource.MEMBERSHIP: [_membership_row(m, by_id.get(m.plan_id)) for m in members],
        PaymentSource.FEE: [_fee_row(b) for b in fees],
    }
    capped = [source for source, rows in found.items() if len(rows) > cmd.limit]
    # A membership whose plan could not be read has no price to show: it is left out and named.
    lost = [
        corrupt_record("memberships", m.id, "plan unreadable") for m in members[: cmd.limit] if m.plan_id not in by_id
    ]
    rows = oldest_first(*([r for r in rows[: cmd.limit] if r is not None] for rows in found.values()))
    return Outstanding(rows, unreadable_in(packages, members, plans, fees, lost), capped, cmd.limit)


def _package_row(p: SessionPackage) -> OutstandingPayment:
    return OutstandingPayment(
        source=PaymentSource.PACKAGE,
        source_id=p.id,
        client_id=p.client_id,
        item=p.name,
        amount=p.price,
        state=p.payment_state.value,
        since=p.purchased_at,
    )


def _membership_row(m: Membership, plan: MembershipPlan | None) -> OutstandingPayment | None:
    """The membership's row (its plan's price per period), or None when its plan could not be read."""
    if plan is None:
        return None
    past_due = m.status is MembershipStatus.PAST_DUE
    return OutstandingPayment(
        source=PaymentSource.MEMBERSHIP,
        source_id=m.id,
        client_id=m.client_id,
        item=f"{plan.name} · per {plan.interval}",
        amount=plan.price,
        state=m.status.value,
        since=m.status_at or m.created_at,
        until=m.grace_until if past_due else None,
    )


def _fee_row(b: Booking) -> OutstandingPayment | None:
    fee = b.fee
    if fee is None:
        return None
    return OutstandingPayment(
        source=PaymentSource.FEE,
        source_id=b.id,
        client_id=b.client_id,
        item=FEE_NAMES[fee.kind],
        amount=fee.amount,
        state=fee.state.value,
        since=fee.at,
        note=fee.error if fee.state is FeeState.FAILED else None,
    )


def _payout(event: StripeEvent) -> tuple[str, Money] | None:
    """The payout's id and amount, or None when the event is not a connected account's payout we can read."""
    obj: Any = event.object
    po, amount, currency = obj.get("id"), obj.get("amount"), obj.get("currency")
    if obj.get("object") != "payout" or not isinstance(po, str) or not isinstance(currency, str):
        return None
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        return None
    return po, Money(amount, currency.upper())


def _record_payout(uow: UnitOfWork, deps: Deps, event: StripeEvent, *, failed: bool) -> None:
    found = _payout(event)
    owner = uow.stripe.account_owner(event.account) if event.account else None
    if found is None or owner is None:
        return  # the platform's own payouts, or an account no business has connected: kept, not booked
    po, amount = found

    def header(key: str, memo: str) -> Header:
        return Header(id=deps.ids.new_id(), org_id=owner, key=key, occurred_at=event.created, source_id=po, memo=memo)

    uow.ledger.record(ledger.payout(header(f"payout:{po}", "Stripe payout to the bank"), amount))
    if failed:
        uow.ledger.record(ledger.payout(header(f"payout-failed:{po}", "Stripe payout failed: back at Stripe"), -amount))


@on_stripe_event("payout.paid")
def payout_paid(uow: UnitOfWork, deps: Deps, event: StripeEvent) -> None:
    """Book a connected account's payout: Stripe balance → bank, once (`payout:<id>`)."""
    _record_payout(uow, deps, event, failed=False)


@on_stripe_event("payout.failed")
def payout_failed(uow: UnitOfWork, deps: Deps, event: StripeEvent) -> None:
    """A payout that failed comes back to the Stripe balance (`payout-failed:<id>`), whatever arrived first."""
    _record_payout(uow, deps, event, failed=True)
