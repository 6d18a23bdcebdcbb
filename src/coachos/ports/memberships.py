"""Where membership plans, members' subscriptions and the credits each paid period granted are stored."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

from coachos.domain.ids import ClientId, OrgId
from coachos.domain.memberships import Membership, MembershipPlan, PeriodGrant, StatusChange
from coachos.domain.rows import Rows


class MembershipRepository(Protocol):
    """Plans and memberships; every status change is one conditional statement (newer events only)."""

    def add_plan(self, plan: MembershipPlan) -> None:
        """Store a new plan."""
        ...

    def update_plan(self, plan: MembershipPlan) -> None:
        """Replace a stored plan (name, price for new members, sessions, active)."""
        ...

    def plan(self, org_id: OrgId, plan_id: UUID) -> MembershipPlan:
        """The plan, or NotFound."""
        ...

    def plans(self, org_id: OrgId) -> Rows[MembershipPlan]:
        """The business's plans, by name."""
        ...

    def add(self, membership: Membership) -> None:
        """Store a new membership (pending until Stripe tells of its subscription)."""
        ...

    def get(self, org_id: OrgId, membership_id: UUID) -> Membership:
        """The membership, or NotFound."""
        ...

    def for_client(self, org_id: OrgId, client_id: ClientId) -> Rows[Membership]:
        """The client's memberships, newest first."""
        ...

    def owing(self, org_id: OrgId, *, limit: int = 100) -> Rows[Membership]:
        """The business's PAST_DUE and PAUSED memberships, longest owed first (by `status_at`, else created)."""
        ...

    def link_subscription(self, org_id: OrgId, membership_id: UUID, subscription_id: str) -> bool:
        """Record the membership's Stripe subscription unless one is recorded; True if recorded.

        Conflict if another membership has that subscription.
        """
        ...

    def apply(self, org_id: OrgId, membership_id: UUID, change: StatusChange) -> bool:
        """Set status (and period, when given) unless a newer event did or it is cancelled; True if set.

        A change to CANCELLED applies whatever its time (cancelled is final); nothing leaves CANCELLED.
        """
        ...

    def start_grace(self, org_id: OrgId, membership_id: UUID, at: datetime, grace_until: datetime) -> bool:
        """Make an ACTIVE or PAST_DUE membership PAST_DUE, keeping the first grace deadline; True if changed."""
        ...

    def grant(self, grant: PeriodGrant) -> bool:
        """Record that `grant.invoice_id` granted `grant.package_id`, once per invoice; True if this call did."""
        ...

    def pause(self, org_id: OrgId, membership_id: UUID, now: datetime) -> bool:
        """Pause a PAST_DUE membership whose grace is over, and stop its packages' credits; True if paused."""
        ...

    def resume_credits(self, org_id: OrgId, membership_id: UUID) -> int:
        """Make the packages a pause stopped usable again; how many."""
        ...

    def lapsed(self, now: datetime, limit: int = 100) -> Sequence[tuple[OrgId, UUID]]:
        """PAST_DUE memberships of every business whose grace ended by `now` (the pausing job's work list)."""
        ...
