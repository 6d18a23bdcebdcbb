"""The platform's side of billing: plans a coach subscribes to, their subscription, invoices paid to us.

A plan has a monthly price (what the coach pays Coach OS) and the platform fee on each client sale,
stored in basis points (an integer: 500 = 5 %, 250 = 2.5 %) so no float ever carries it; fees are
then computed with `ledger.platform_fee`, rounding half up. A business with no live subscription is
on the default plan (`DEFAULT_PLAN`).

A subscription's state is what the newest Stripe event about it said: an event is applied only when
its `created` is newer than the one applied (`status_at`), and a cancelled ("canceled") subscription
stays cancelled whatever arrives late.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal

import attrs

from coachos.domain.errors import ValidationError
from coachos.domain.ids import OrgId
from coachos.domain.money import Money

#: The plan of a business that has never subscribed, or whose subscription ended.
DEFAULT_PLAN = "starter"
#: Stripe subscription statuses in which the plan applies (its fee and its place in MRR).
LIVE_STATUSES = frozenset({"active", "trialing", "past_due"})
#: The status after which nothing changes a subscription again.
CANCELED = "canceled"
#: Every status Stripe gives a subscription.
STATUSES = frozenset(
    {"incomplete", "incomplete_expired", "trialing", "active", "past_due", "canceled", "unpaid", "paused"}
)


@attrs.frozen(kw_only=True)
class PlatformPlan:
    """A plan coaches subscribe to: its monthly price and the fee on each client sale, in basis points."""

    key: str
    name: str
    monthly_price: Money
    fee_bps: int

    @property
    def fee_percent(self) -> Decimal:
        """The fee as a percentage (500 bps → Decimal('5'), 250 → Decimal('2.5'))."""
        return (Decimal(self.fee_bps) / 100).normalize()

    @property
    def free(self) -> bool:
        """Whether the plan costs nothing a month (no Checkout needed)."""
        return self.monthly_price.amount_minor == 0


#: The plans migration 0026 seeds; the database's rows are what count, these are the defaults.
SEED_PLANS = (
    PlatformPlan(key="starter", name="Starter", monthly_price=Money(0, "USD"), fee_bps=500),
    PlatformPlan(key="pro", name="Pro", monthly_price=Money(4900, "USD"), fee_bps=200),
)


@attrs.frozen(kw_only=True)
class OrgSubscription:
    """A business's subscription to a plan, as the newest Stripe event about it said."""

    org_id: OrgId
    plan_key: str
    subscription_id: str
    status: str
    current_period_end: datetime | None
    #: The `created` of the newest event applied; an older one delivered late changes nothing.
    status_at: datetime

    @property
    def live(self) -> bool:
        """Whether the plan applies now (active, trialing or past due)."""
        return self.status in LIVE_STATUSES


def check_status(value: object) -> str:
    """`value` if it is one of Stripe's subscription statuses, else a ValidationError."""
    if not isinstance(value, str) or value not in STATUSES:
        raise ValidationError("'status' must be a Stripe subscription status such as active.", field="status")
    return value


@attrs.frozen(kw_only=True)
class PlatformInvoice:
    """What a business paid the platform for one invoice of its subscription (kept once per invoice)."""

    invoice_id: str
    org_id: OrgId
    subscription_id: str | None
    amount: Money
    paid_at: datetime


@attrs.frozen(kw_only=True)
class PlanCount:
    """How many businesses are on a plan (those on no subscription count under the default plan)."""

    plan_key: str
    plan_name: str
    orgs: int


@attrs.frozen(kw_only=True)
class FeeIncome:
    """The platform fees taken in one calendar month (UTC) in one currency, across every business."""

    month: str
    amount: Money


@attrs.frozen(kw_only=True)
class RevenueReport:
    """The operator's view: subscription MRR by currency, businesses per plan, fee income by month."""

    mrr: tuple[Money, ...]
    plans: tuple[PlanCount, ...]
    fees: tuple[FeeIncome, ...]


def revenue_report(
    plans: Mapping[str, PlatformPlan],
    subs: Sequence[tuple[str, str, int]],
    orgs: int,
    fees: Sequence[tuple[str, str, int]],
) -> RevenueReport:
    """The report from (plan, status, count) of subscriptions, the number of businesses and (month, currency, fees)."""
    mrr: dict[str, int] = {}
    per_plan: dict[str, int] = dict.fromkeys(plans, 0)
    on_plans = 0
    for key, status, n in subs:
        if status not in LIVE_STATUSES:
            continue
        per_plan[key] = per_plan.get(key, 0) + n
        on_plans += n
        plan = plans.get(key)
        if status == "active" and plan is not None:
            cur = plan.monthly_price.currency
            mrr[cur] = mrr.get(cur, 0) + plan.monthly_price.amount_minor * n
    per_plan[DEFAULT_PLAN] = per_plan.get(DEFAULT_PLAN, 0) + max(orgs - on_plans, 0)
    return RevenueReport(
        mrr=tuple(Money(a, c) for c, a in sorted(mrr.items())),
        plans=tuple(
            PlanCount(plan_key=k, plan_name=plans[k].name if k in plans else k, orgs=n) for k, n in per_plan.items()
        ),
        fees=tuple(FeeIncome(month=m, amount=Money(a, c)) for m, c, a in fees if a),
    )


def replaces(stored: OrgSubscription | None, new: OrgSubscription) -> bool:
    """Whether `new` should replace the stored subscription (the rule the SQL upsert holds too).

    The same subscription: only a newer event (or its cancellation, however old), and never once
    cancelled. Another subscription (the coach subscribed again or changed plan): only when it is live
    and the stored one is not, or is older.
    """
    if stored is None:
        return True
    if stored.subscription_id == new.subscription_id:
        # Cancelling is final and wins whenever it arrives: Stripe never revives a cancelled subscription.
        return stored.status != CANCELED and (stored.status_at < new.status_at or new.status == CANCELED)
    return new.live and (not stored.live or stored.status_at < new.status_at)
