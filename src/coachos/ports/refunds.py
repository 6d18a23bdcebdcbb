"""Where refunds and each refunded sale's running sums are stored; each guarantee one conditional statement."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol
from uuid import UUID

from coachos.domain.ids import OrgId, PackageId
from coachos.domain.refunds import Refund, RefundState, RefundTotals
from coachos.domain.rows import Rows


class RefundRepository(Protocol):
    """Refunds, the per-sale sums that keep refunds within the sale, and the package changes they make."""

    def lock(self, org_id: OrgId, sale_key: str, gross: int) -> RefundTotals:
        """The sale's sums, created at zero if new, its row locked until the transaction ends."""
        ...

    def reserve(self, org_id: OrgId, sale_key: str, gross: int, amount: int) -> bool:
        """Add `amount` to what is reserved unless that would pass `gross`; True if it was added."""
        ...

    def release(self, org_id: OrgId, sale_key: str, amount: int) -> None:
        """Give back a reservation (a refund Stripe refused)."""
        ...

    def book(self, org_id: OrgId, sale_key: str, amount: int, credits_value: int) -> RefundTotals:
        """Count `amount` as in the ledger and `credits_value` as removed credits' value; the sums after."""
        ...

    def totals(self, org_id: OrgId, sale_key: str) -> RefundTotals | None:
        """The sale's sums, if anything was ever refunded on it."""
        ...

    def totals_of(self, org_id: OrgId, sale_keys: list[str]) -> dict[str, RefundTotals]:
        """The sums of each of these sales that has any (one query, for lists)."""
        ...

    def add(self, refund: Refund) -> None:
        """Store a new refund; Conflict if its Stripe refund id is recorded already."""
        ...

    def get(self, org_id: OrgId, refund_id: UUID) -> Refund:
        """The refund, or NotFound."""
        ...

    def settle(
        self,
        org_id: OrgId,
        refund_id: UUID,
        *,
        state: RefundState,
        at: datetime,
        stripe_refund_id: str | None = None,
        failure: str | None = None,
    ) -> Refund | None:
        """Move a PENDING refund to `state` (one conditional UPDATE); the refund if this call moved it."""
        ...

    def by_stripe_id(self, org_id: OrgId, stripe_refund_id: str) -> Refund | None:
        """The refund Stripe knows by this id, if recorded."""
        ...

    def for_sale(self, org_id: OrgId, sale_key: str) -> Rows[Refund]:
        """The sale's refunds, oldest first."""
        ...

    def recent(self, org_id: OrgId, *, limit: int = 50) -> Rows[Refund]:
        """The business's refunds, newest first."""
        ...

    def pending(self, org_id: OrgId, *, before: datetime) -> Rows[Refund]:
        """Refunds still pending that were asked for before `before` (a crash left them), oldest first."""
        ...

    def sales_for_payment(self, org_id: OrgId, payment_intent_id: str) -> list[str]:
        """Ledger keys of the business's sales that Stripe's PaymentIntent paid (packages, bookings, fees)."""
        ...

    def remove_credits(self, org_id: OrgId, package_id: PackageId, n: int) -> bool:
        """Lower the package's total by `n` where that leaves at least what is used (one conditional UPDATE)."""
        ...

    def mark_package_refunded(self, org_id: OrgId, package_id: PackageId) -> bool:
        """A paid (or paused) package becomes REFUNDED (one conditional UPDATE); True if this call moved it."""
        ...
