"""Membership plans, memberships and their paid periods in SQL; each guarantee is one conditional statement.

- A period is granted once per invoice: `INSERT … ON CONFLICT (invoice_id) DO NOTHING RETURNING`; a
  racing transaction inserting the same invoice waits on the primary key and then inserts nothing.
- A status changes only from a newer event: one `UPDATE … WHERE status_at <= :at AND status <> 'cancelled'`
  (a cancellation applies whatever its time; nothing leaves cancelled).
- Pausing and resuming flip the membership's packages with `UPDATE packages … WHERE payment_state = …`,
  so a package refunded or failed for another reason is never touched.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from coachos.adapters.sql.repos import _Repo
from coachos.adapters.sql.tables import UTCDateTime, membership_periods, membership_plans, memberships, packages
from coachos.adapters.sql.tenancy import read_memberships_across_orgs
from coachos.domain.catalog import PaymentState
from coachos.domain.errors import Conflict
from coachos.domain.ids import ClientId, OrgId
from coachos.domain.memberships import Membership, MembershipPlan, MembershipStatus, PeriodGrant, StatusChange
from coachos.domain.money import Money
from coachos.domain.rows import Rows

SUBSCRIPTION_TAKEN = "This Stripe subscription already belongs to another membership."


def plan_from(row: Any) -> MembershipPlan:
    """The plan a row holds."""
    return MembershipPlan(
        id=row.id,
        org_id=OrgId(row.org_id),
        name=row.name,
        price=Money(row.price_minor, row.currency),
        interval=row.interval,
        sessions=row.sessions,
        unlimited=row.unlimited,
        active=row.active,
    )


def membership_from(row: Any) -> Membership:
    """The membership a row holds."""
    return Membership(
        id=row.id,
        org_id=OrgId(row.org_id),
        client_id=ClientId(row.client_id),
        plan_id=row.plan_id,
        status=row.status,
        created_at=row.created_at,
        subscription_id=row.subscription_id,
        current_period_start=row.current_period_start,
        current_period_end=row.current_period_end,
        grace_until=row.grace_until,
        status_at=row.status_at,
    )


def _plan_values(plan: MembershipPlan) -> dict[str, Any]:
    return {
        "name": plan.name,
        "price_minor": plan.price.amount_minor,
        "currency": plan.price.currency,
        "interval": plan.interval,
        "sessions": plan.sessions,
        "unlimited": plan.unlimited,
        "active": plan.active,
    }


class SqlMemberships(_Repo):
    """Plans, memberships and paid periods in SQL."""

    def add_plan(self, plan: MembershipPlan) -> None:
        """Insert the plan."""
        self._c.execute(membership_plans.insert().values(id=plan.id, org_id=plan.org_id, **_plan_values(plan)))

    def update_plan(self, plan: MembershipPlan) -> None:
        """Replace the plan's values."""
        c = membership_plans.c
        self._c.execute(
            membership_plans.update().where(c.org_id == plan.org_id, c.id == plan.id).values(**_plan_values(plan))
        )

    def plan(self, org_id: OrgId, plan_id: UUID) -> MembershipPlan:
        """The plan."""
        c = membership_plans.c
        q = sa.select(membership_plans).where(c.org_id == org_id, c.id == plan_id)
        return self._get(membership_plans, q, plan_from, "membership plan")

    def plans(self, org_id: OrgId) -> Rows[MembershipPlan]:
        """The plans, by name."""
        c = membership_plans.c
        q = sa.select(membership_plans).where(c.org_id == org_id).order_by(c.name, c.id)
        return self._all(membership_plans, q, plan_from)

    def add(self, membership: Membership) -> None:
        """Insert the membership."""
        m = membership
        self._c.execute(
            memberships.insert().values(
                id=m.id,
                org_id=m.org_id,
                client_id=m.client_id,
                plan_id=m.plan_id,
                status=m.status.value,
                subscription_id=m.subscription_id,
                current_period_start=m.current_period_start,
                current_period_end=m.current_period_end,
                grace_until=m.grace_until,
                status_at=m.status_at,
                created_at=m.created_at,
            )
        )

    def get(self, org_id: OrgId, membership_id: UUID) -> Membership:
        """The membership."""
        c = memberships.c
        q = sa.select(memberships).where(c.org_id == org_id, c.id == membership_id)
        return self._get(memberships, q, membership_from, "membership")

    def for_client(self, org_id: OrgId, client_id: ClientId) -> Rows[Membership]:
        """The client's memberships, newest first."""
        c = memberships.c
        q = sa.select(memberships).where(c.org_id == org_id, c.client_id == client_id).order_by(c.created_at.desc())
        return self._all(memberships, q, membership_from)

    def owing(self, org_id: OrgId, *, limit: int = 100) -> Rows[Membership]:
        """Past-due and paused memberships, longest owed first."""
        c = memberships.c
        owed = (MembershipStatus.PAST_DUE.value, MembershipStatus.PAUSED.value)
        q = (
            sa.select(memberships)
            .where(c.org_id == org_id, c.status.in_(owed))
            .order_by(sa.func.coalesce(c.status_at, c.created_at), c.id)
            .limit(limit)
        )
        return self._all(memberships, q, membership_from)

    def link_subscription(self, org_id: OrgId, membership_id: UUID, subscription_id: str) -> bool:
        """One UPDATE where no subscription is recorded; the unique index refuses one another membership has."""
        c = memberships.c
        stmt = (
            memberships.update()
            .where(c.org_id == org_id, c.id == membership_id, c.subscription_id.is_(None))
            .values(subscription_id=subscription_id)
        )
        try:
            with self._c.begin_nested():
                return self._c.execute(stmt).rowcount == 1
        except IntegrityError as exc:
            raise Conflict(SUBSCRIPTION_TAKEN) from exc

    def apply(self, org_id: OrgId, membership_id: UUID, change: StatusChange) -> bool:
        """One conditional UPDATE: newer events only (cancellation always), never out of cancelled."""
        c = memberships.c
        values: dict[str, Any] = {"status": change.status.value, "status_at": change.at}
        if change.period_start is not None and change.period_end is not None:
            values |= {"current_period_start": change.period_start, "current_period_end": change.period_end}
        if change.status is MembershipStatus.ACTIVE:
            values["grace_until"] = None
        newer = sa.or_(c.status_at.is_(None), c.status_at <= change.at)
        if change.status is MembershipStatus.CANCELLED:
            newer = sa.true()
            at = sa.literal(change.at, type_=UTCDateTime())  # stored exactly as the column stores times
            values["status_at"] = sa.case((c.status_at > at, c.status_at), else_=at)
        stmt = (
            memberships.update()
            .where(c.org_id == org_id, c.id == membership_id, c.status != MembershipStatus.CANCELLED.value, newer)
            .values(**values)
        )
        return self._c.execute(stmt).rowcount == 1

    def start_grace(self, org_id: OrgId, membership_id: UUID, at: datetime, grace_until: datetime) -> bool:
        """One UPDATE of an ACTIVE or PAST_DUE membership not changed by a newer event; the first deadline stays."""
        c = memberships.c
        live = (MembershipStatus.ACTIVE.value, MembershipStatus.PAST_DUE.value)
        stmt = (
            memberships.update()
            .where(
                c.org_id == org_id,
                c.id == membership_id,
                c.status.in_(live),
                sa.or_(c.status_at.is_(None), c.status_at <= at),
            )
            .values(
                status=MembershipStatus.PAST_DUE.value,
                status_at=at,
                grace_until=sa.func.coalesce(c.grace_until, sa.literal(grace_until, type_=UTCDateTime())),
            )
        )
        return self._c.execute(stmt).rowcount == 1

    def grant(self, grant: PeriodGrant) -> bool:
        """Insert the invoice's period unless it is recorded; True if this statement inserted it."""
        insert = postgresql.insert if self._c.dialect.name == "postgresql" else sqlite.insert
        stmt = (
            insert(membership_periods)
            .values(
                invoice_id=grant.invoice_id,
                org_id=grant.org_id,
                membership_id=grant.membership_id,
                package_id=grant.package_id,
                period_start=grant.period_start,
                period_end=grant.period_end,
            )
            .on_conflict_do_nothing(index_elements=["invoice_id"])
            .returning(membership_periods.c.invoice_id)
        )
        return self._c.execute(stmt).first() is not None

    def _flip_packages(self, org_id: OrgId, membership_id: UUID, old: PaymentState, new: PaymentState) -> int:
        p, g = packages.c, membership_periods.c
        mine = sa.select(g.package_id).where(g.org_id == org_id, g.membership_id == membership_id)
        stmt = (
            packages.update()
            .where(p.org_id == org_id, p.payment_state == old.value, p.id.in_(mine))
            .values(payment_state=new.value)
        )
        return int(self._c.execute(stmt).rowcount)

    def pause(self, org_id: OrgId, membership_id: UUID, now: datetime) -> bool:
        """Pause only a PAST_DUE membership whose grace ended; then stop its paid packages' credits."""
        c = memberships.c
        stmt = (
            memberships.update()
            .where(
                c.org_id == org_id,
                c.id == membership_id,
                c.status == MembershipStatus.PAST_DUE.value,
                c.grace_until <= now,
            )
            .values(status=MembershipStatus.PAUSED.value)
        )
        if self._c.execute(stmt).rowcount != 1:
            return False
        self._flip_packages(org_id, membership_id, PaymentState.PAID, PaymentState.FAILED)
        return True

    def resume_credits(self, org_id: OrgId, membership_id: UUID) -> int:
        """Make the packages a pause stopped paid again."""
        return self._flip_packages(org_id, membership_id, PaymentState.FAILED, PaymentState.PAID)

    def lapsed(self, now: datetime, limit: int = 100) -> Sequence[tuple[OrgId, UUID]]:
        """Across organisations (reads only): past-due memberships whose grace ended."""
        c = memberships.c
        q = (
            sa.select(c.org_id, c.id)
            .where(c.status == MembershipStatus.PAST_DUE.value, c.grace_until <= now)
            .order_by(c.grace_until)
            .limit(limit)
        )
        with read_memberships_across_orgs(self._c):
            rows = self._c.execute(q).all()
        return [(OrgId(r.org_id), r.id) for r in rows]
