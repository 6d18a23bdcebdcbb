"""Plans, subscriptions and platform invoices in SQL; each guarantee is one conditional statement.

- A subscription is stored by one upsert on the business (`INSERT … ON CONFLICT (org_id) DO UPDATE …
  WHERE …`): the same subscription is replaced only by a newer event or its cancellation (however
  old), and never once cancelled; a
  different subscription replaces it only when it is live and the stored one is not, or is older.
  On PostgreSQL the upsert locks the row, so racing events apply in turn, each re-checking the rule.
- An invoice is kept as paid by an upsert that sets `paid_at` only where it is NULL; the coach is
  told of a failed payment by whoever's upsert set `failure_noticed_at` from NULL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from coachos.adapters.sql import _convert as cv
from coachos.adapters.sql.repos import _Repo
from coachos.adapters.sql.tables import (
    ledger_entries,
    ledger_transactions,
    org_subscriptions,
    organizations,
    platform_invoices,
    platform_plans,
)
from coachos.adapters.sql.tenancy import read_for_operator_across_orgs
from coachos.domain.ids import OrgId
from coachos.domain.ledger import Account
from coachos.domain.money import Money
from coachos.domain.platform import (
    CANCELED,
    LIVE_STATUSES,
    OrgSubscription,
    PlatformInvoice,
    PlatformPlan,
    RevenueReport,
    revenue_report,
)
from coachos.domain.rows import Rows

_s = org_subscriptions
_i = platform_invoices


def plan_from(row: Any) -> PlatformPlan:
    """The plan a row holds."""
    return PlatformPlan(
        key=row.key, name=row.name, monthly_price=Money(int(row.price_minor), row.currency), fee_bps=int(row.fee_bps)
    )


def subscription_from(row: Any) -> OrgSubscription:
    """The subscription a row holds."""
    return OrgSubscription(
        org_id=OrgId(row.org_id),
        plan_key=row.plan_key,
        subscription_id=row.subscription_id,
        status=row.status,
        current_period_end=row.current_period_end,
        status_at=row.status_at,
    )


def invoice_from(row: Any) -> PlatformInvoice:
    """The invoice a row holds."""
    return PlatformInvoice(
        invoice_id=row.invoice_id,
        org_id=OrgId(row.org_id),
        subscription_id=row.subscription_id,
        amount=Money(int(row.amount_minor), row.currency),
        paid_at=row.paid_at,
    )


class SqlPlatform(_Repo):
    """Plans, subscriptions and platform invoices in SQL."""

    def _upsert(self) -> Any:
        return postgresql.insert if self._c.dialect.name == "postgresql" else sqlite.insert

    def plans(self) -> Rows[PlatformPlan]:
        """Every plan that can be read, cheapest first (the others named as unreadable)."""
        q = sa.select(platform_plans).order_by(platform_plans.c.price_minor, platform_plans.c.key)
        return cv.read_all(platform_plans, self._c.execute(q), plan_from, key="key")

    def plan(self, key: str) -> PlatformPlan | None:
        """The plan with `key`; CorruptRecord if its row cannot be read."""
        row = self._c.execute(sa.select(platform_plans).where(platform_plans.c.key == key)).first()
        return None if row is None else cv.read(platform_plans, row, plan_from, key="key")

    def subscription(self, org_id: OrgId) -> OrgSubscription | None:
        """The business's subscription; CorruptRecord if its row cannot be read."""
        row = self._c.execute(sa.select(_s).where(_s.c.org_id == org_id)).first()
        return None if row is None else cv.read(_s, row, subscription_from, key="org_id")

    def apply_subscription(self, sub: OrgSubscription) -> bool:
        """One upsert whose WHERE holds the rule (newer only, cancelled final, a new live one replaces)."""
        stmt = self._upsert()(_s).values(
            org_id=sub.org_id,
            plan_key=sub.plan_key,
            subscription_id=sub.subscription_id,
            status=sub.status,
            current_period_end=sub.current_period_end,
            status_at=sub.status_at,
        )
        new = stmt.excluded
        live = sorted(LIVE_STATUSES)
        same = sa.and_(
            _s.c.subscription_id == new.subscription_id,
            _s.c.status != CANCELED,
            sa.or_(_s.c.status_at < new.status_at, new.status == CANCELED),
        )
        other = sa.and_(
            _s.c.subscription_id != new.subscription_id,
            new.status.in_(live),
            sa.or_(_s.c.status.not_in(live), _s.c.status_at < new.status_at),
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[_s.c.org_id],
            set_={c: new[c] for c in ("plan_key", "subscription_id", "status", "current_period_end", "status_at")},
            where=sa.or_(same, other),
        ).returning(_s.c.org_id)
        return self._c.execute(stmt).first() is not None

    def record_invoice(self, invoice: PlatformInvoice) -> bool:
        """Insert the invoice as paid, or set `paid_at` on a row kept unpaid (after a failure); never twice."""
        stmt = self._upsert()(_i).values(
            invoice_id=invoice.invoice_id,
            org_id=invoice.org_id,
            subscription_id=invoice.subscription_id,
            amount_minor=invoice.amount.amount_minor,
            currency=invoice.amount.currency,
            paid_at=invoice.paid_at,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[_i.c.invoice_id],
            set_={
                "paid_at": stmt.excluded.paid_at,
                "amount_minor": stmt.excluded.amount_minor,
                "currency": stmt.excluded.currency,
            },
            where=sa.and_(_i.c.paid_at.is_(None), _i.c.org_id == stmt.excluded.org_id),
        ).returning(_i.c.invoice_id)
        return self._c.execute(stmt).first() is not None

    def invoices(self, org_id: OrgId) -> Rows[PlatformInvoice]:
        """The business's paid invoices, newest first (unreadable ones named, not shown)."""
        q = (
            sa.select(_i)
            .where(_i.c.org_id == org_id, _i.c.paid_at.is_not(None))
            .order_by(_i.c.paid_at.desc(), _i.c.invoice_id)
        )
        return cv.read_all(_i, self._c.execute(q), invoice_from, key="invoice_id")

    def claim_failure_notice(self, org_id: OrgId, invoice_id: str, amount: Money, at: datetime) -> bool:
        """Insert or update the invoice's row setting `failure_noticed_at` only from NULL; True if this call set it."""
        stmt = self._upsert()(_i).values(
            invoice_id=invoice_id,
            org_id=org_id,
            amount_minor=amount.amount_minor,
            currency=amount.currency,
            failure_noticed_at=at,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[_i.c.invoice_id],
            set_={"failure_noticed_at": stmt.excluded.failure_noticed_at},
            where=sa.and_(_i.c.failure_noticed_at.is_(None), _i.c.org_id == stmt.excluded.org_id),
        ).returning(_i.c.invoice_id)
        return self._c.execute(stmt).first() is not None

    def revenue_report(self) -> RevenueReport:
        """Three grouped queries across businesses (subscriptions and ledger lines read under the operator flag)."""
        plans = {p.key: p for p in self.plans()}
        with read_for_operator_across_orgs(self._c):
            subs = self._c.execute(
                sa.select(_s.c.plan_key, _s.c.status, sa.func.count()).group_by(_s.c.plan_key, _s.c.status)
            ).all()
            month = (
                sa.func.to_char(sa.func.timezone("UTC", ledger_transactions.c.occurred_at), "YYYY-MM")
                if self._c.dialect.name == "postgresql"
                else sa.func.strftime("%Y-%m", ledger_transactions.c.occurred_at)
            ).label("month")
            fees = self._c.execute(
                sa.select(month, ledger_entries.c.currency, sa.func.sum(ledger_entries.c.amount_minor))
                .select_from(
                    ledger_entries.join(
                        ledger_transactions,
                        sa.and_(
                            ledger_transactions.c.id == ledger_entries.c.transaction_id,
                            ledger_transactions.c.org_id == ledger_entries.c.org_id,
                        ),
                    )
                )
                .where(ledger_entries.c.account == Account.PLATFORM_FEES.value)
                .group_by(month, ledger_entries.c.currency)
                .order_by(month, ledger_entries.c.currency)
            ).all()
        orgs = int(self._c.execute(sa.select(sa.func.count()).select_from(organizations)).scalar_one())
        return revenue_report(plans, [(k, s, int(n)) for k, s, n in subs], orgs, [(m, c, int(a)) for m, c, a in fees])
