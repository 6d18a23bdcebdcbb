"""Memberships: a recurring card payment (a Stripe subscription) that grants session credits each period.

A coach defines plans (a price per week or month and N sessions per period, or "unlimited" up to a
cap). A client who joins gets a `Membership` whose status follows Stripe's subscription; each paid
invoice grants one PAID package for its period ("<plan> · <period>"), expiring at the period's end,
with N sessions (or the cap). A failed renewal makes it PAST_DUE with a grace period; once the grace
runs out the worker PAUSES it, which stops its packages' credits (their payment state becomes
'failed', so the conditional credit UPDATE refuses them); a later paid invoice makes it ACTIVE again.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Any, Literal
from uuid import NAMESPACE_URL, UUID, uuid5

import attrs

from coachos.domain.contact import check_name
from coachos.domain.errors import ValidationError
from coachos.domain.ids import ClientId, OrgId
from coachos.domain.money import Money

#: How often a plan bills.
PlanInterval = Literal["week", "month"]
INTERVALS: tuple[PlanInterval, ...] = ("week", "month")

#: How long a member keeps their credits after a renewal payment fails before the membership pauses.
GRACE_PERIOD = timedelta(days=3)

#: The `coachos_kind` in the metadata of every Stripe object a membership creates.
KIND = "membership"


class MembershipStatus(StrEnum):
    """Where a membership stands; CANCELLED is final."""

    #: The client started Checkout; Stripe has not told us of a subscription yet.
    PENDING = "pending"
    ACTIVE = "active"
    #: A renewal payment failed; Stripe retries it; credits still usable until `grace_until`.
    PAST_DUE = "past_due"
    #: Grace ran out (or Stripe paused it): the membership's credits cannot be used.
    PAUSED = "paused"
    CANCELLED = "cancelled"


def _sessions(_: object, __: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1000:
        raise ValidationError("A plan grants from 1 to 1000 sessions per period.", field="sessions")


def _price(_: object, __: attrs.Attribute[Money], value: Money) -> None:
    if not isinstance(value, Money) or value.amount_minor <= 0:
        raise ValidationError("A membership costs more than zero per period.", field="price")


#: A plan's name is at most this long, so "<plan> · week of 28 Feb 2026" fits a package's 200.
MAX_PLAN_NAME = 120


def _plan_name(value: object) -> str:
    name = check_name(value)  # type: ignore[arg-type]  # check_name refuses what is not text
    if len(name) > MAX_PLAN_NAME:
        raise ValidationError(f"A plan's name is at most {MAX_PLAN_NAME} characters.", field="name")
    return name


def _interval(_: object, __: attrs.Attribute[str], value: str) -> None:
    if value not in INTERVALS:
        raise ValidationError("A membership renews every week or every month.", field="interval")


@attrs.frozen
class MembershipPlan:
    """What a coach offers: `price` every `interval` for `sessions` sessions (the cap when `unlimited`)."""

    id: UUID
    org_id: OrgId
    name: str = attrs.field(converter=_plan_name)
    price: Money = attrs.field(validator=_price)
    interval: str = attrs.field(validator=_interval)
    #: Sessions granted each period; for an unlimited plan, the most a member may book in one period.
    sessions: int = attrs.field(validator=_sessions)
    unlimited: bool = False
    active: bool = True

    @property
    def describe(self) -> str:
        """What a member gets, in words ("8 sessions a month", "Unlimited (up to 20) a week")."""
        per = f"a {self.interval}"
        if self.unlimited:
            return f"Unlimited sessions (up to {self.sessions}) {per}"
        return f"{self.sessions} session{'s' if self.sessions != 1 else ''} {per}"


@attrs.frozen
class Membership:
    """One client's subscription to a plan, as Stripe last told us."""

    id: UUID
    org_id: OrgId
    client_id: ClientId
    plan_id: UUID
    status: MembershipStatus = attrs.field(converter=MembershipStatus)
    created_at: datetime
    subscription_id: str | None = None
    current_period_start: datetime | None = None
    current_period_end: datetime | None = None
    #: After a failed renewal: when the credits pause unless a payment succeeds first.
    grace_until: datetime | None = None
    #: The `created` of the newest Stripe event applied (older ones change nothing).
    status_at: datetime | None = None

    @property
    def is_live(self) -> bool:
        """Whether the client has this membership now (paying, or in grace, or paused for non-payment)."""
        return self.status in (MembershipStatus.ACTIVE, MembershipStatus.PAST_DUE, MembershipStatus.PAUSED)


@attrs.frozen
class StatusChange:
    """What one Stripe event says a membership's status is, and as of when."""

    status: MembershipStatus
    at: datetime
    period_start: datetime | None = None
    period_end: datetime | None = None


@attrs.frozen
class PeriodGrant:
    """The credits one paid invoice gives: the package it creates, keyed by the invoice."""

    org_id: OrgId
    membership_id: UUID
    invoice_id: str
    package_id: UUID
    period_start: datetime
    period_end: datetime


#: Stripe's subscription statuses and what a membership makes of them.
_STRIPE_STATUS = {
    "active": MembershipStatus.ACTIVE,
    "trialing": MembershipStatus.ACTIVE,
    "past_due": MembershipStatus.PAST_DUE,
    "unpaid": MembershipStatus.PAST_DUE,
    "paused": MembershipStatus.PAUSED,
    "canceled": MembershipStatus.CANCELLED,
    "incomplete_expired": MembershipStatus.CANCELLED,
    "incomplete": MembershipStatus.PENDING,
}


def status_from_stripe(value: object) -> MembershipStatus | None:
    """The membership status for Stripe's subscription `status`, None for one we do not know."""
    return _STRIPE_STATUS.get(value) if isinstance(value, str) else None


def period_package_id(org_id: OrgId, invoice_id: str) -> UUID:
    """The package an invoice grants, the same id whichever delivery or twin event creates it."""
    return uuid5(NAMESPACE_URL, f"coachos:membership-invoice:{org_id}:{invoice_id}")


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def period_label(start: datetime, interval: str, tz: tzinfo) -> str:
    """A period as a member reads it, on the business's clock: "Mar 2026", or "week of 2 Mar 2026".

    Month names are spelled out here so the server's locale cannot change a package's name.
    """
    local = start.astimezone(tz)
    month = f"{_MONTHS[local.month - 1]} {local.year}"
    return month if interval == "month" else f"week of {local.day} {month}"


def unix_time(value: object) -> datetime | None:
    """A Stripe Unix time (whole seconds) as an aware UTC datetime, None when missing or malformed."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**40:
        return None
    return datetime.fromtimestamp(value, UTC)


def subscription_metadata(invoice: Mapping[str, Any]) -> Mapping[str, Any]:
    """The metadata of the subscription an invoice bills.

    Since API version 2025-03-31 it is at `parent.subscription_details.metadata`; older versions put
    `subscription_details.metadata` on the invoice itself. Both are read so a pinned older webhook
    endpoint works too.
    """
    parent = invoice.get("parent")
    for holder in (parent if isinstance(parent, Mapping) else {}, invoice):
        details = holder.get("subscription_details")
        meta = details.get("metadata") if isinstance(details, Mapping) else None
        if isinstance(meta, Mapping) and meta:
            return meta
    return {}


def invoice_subscription(invoice: Mapping[str, Any]) -> str | None:
    """The id of the subscription an invoice bills (new `parent.subscription_details`, or old `subscription`)."""
    parent = invoice.get("parent")
    details = parent.get("subscription_details") if isinstance(parent, Mapping) else None
    found = details.get("subscription") if isinstance(details, Mapping) else invoice.get("subscription")
    if isinstance(found, Mapping):
        found = found.get("id")
    return found if isinstance(found, str) else None


def invoice_period(invoice: Mapping[str, Any]) -> tuple[datetime, datetime] | None:
    """The service period an invoice pays for: its first line's period, else the invoice's own."""
    lines = invoice.get("lines")
    data = lines.get("data") if isinstance(lines, Mapping) else None
    if isinstance(data, list) and data and isinstance(data[0], Mapping):
        period = data[0].get("period")
        if isinstance(period, Mapping):
            start, end = unix_time(period.get("start")), unix_time(period.get("end"))
            if start is not None and end is not None and end > start:
                return start, end
    start, end = unix_time(invoice.get("period_start")), unix_time(invoice.get("period_end"))
    if start is not None and end is not None and end > start:
        return start, end
    return None


def subscription_period(subscription: Mapping[str, Any]) -> tuple[datetime | None, datetime | None]:
    """A subscription's current period: on its first item since API 2025-03-31, on itself before."""
    items = subscription.get("items")
    data = items.get("data") if isinstance(items, Mapping) else None
    holder: Mapping[str, Any] = subscription
    if isinstance(data, list) and data and isinstance(data[0], Mapping) and "current_period_end" in data[0]:
        holder = data[0]
    return unix_time(holder.get("current_period_start")), unix_time(holder.get("current_period_end"))
