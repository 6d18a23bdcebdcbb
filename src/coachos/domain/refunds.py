"""Refunds of sales (packages, bookings, fees) and the credit rule a refund applies to a package.

A refund names the sale it gives money back on by the sale's ledger key (``sale:package:<id>``,
``sale:booking:<id>``, ``sale:fee:<booking id>:<kind>``). Refunds of one sale never add up to more
than the sale: the storage reserves each refund's amount against the sale's gross in one conditional
statement before any money moves.

The credit rule (one place; the pages and the README state it):

- A FULL refund (the sale's refunds reach its gross) makes the package REFUNDED: its unused credits
  can no longer be used. Credits already used stay used. A session booked for later keeps the credit
  it took (the booking is not cancelled by a refund; the coach cancels it separately if they wish,
  and a credit returned then lands on a refunded package, where it cannot be used).
- A PARTIAL refund removes ``floor(amount / unit price)`` unused credits (never the credits ever in
  use: at most ``total - high-water``, and at least one credit is always left), by lowering the
  package's total with a conditional UPDATE (``total - n >= used``).
- Money: deferred revenue gives back exactly what the removed credits stood for, revenue the rest,
  so deferred revenue stays equal to what the remaining unused credits stand for (unused credits times the unit price
  once a partial refund has been made: the remaining credits are priced at the unit price).
- Membership period packages follow the same rule. Booking and fee sales are revenue: a refund
  takes it back and changes no booking.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

import attrs

from coachos.domain.catalog import SessionPackage
from coachos.domain.errors import ValidationError
from coachos.domain.ids import OrgId
from coachos.domain.money import Money

#: Longest reason a coach may give.
REASON_LIMIT = 500


class RefundState(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


def _reason(_: object, __: attrs.Attribute[str], value: object) -> None:
    if not isinstance(value, str) or len(value) > REASON_LIMIT or "\x00" in value:
        raise ValidationError(f"A reason is text of at most {REASON_LIMIT} characters.", field="reason")


def _positive(_: object, __: attrs.Attribute[Money], value: Money) -> None:
    if value.amount_minor <= 0:
        raise ValidationError("A refund is of more than zero.", field="amount")


@attrs.frozen(kw_only=True)
class Refund:
    """Money given back on the sale with ledger key `sale_key`."""

    id: UUID
    org_id: OrgId
    sale_key: str
    amount: Money = attrs.field(validator=_positive)
    reason: str = attrs.field(default="", validator=_reason)
    state: RefundState = attrs.field(converter=RefundState)
    #: Stripe's refund id (None for money handed back by hand, or a refund Stripe's event did not list).
    stripe_refund_id: str | None = None
    #: Who asked: "coach:<id>", or "stripe" for a refund made in Stripe's dashboard.
    created_by: str
    created_at: datetime
    updated_at: datetime
    #: Why Stripe refused it (failed refunds only), as a coach can read it.
    failure: str | None = None


@attrs.frozen
class RefundTotals:
    """A sale's running sums: reserved (pending + succeeded), in the ledger, and removed credits' value."""

    gross: int
    reserved: int
    booked: int
    credits_value: int

    @property
    def refundable(self) -> int:
        """What may still be refunded."""
        return self.gross - self.reserved


@attrs.frozen
class CreditPlan:
    """What a refund does to a package: credits removed, whether it is now REFUNDED, and what of the
    amount comes out of deferred revenue (the rest comes out of revenue)."""

    remove: int
    refunded: bool
    from_deferred: int


def credit_price(package: SessionPackage, gross: Money, credits_value: int) -> SessionPackage:
    """The package priced as its remaining credits stand: the sale less what removed credits stood for."""
    return attrs.evolve(package, price=Money(gross.amount_minor - credits_value, gross.currency))


def plan_credits(
    package: SessionPackage, gross: Money, totals: RefundTotals, amount: int, high_water: int
) -> CreditPlan:
    """The credit rule for refunding `amount` of the package's sale whose totals (before it) are `totals`.

    `high_water` is the most credits ever in use at once (recognised revenue follows it).
    """
    priced = credit_price(package, gross, totals.credits_value)
    total = package.total
    top = max(0, min(max(high_water, package.used), total))
    deferred_now = priced.unearned(top).amount_minor if total > 0 else 0
    if totals.booked + amount >= gross.amount_minor:
        return CreditPlan(remove=0, refunded=True, from_deferred=deferred_now)
    unit = priced.price.amount_minor // total if total > 0 else 0
    n = min(amount // unit if unit > 0 else 0, total - max(top, 1))
    if n <= 0:
        return CreditPlan(remove=0, refunded=False, from_deferred=0)
    removed_value = priced.price.amount_minor - (total - n) * unit
    return CreditPlan(remove=n, refunded=False, from_deferred=min(removed_value, deferred_now))
