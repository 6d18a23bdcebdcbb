"""Stripe events and connected accounts in memory, with the SQL tables' guarantees."""

from __future__ import annotations

from datetime import datetime

from coachos.adapters.memory._repos import _Repo
from coachos.domain.errors import Conflict
from coachos.domain.ids import OrgId
from coachos.domain.stripe_events import StripeAccount, StripeEvent

ACCOUNT_TAKEN = "This Stripe account is already connected to a business."


class MemoryStripe(_Repo):
    """Stripe events and connected accounts in memory."""

    def record(self, event: StripeEvent) -> bool:
        """Keep unless the id is kept (the store's one lock serialises racing units of work)."""
        if event.id in self._t.stripe_events:
            return False
        self._t.stripe_events[event.id] = event
        return True

    def event(self, event_id: str) -> StripeEvent | None:
        """The kept event."""
        return self._t.stripe_events.get(event_id)

    def link_account(self, org_id: OrgId, account_id: str, at: datetime) -> None:
        """Keep the account unless any business has it."""
        if account_id in self._t.stripe_accounts:
            raise Conflict(ACCOUNT_TAKEN)
        self._t.stripe_accounts[account_id] = StripeAccount(
            org_id=org_id,
            account_id=account_id,
            charges_enabled=False,
            details_submitted=False,
            status_at=None,
            updated_at=at,
        )

    def account_owner(self, account_id: str) -> OrgId | None:
        """The business that has the account."""
        found = self._t.stripe_accounts.get(account_id)
        return None if found is None else found.org_id

    def account(self, org_id: OrgId) -> StripeAccount | None:
        """The business's first connected account."""
        mine = [a for a in self._t.stripe_accounts.values() if a.org_id == org_id]
        return min(mine, key=lambda a: (a.updated_at, a.account_id), default=None)

    def update_account(self, status: StripeAccount) -> bool:
        """Replace the stored status when this business has the account and `status` is newer."""
        stored = self._t.stripe_accounts.get(status.account_id)
        if stored is None or stored.org_id != status.org_id:
            return False
        if stored.status_at is not None and (status.status_at is None or status.status_at <= stored.status_at):
            return False
        self._t.stripe_accounts[status.account_id] = status
        return True

    def charge_account(self, org_id: OrgId) -> str | None:
        """The business's first connected account that can take charges."""
        mine = [a for a in self._t.stripe_accounts.values() if a.org_id == org_id and a.charges_enabled]
        found = min(mine, key=lambda a: (a.updated_at, a.account_id), default=None)
        return None if found is None else found.account_id
