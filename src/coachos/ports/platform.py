"""Where the platform's plans, each business's subscription to one and the invoices it paid are stored."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from coachos.domain.ids import OrgId
from coachos.domain.money import Money
from coachos.domain.platform import OrgSubscription, PlatformInvoice, PlatformPlan, RevenueReport
from coachos.domain.rows import Rows


class PlatformRepository(Protocol):
    """Plans, subscriptions (newest event wins, cancelled is final) and platform invoices kept once."""

    def plans(self) -> Rows[PlatformPlan]:
        """Every plan, cheapest first (rows that cannot be read named in `unreadable`)."""
        ...

    def plan(self, key: str) -> PlatformPlan | None:
        """The plan with `key`, if there is one."""
        ...

    def subscription(self, org_id: OrgId) -> OrgSubscription | None:
        """The business's subscription as last applied (None: never subscribed)."""
        ...

    def apply_subscription(self, sub: OrgSubscription) -> bool:
        """Store `sub` unless what is stored is newer or cancelled; True if it was stored (one conditional write)."""
        ...

    def record_invoice(self, invoice: PlatformInvoice) -> bool:
        """Keep the invoice as paid unless it already is; True if this call kept it."""
        ...

    def invoices(self, org_id: OrgId) -> Rows[PlatformInvoice]:
        """The business's paid invoices, newest first (rows that cannot be read named in `unreadable`)."""
        ...

    def claim_failure_notice(self, org_id: OrgId, invoice_id: str, amount: Money, at: datetime) -> bool:
        """True only for the first caller per invoice: whoever gets True tells the coach its payment failed."""
        ...

    def revenue_report(self) -> RevenueReport:
        """MRR by currency, businesses per plan and platform-fee income by month, across every business."""
        ...
