"""Where Stripe's webhook events and the businesses' connected accounts are stored."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from coachos.domain.ids import OrgId
from coachos.domain.stripe_events import StripeAccount, StripeEvent


class StripeRepository(Protocol):
    """Stripe events, each kept once by its id, and each business's connected account."""

    def record(self, event: StripeEvent) -> bool:
        """Keep `event` unless its id is kept already; True if this call kept it.

        A transaction keeping an id another open transaction has just kept waits for that one to
        end: False if it committed, True (and kept here) if it rolled back.
        """
        ...

    def event(self, event_id: str) -> StripeEvent | None:
        """The kept event with this id, or None."""
        ...

    def link_account(self, org_id: OrgId, account_id: str, at: datetime) -> None:
        """Record that the business has connected `account_id` (not yet able to take charges); Conflict if taken."""
        ...

    def account_owner(self, account_id: str) -> OrgId | None:
        """The business that connected `account_id`, whichever it is (an event names no business), or None."""
        ...

    def account(self, org_id: OrgId) -> StripeAccount | None:
        """The business's connected account, or None."""
        ...

    def update_account(self, status: StripeAccount) -> bool:
        """Store `status` unless what is stored came from a newer event (`status_at`); True if stored."""
        ...

    def charge_account(self, org_id: OrgId) -> str | None:
        """The business's connected account id if Stripe says it can take charges, else None."""
        ...
