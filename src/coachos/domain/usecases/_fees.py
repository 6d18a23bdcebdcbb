"""The platform's cut of a coach's sale: one place every sale asks, set by the business's plan."""

from __future__ import annotations

from decimal import Decimal

from coachos.domain.ids import OrgId
from coachos.domain.platform import DEFAULT_PLAN
from coachos.ports.storage import UnitOfWork

#: The fee, in percent of each client sale, should the default plan be missing from the database.
DEFAULT_PLATFORM_FEE_PERCENT = Decimal("5")


def platform_fee_percent(uow: UnitOfWork, org_id: OrgId) -> Decimal:
    """The percentage Coach OS takes from `org_id`'s client sales: its live plan's, else the default plan's."""
    sub = uow.platform.subscription(org_id)
    plan = uow.platform.plan(sub.plan_key) if sub is not None and sub.live else None
    plan = plan or uow.platform.plan(DEFAULT_PLAN)
    return DEFAULT_PLATFORM_FEE_PERCENT if plan is None else plan.fee_percent
