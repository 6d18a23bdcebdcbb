"""Refunds in memory, with the SQL tables' guarantees (the store's lock stands for the row lock)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import attrs

from coachos.adapters.memory._repos import _Repo
from coachos.domain.catalog import PaymentState
from coachos.domain.errors import Conflict, NotFound
from coachos.domain.ids import OrgId, PackageId
from coachos.domain.refunds import Refund, RefundState, RefundTotals
from coachos.domain.rows import Rows


class MemoryRefunds(_Repo):
    """Refunds and refunded sales' sums in memory."""

    def lock(self, org_id: OrgId, sale_key: str, gross: int) -> RefundTotals:
        """The sums, created at zero when new."""
        return self._t.refund_totals.setdefault((org_id, sale_key), RefundTotals(gross, 0, 0, 0))

    def reserve(self, org_id: OrgId, sale_key: str, gross: int, amount: int) -> bool:
        """Add `amount` unless the sum would pass the gross."""
        now = self.lock(org_id, sale_key, gross)
        if not amount > 0 or now.reserved + amount > now.gross:
            return False
        self._t.refund_totals[(org_id, sale_key)] = attrs.evolve(now, reserved=now.reserved + amount)
        return True

    def release(self, org_id: OrgId, sale_key: str, amount: int) -> None:
        """Give back a reservation."""
        now = self._t.refund_totals.get((org_id, sale_key))
        if now is not None and now.reserved - amount >= now.booked:
            self._t.refund_totals[(org_id, sale_key)] = attrs.evolve(now, reserved=now.reserved - amount)

    def book(self, org_id: OrgId, sale_key: str, amount: int, credits_value: int) -> RefundTotals:
        """Count the amount as in the ledger."""
        now = self._t.refund_totals[(org_id, sale_key)]
        after = attrs.evolve(now, booked=now.booked + amount, credits_value=now.credits_value + credits_value)
        if after.booked > after.reserved:
            raise ValueError("booked_within_reserved")  # the SQL CHECK
        self._t.refund_totals[(org_id, sale_key)] = after
        return after

    def totals(self, org_id: OrgId, sale_key: str) -> RefundTotals | None:
        """The sums."""
        return self._t.refund_totals.get((org_id, sale_key))

    def totals_of(self, org_id: OrgId, sale_keys: list[str]) -> dict[str, RefundTotals]:
        """The sums of each sale that has any."""
        return {k: t for k in sale_keys if (t := self._t.refund_totals.get((org_id, k))) is not None}

    def add(self, refund: Refund) -> None:
        """Store; Conflict on a Stripe refund id recorded already."""
        if refund.stripe_refund_id is not None and any(
            r.stripe_refund_id == refund.stripe_refund_id for r in self._t.refunds.values()
        ):
            raise Conflict("That Stripe refund is recorded already.")
        self._t.refunds[refund.id] = refund

    def get(self, org_id: OrgId, refund_id: UUID) -> Refund:
        """The refund, or NotFound."""
        found = self._t.refunds.get(refund_id)
        if found is None or found.org_id != org_id:
            raise NotFound("No such refund in this business.")
        return found

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
        """PENDING → `state`, once."""
        found = self._t.refunds.get(refund_id)
        if found is None or found.org_id != org_id or found.state is not RefundState.PENDING:
            return None
        done = attrs.evolve(
            found,
            state=state,
            updated_at=at,
            failure=failure,
            stripe_refund_id=stripe_refund_id or found.stripe_refund_id,
        )
        self._t.refunds[refund_id] = done
        return done

    def by_stripe_id(self, org_id: OrgId, stripe_refund_id: str) -> Refund | None:
        """The refund with that Stripe id."""
        return next(
            (r for r in self._t.refunds.values() if r.org_id == org_id and r.stripe_refund_id == stripe_refund_id),
            None,
        )

    def for_sale(self, org_id: OrgId, sale_key: str) -> Rows[Refund]:
        """Oldest first."""
        mine = [r for r in self._t.refunds.values() if r.org_id == org_id and r.sale_key == sale_key]
        return Rows(sorted(mine, key=lambda r: (r.created_at, str(r.id))))

    def recent(self, org_id: OrgId, *, limit: int = 50) -> Rows[Refund]:
        """Newest first."""
        mine = [r for r in self._t.refunds.values() if r.org_id == org_id]
        return Rows(sorted(mine, key=lambda r: (-r.created_at.timestamp(), str(r.id)))[:limit])

    def pending(self, org_id: OrgId, *, before: datetime) -> Rows[Refund]:
        """Pending refunds asked for before `before`."""
        mine = [
            r
            for r in self._t.refunds.values()
            if r.org_id == org_id and r.state is RefundState.PENDING and r.created_at < before
        ]
        return Rows(sorted(mine, key=lambda r: (r.created_at, str(r.id))))

    def sales_for_payment(self, org_id: OrgId, payment_intent_id: str) -> list[str]:
        """Packages and bookings whose payment_ref is the PaymentIntent, and sales keyed by it (fees)."""
        found = [
            f"sale:package:{p.id}"
            for p in self._t.packages.values()
            if p.org_id == org_id and p.payment_ref == payment_intent_id
        ]
        found += [
            f"sale:booking:{b.id}"
            for b in self._t.bookings.values()
            if b.org_id == org_id and b.payment_ref == payment_intent_id
        ]
        found += [
            tx.key
            for (org, _), tx in self._t.ledger.items()
            if org == org_id and tx.source_id == payment_intent_id and tx.source_kind.value == "sale"
        ]
        return list(dict.fromkeys(found))

    def remove_credits(self, org_id: OrgId, package_id: PackageId, n: int) -> bool:
        """total - n where that leaves at least what is used (and one credit)."""
        package = self._t.packages.get(package_id)
        if package is None or package.org_id != org_id or package.total - n < max(package.used, 1):
            return False
        self._t.packages[package_id] = attrs.evolve(package, total=package.total - n)
        return True

    def mark_package_refunded(self, org_id: OrgId, package_id: PackageId) -> bool:
        """PAID or FAILED → REFUNDED."""
        package = self._t.packages.get(package_id)
        if package is None or package.org_id != org_id:
            return False
        if package.payment_state not in (PaymentState.PAID, PaymentState.FAILED):
            return False
        self._t.packages[package_id] = attrs.evolve(package, payment_state=PaymentState.REFUNDED)
        return True
