"""Plans, subscriptions and platform invoices in memory, with the SQL tables' guarantees."""

from __future__ import annotations

from datetime import UTC, datetime

from coachos.adapters.memory._repos import _Repo
from coachos.domain.ids import OrgId
from coachos.domain.ledger import Account
from coachos.domain.money import Money
from coachos.domain.platform import (
    OrgSubscription,
    PlatformInvoice,
    PlatformPlan,
    RevenueReport,
    replaces,
    revenue_report,
)
from coachos.domain.rows import Rows


class MemoryPlatform(_Repo):
    """Plans (seeded as migration 0026 seeds them), subscriptions and platform invoices in memory."""

    def plans(self) -> Rows[PlatformPlan]:
        """Every plan, cheapest first."""
        return Rows(sorted(self._t.platform_plans.values(), key=lambda p: (p.monthly_price.amount_minor, p.key)))

    def plan(self, key: str) -> PlatformPlan | None:
        """The plan with `key`."""
        return self._t.platform_plans.get(key)

    def subscription(self, org_id: OrgId) -> OrgSubscription | None:
        """The business's subscription."""
        return self._t.org_subscriptions.get(org_id)

    def apply_subscription(self, sub: OrgSubscription) -> bool:
        """Store `sub` when the domain's rule says it replaces what is stored."""
        if not replaces(self._t.org_subscriptions.get(sub.org_id), sub):
            return False
        self._t.org_subscriptions[sub.org_id] = sub
        return True

    def record_invoice(self, invoice: PlatformInvoice) -> bool:
        """Keep the invoice as paid unless it is."""
        if invoice.invoice_id in self._t.platform_invoices:
            return False
        self._t.platform_invoices[invoice.invoice_id] = invoice
        return True

    def invoices(self, org_id: OrgId) -> Rows[PlatformInvoice]:
        """The business's paid invoices, newest first."""
        mine = [i for i in self._t.platform_invoices.values() if i.org_id == org_id]
        return Rows(sorted(mine, key=lambda i: (-i.paid_at.timestamp(), i.invoice_id)))

    def claim_failure_notice(self, org_id: OrgId, invoice_id: str, amount: Money, at: datetime) -> bool:
        """True the first time for an invoice."""
        del amount, at  # kept by SQL for the operator; the fake needs only the claim
        key = (org_id, invoice_id)
        if key in self._t.platform_failure_notices:
            return False
        self._t.platform_failure_notices.add(key)
        return True

    def revenue_report(self) -> RevenueReport:
        """The report over every business in the store."""
        counts: dict[tuple[str, str], int] = {}
        for sub in self._t.org_subscriptions.values():
            counts[(sub.plan_key, sub.status)] = counts.get((sub.plan_key, sub.status), 0) + 1
        fees: dict[tuple[str, str], int] = {}
        for tx in self._t.ledger.values():
            for line in tx.entries:
                if line.account == Account.PLATFORM_FEES:
                    k = (tx.occurred_at.astimezone(UTC).strftime("%Y-%m"), line.currency)
                    fees[k] = fees.get(k, 0) + line.amount_minor
        return revenue_report(
            dict(self._t.platform_plans),
            [(k, s, n) for (k, s), n in counts.items()],
            len(self._t.orgs),
            [(m, c, a) for (m, c), a in sorted(fees.items())],
        )
