"""The platform's cut of a coach's sale: one place every sale asks, so plans can set it per business."""

from __future__ import annotations

from decimal import Decimal

from coachos.domain.ids import OrgId
from coachos.ports.storage import UnitOfWork

#: The fee, in percent of each client sale, for a business on no plan yet.
DEFAULT_PLATFORM_FEE_PERCENT = Decimal("5")


def platform_fee_percent(uow: UnitOfWork, org_id: OrgId) -> Decimal:
    """The percentage Coach OS takes from `org_id`'s client sales (set by its plan)."""
    del uow, org_id  # until plans exist every business pays the default
    return DEFAULT_PLATFORM_FEE_PERCENT
