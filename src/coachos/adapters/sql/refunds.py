"""Refunds in SQL; each guarantee is one conditional statement.

- A sale's refunds never pass its gross: `reserve` is one upsert on the sale's `refund_totals` row
  whose UPDATE branch adds the amount only ``WHERE reserved + amount <= gross`` (a CHECK says the same).
  On PostgreSQL the upsert locks the row, so racing refunds of one sale apply in turn, each
  re-checking the sum it sees after the other committed.
- `lock` takes that row lock first (an upsert that changes nothing), so a webhook computing what
  Stripe refunded beyond what we hold sees no other writer until it commits.
- A pending refund is settled once (``WHERE state = 'pending'``); a Stripe refund id is unique.
- A partial refund lowers a package's total only ``WHERE total - n >= used``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from coachos.adapters.sql import _convert as cv
from coachos.adapters.sql.repos import _Repo
from coachos.adapters.sql.tables import bookings, ledger_transactions, packages, refund_totals, refunds
from coachos.domain.catalog import PaymentState
from coachos.domain.errors import Conflict, NotFound
from coachos.domain.ids import OrgId, PackageId
from coachos.domain.money import Money
from coachos.domain.refunds import Refund, RefundState, RefundTotals
from coachos.domain.rows import Rows

_r = refunds
_t = refund_totals


def refund_from(row: Any) -> Refund:
    """The refund a row holds."""
    return Refund(
        id=row.id,
        org_id=OrgId(row.org_id),
        sale_key=row.sale_key,
        amount=Money(int(row.amount_minor), row.currency),
        reason=row.reason,
        state=RefundState(row.state),
        stripe_refund_id=row.stripe_refund_id,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        failure=row.failure,
    )


def _totals(row: Any) -> RefundTotals:
    return RefundTotals(
        gross=int(row.gross_minor),
        reserved=int(row.reserved_minor),
        booked=int(row.booked_minor),
        credits_value=int(row.credits_value_minor),
    )


class SqlRefunds(_Repo):
    """Refunds and refunded sales' sums in SQL."""

    def _upsert(self) -> Any:
        return postgresql.insert if self._c.dialect.name == "postgresql" else sqlite.insert

    def lock(self, org_id: OrgId, sale_key: str, gross: int) -> RefundTotals:
        """An upsert that changes nothing but locks the row (created at zero when new)."""
        stmt = self._upsert()(_t).values(
            org_id=org_id,
            sale_key=sale_key,
            gross_minor=gross,
            reserved_minor=0,
            booked_minor=0,
            credits_value_minor=0,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[_t.c.org_id, _t.c.sale_key], set_={"reserved_minor": _t.c.reserved_minor}
        ).returning(*_t.c)
        return _totals(self._c.execute(stmt).one())

    def reserve(self, org_id: OrgId, sale_key: str, gross: int, amount: int) -> bool:
        """One upsert adding `amount` only where the sum stays within the gross."""
        if not 0 < amount <= gross:
            return False
        stmt = self._upsert()(_t).values(
            org_id=org_id,
            sale_key=sale_key,
            gross_minor=gross,
            reserved_minor=amount,
            booked_minor=0,
            credits_value_minor=0,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[_t.c.org_id, _t.c.sale_key],
            set_={"reserved_minor": _t.c.reserved_minor + amount},
            where=_t.c.reserved_minor + amount <= _t.c.gross_minor,
        ).returning(_t.c.reserved_minor)
        return self._c.execute(stmt).first() is not None

    def release(self, org_id: OrgId, sale_key: str, amount: int) -> None:
        """Give back a reservation."""
        self._c.execute(
            _t.update()
            .where(_t.c.org_id == org_id, _t.c.sale_key == sale_key, _t.c.reserved_minor - amount >= _t.c.booked_minor)
            .values(reserved_minor=_t.c.reserved_minor - amount)
        )

    def book(self, org_id: OrgId, sale_key: str, amount: int, credits_value: int) -> RefundTotals:
        """Count the amount as in the ledger; the sums after."""
        row = self._c.execute(
            _t.update()
            .where(_t.c.org_id == org_id, _t.c.sale_key == sale_key)
            .values(
                booked_minor=_t.c.booked_minor + amount,
                credits_value_minor=_t.c.credits_value_minor + credits_value,
            )
            .returning(*_t.c)
        ).one()
        return _totals(row)

    def totals(self, org_id: OrgId, sale_key: str) -> RefundTotals | None:
        """The sale's sums."""
        row = self._c.execute(sa.select(_t).where(_t.c.org_id == org_id, _t.c.sale_key == sale_key)).first()
        return None if row is None else _totals(row)

    def totals_of(self, org_id: OrgId, sale_keys: list[str]) -> dict[str, RefundTotals]:
        """One query for many sales."""
        if not sale_keys:
            return {}
        rows = self._c.execute(sa.select(_t).where(_t.c.org_id == org_id, _t.c.sale_key.in_(sale_keys)))
        return {row.sale_key: _totals(row) for row in rows}

    def add(self, refund: Refund) -> None:
        """Insert the refund (in a savepoint, so a duplicate Stripe id leaves the transaction usable)."""
        try:
            with self._c.begin_nested():
                self._c.execute(
                    _r.insert().values(
                        id=refund.id,
                        org_id=refund.org_id,
                        sale_key=refund.sale_key,
                        amount_minor=refund.amount.amount_minor,
                        currency=refund.amount.currency,
                        reason=refund.reason,
                        state=refund.state.value,
                        stripe_refund_id=refund.stripe_refund_id,
                        created_by=refund.created_by,
                        created_at=refund.created_at,
                        updated_at=refund.updated_at,
                        failure=refund.failure,
                    )
                )
        except IntegrityError:
            raise Conflict("That Stripe refund is recorded already.") from None

    def get(self, org_id: OrgId, refund_id: UUID) -> Refund:
        """The refund, or NotFound."""
        row = self._c.execute(sa.select(_r).where(_r.c.org_id == org_id, _r.c.id == refund_id)).first()
        if row is None:
            raise NotFound("No such refund in this business.")
        return cv.read(_r, row, refund_from)

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
        """PENDING → `state` by one conditional UPDATE."""
        values: dict[str, Any] = {"state": state.value, "updated_at": at, "failure": failure}
        if stripe_refund_id is not None:
            values["stripe_refund_id"] = stripe_refund_id
        row = self._c.execute(
            _r.update()
            .where(_r.c.org_id == org_id, _r.c.id == refund_id, _r.c.state == RefundState.PENDING.value)
            .values(**values)
            .returning(*_r.c)
        ).one_or_none()
        return None if row is None else cv.read(_r, row, refund_from)

    def by_stripe_id(self, org_id: OrgId, stripe_refund_id: str) -> Refund | None:
        """The refund with that Stripe id."""
        row = self._c.execute(
            sa.select(_r).where(_r.c.org_id == org_id, _r.c.stripe_refund_id == stripe_refund_id)
        ).first()
        return None if row is None else cv.read(_r, row, refund_from)

    def for_sale(self, org_id: OrgId, sale_key: str) -> Rows[Refund]:
        """The sale's refunds, oldest first."""
        q = sa.select(_r).where(_r.c.org_id == org_id, _r.c.sale_key == sale_key).order_by(_r.c.created_at, _r.c.id)
        return cv.read_all(_r, self._c.execute(q), refund_from)

    def recent(self, org_id: OrgId, *, limit: int = 50) -> Rows[Refund]:
        """Newest first."""
        q = sa.select(_r).where(_r.c.org_id == org_id).order_by(_r.c.created_at.desc(), _r.c.id).limit(limit)
        return cv.read_all(_r, self._c.execute(q), refund_from)

    def pending(self, org_id: OrgId, *, before: datetime) -> Rows[Refund]:
        """Pending refunds asked for before `before`."""
        q = (
            sa.select(_r)
            .where(_r.c.org_id == org_id, _r.c.state == RefundState.PENDING.value, _r.c.created_at < before)
            .order_by(_r.c.created_at, _r.c.id)
        )
        return cv.read_all(_r, self._c.execute(q), refund_from)

    def sales_for_payment(self, org_id: OrgId, payment_intent_id: str) -> list[str]:
        """Packages and bookings whose payment_ref is the PaymentIntent, and sales keyed by it (fees)."""
        p, b, t = packages.c, bookings.c, ledger_transactions.c
        found = [
            f"sale:package:{i}"
            for i in self._c.execute(
                sa.select(p.id).where(p.org_id == org_id, p.payment_ref == payment_intent_id)
            ).scalars()
        ]
        found += [
            f"sale:booking:{i}"
            for i in self._c.execute(
                sa.select(b.id).where(b.org_id == org_id, b.payment_ref == payment_intent_id)
            ).scalars()
        ]
        found += list(
            self._c.execute(
                sa.select(t.key).where(t.org_id == org_id, t.source_id == payment_intent_id, t.source_kind == "sale")
            ).scalars()
        )
        return list(dict.fromkeys(found))

    def remove_credits(self, org_id: OrgId, package_id: PackageId, n: int) -> bool:
        """total - n, only where that leaves at least what is used."""
        p = packages.c
        row = self._c.execute(
            packages.update()
            .where(p.org_id == org_id, p.id == package_id, p.total - n >= p.used, p.total - n >= 1)
            .values(total=p.total - n)
            .returning(p.id)
        ).one_or_none()
        return row is not None

    def mark_package_refunded(self, org_id: OrgId, package_id: PackageId) -> bool:
        """PAID or FAILED (paused) → REFUNDED."""
        p = packages.c
        row = self._c.execute(
            packages.update()
            .where(
                p.org_id == org_id,
                p.id == package_id,
                p.payment_state.in_([PaymentState.PAID.value, PaymentState.FAILED.value]),
            )
            .values(payment_state=PaymentState.REFUNDED.value)
            .returning(p.id)
        ).one_or_none()
        return row is not None
