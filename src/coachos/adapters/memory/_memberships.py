"""Membership plans, memberships and paid periods in memory, with the SQL tables' guarantees."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import attrs

from coachos.adapters.memory._repos import _Repo
from coachos.domain.catalog import PaymentState
from coachos.domain.errors import Conflict, NotFound
from coachos.domain.ids import ClientId, OrgId
from coachos.domain.memberships import Membership, MembershipPlan, MembershipStatus, PeriodGrant, StatusChange
from coachos.domain.rows import Rows

SUBSCRIPTION_TAKEN = "This Stripe subscription already belongs to another membership."


class MemoryMemberships(_Repo):
    """Plans, memberships and paid periods in memory (the store's one lock serialises units of work)."""

    def add_plan(self, plan: MembershipPlan) -> None:
        """Keep the plan."""
        self._t.membership_plans[plan.id] = plan

    def update_plan(self, plan: MembershipPlan) -> None:
        """Replace the plan when this business has it."""
        self.plan(plan.org_id, plan.id)
        self._t.membership_plans[plan.id] = plan

    def plan(self, org_id: OrgId, plan_id: UUID) -> MembershipPlan:
        """The plan."""
        found = self._t.membership_plans.get(plan_id)
        if found is None or found.org_id != org_id:
            raise NotFound("No such membership plan in this business.")
        return found

    def plans(self, org_id: OrgId) -> Rows[MembershipPlan]:
        """The plans, by name."""
        mine = sorted(
            (p for p in self._t.membership_plans.values() if p.org_id == org_id), key=lambda p: (p.name, p.id)
        )
        return self._rows("membership_plans", org_id, mine)

    def add(self, membership: Membership) -> None:
        """Keep the membership."""
        self._t.memberships[membership.id] = membership

    def get(self, org_id: OrgId, membership_id: UUID) -> Membership:
        """The membership."""
        found = self._t.memberships.get(membership_id)
        if found is None or found.org_id != org_id:
            raise NotFound("No such membership in this business.")
        return found

    def for_client(self, org_id: OrgId, client_id: ClientId) -> Rows[Membership]:
        """The client's memberships, newest first."""
        mine = [m for m in self._t.memberships.values() if m.org_id == org_id and m.client_id == client_id]
        found = sorted(mine, key=lambda m: m.created_at, reverse=True)
        return self._rows("memberships", org_id, found, client_id=client_id)

    def owing(self, org_id: OrgId, *, limit: int = 100) -> Rows[Membership]:
        """Past-due and paused memberships, longest owed first."""
        owed = (MembershipStatus.PAST_DUE, MembershipStatus.PAUSED)
        mine = [m for m in self._t.memberships.values() if m.org_id == org_id and m.status in owed]
        mine.sort(key=lambda m: (m.status_at or m.created_at, str(m.id)))
        return self._rows("memberships", org_id, mine[:limit])

    def link_subscription(self, org_id: OrgId, membership_id: UUID, subscription_id: str) -> bool:
        """Record the subscription unless one is recorded; Conflict if another membership has it."""
        found = self._t.memberships.get(membership_id)
        if found is None or found.org_id != org_id or found.subscription_id is not None:
            return False
        if any(m.subscription_id == subscription_id for m in self._t.memberships.values()):
            raise Conflict(SUBSCRIPTION_TAKEN)
        self._t.memberships[membership_id] = attrs.evolve(found, subscription_id=subscription_id)
        return True

    def apply(self, org_id: OrgId, membership_id: UUID, change: StatusChange) -> bool:
        """Newer events only (cancellation always), never out of cancelled."""
        found = self._t.memberships.get(membership_id)
        if found is None or found.org_id != org_id or found.status is MembershipStatus.CANCELLED:
            return False
        cancel = change.status is MembershipStatus.CANCELLED
        if not cancel and found.status_at is not None and found.status_at > change.at:
            return False
        at = max(change.at, found.status_at) if cancel and found.status_at is not None else change.at
        updated = attrs.evolve(found, status=change.status, status_at=at)
        if change.period_start is not None and change.period_end is not None:
            updated = attrs.evolve(
                updated, current_period_start=change.period_start, current_period_end=change.period_end
            )
        if change.status is MembershipStatus.ACTIVE:
            updated = attrs.evolve(updated, grace_until=None)
        self._t.memberships[membership_id] = updated
        return True

    def start_grace(self, org_id: OrgId, membership_id: UUID, at: datetime, grace_until: datetime) -> bool:
        """Past due from active or past due, unless a newer event changed it; the first deadline stays."""
        found = self._t.memberships.get(membership_id)
        live = (MembershipStatus.ACTIVE, MembershipStatus.PAST_DUE)
        if found is None or found.org_id != org_id or found.status not in live:
            return False
        if found.status_at is not None and found.status_at > at:
            return False
        self._t.memberships[membership_id] = attrs.evolve(
            found, status=MembershipStatus.PAST_DUE, status_at=at, grace_until=found.grace_until or grace_until
        )
        return True

    def grant(self, grant: PeriodGrant) -> bool:
        """Keep the invoice's period unless it is kept."""
        if grant.invoice_id in self._t.membership_periods:
            return False
        self._t.membership_periods[grant.invoice_id] = grant
        return True

    def _flip_packages(self, org_id: OrgId, membership_id: UUID, old: PaymentState, new: PaymentState) -> int:
        ids = {g.package_id for g in self._t.membership_periods.values() if g.membership_id == membership_id}
        flipped = 0
        for package_id in ids:
            package = self._t.packages.get(package_id)
            if package is not None and package.org_id == org_id and package.payment_state is old:
                self._t.packages[package_id] = attrs.evolve(package, payment_state=new)
                flipped += 1
        return flipped

    def pause(self, org_id: OrgId, membership_id: UUID, now: datetime) -> bool:
        """Pause a past-due membership whose grace ended, and stop its paid packages' credits."""
        found = self._t.memberships.get(membership_id)
        if (
            found is None
            or found.org_id != org_id
            or found.status is not MembershipStatus.PAST_DUE
            or found.grace_until is None
            or found.grace_until > now
        ):
            return False
        self._t.memberships[membership_id] = attrs.evolve(found, status=MembershipStatus.PAUSED)
        self._flip_packages(org_id, membership_id, PaymentState.PAID, PaymentState.FAILED)
        return True

    def resume_credits(self, org_id: OrgId, membership_id: UUID) -> int:
        """Make the packages a pause stopped paid again."""
        return self._flip_packages(org_id, membership_id, PaymentState.FAILED, PaymentState.PAID)

    def lapsed(self, now: datetime, limit: int = 100) -> Sequence[tuple[OrgId, UUID]]:
        """Past-due memberships of every business whose grace ended."""
        due = [
            m
            for m in self._t.memberships.values()
            if m.status is MembershipStatus.PAST_DUE and m.grace_until is not None and m.grace_until <= now
        ]
        due.sort(key=lambda m: m.grace_until or now)
        return [(m.org_id, m.id) for m in due[:limit]]
