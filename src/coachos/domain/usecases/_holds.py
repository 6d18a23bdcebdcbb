"""Holding a booking for its payment: how long, and whether the business can take the payment at all."""

from __future__ import annotations

from datetime import datetime, timedelta

from coachos.domain.errors import PolicyViolation
from coachos.domain.ids import OrgId
from coachos.domain.usecases._base import Deps
from coachos.ports.storage import UnitOfWork

#: How long a booking waiting for its payment keeps its seat.
HOLD_FOR = timedelta(minutes=35)
#: The shortest life Stripe allows a Checkout Session (plus a minute for the request's own time).
SHORTEST_CHECKOUT = timedelta(minutes=31)


def hold_until(now: datetime) -> datetime:
    """When a hold made at `now` ends."""
    return now + HOLD_FOR


def checkout_expiry(hold_expires_at: datetime, now: datetime) -> datetime:
    """When the booking's Checkout should end: a minute before its hold, so Stripe's `checkout.session.expired`
    releases it first; Stripe's minimum of 30 minutes wins for a Checkout started late (its payment may then
    arrive after the hold ends, which the webhook records as paid after release)."""
    return max(hold_expires_at - timedelta(minutes=1), now + SHORTEST_CHECKOUT)


def require_chargeable(uow: UnitOfWork, deps: Deps, org_id: OrgId) -> str:
    """The business's connected Stripe account id; PolicyViolation unless it can take card payments now."""
    account = uow.stripe.account(org_id) if deps.payments is not None else None
    if account is None or not account.charges_enabled:
        raise PolicyViolation(
            "This business cannot take card payments online yet, so this session cannot be booked here; "
            "please contact your coach."
        )
    return account.account_id
