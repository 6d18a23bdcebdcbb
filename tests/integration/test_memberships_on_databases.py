"""Memberships on SQLite and PostgreSQL: the unit tests again, and racing deliveries granting once."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from coachos import CoachOS
from coachos.adapters.clock import FixedClock
from coachos.adapters.sql.tables import ledger_transactions, membership_periods, packages
from coachos.adapters.sql.tenancy import ORG_SETTING
from coachos.domain.catalog import PaymentState
from coachos.domain.memberships import GRACE_PERIOD, MembershipStatus
from coachos.domain.usecases import PauseLapsedMemberships, ReceiveStripeEvent, StripeEventReceived
from tests.helpers import World, make_world
from tests.integration.test_concurrency import race
from tests.integration.test_stripe_events_on_databases import count
from tests.unit.test_memberships import (  # noqa: F401  # collected again with this folder's `app`
    CREATED,
    TestCancel,
    TestCheckout,
    TestPaidInvoice,
    TestPlans,
    TestSubscriptionEvents,
    event,
    join,
    membership,
    paying,
    payments,
    period_packages,
)


def deliver(app: CoachOS, body: str) -> StripeEventReceived:
    return app.execute(ReceiveStripeEvent(body=body))


class TestGraceOnDatabases:
    def test_grace_then_pause_then_paid_again(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """A failed renewal, grace running out, the worker pausing, then a paid invoice: credits stop, then return."""
        member = join(app, world, clock)
        deliver(app, event("invoice.paid", member.invoice("in_a")))
        deliver(app, event("invoice.payment_failed", member.invoice("in_b"), created=CREATED + 60))
        assert membership(app, member).status is MembershipStatus.PAST_DUE
        clock.advance(GRACE_PERIOD + timedelta(seconds=1))
        assert app.execute(PauseLapsedMemberships()) >= 1
        assert membership(app, member).status is MembershipStatus.PAUSED
        assert [p.payment_state for p in period_packages(app, member)] == [PaymentState.FAILED]
        deliver(app, event("invoice.paid", member.invoice("in_b"), created=CREATED + 7200))
        assert membership(app, member).status is MembershipStatus.ACTIVE
        assert {p.payment_state for p in period_packages(app, member)} == {PaymentState.PAID}
        assert len(period_packages(app, member)) == 2


@pytest.mark.postgres
@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
class TestRacingInvoices:
    def test_fifty_copies_of_invoice_paid_grant_once(
        self, engine: Engine, app: CoachOS, world: World, clock: FixedClock
    ) -> None:
        """The same invoice.paid fifty times at once on separate connections: all acknowledged, one grant, one sale."""
        member = join(app, world, clock)
        body = event("invoice.paid", member.invoice("in_race"))
        results = race([lambda: deliver(app, body) for _ in range(50)])
        assert all(isinstance(r, StripeEventReceived) for r in results)
        invoice_id = member.iid("in_race")
        assert count(engine, membership_periods, membership_periods.c.invoice_id == invoice_id) == 1
        assert count(engine, packages, packages.c.payment_ref == invoice_id) == 1
        key = f"sale:invoice:{invoice_id}"
        assert count(engine, ledger_transactions, ledger_transactions.c.key == key) == 1

    def test_paid_and_payment_succeeded_racing_grant_once(
        self, engine: Engine, app: CoachOS, world: World, clock: FixedClock
    ) -> None:
        """invoice.paid and invoice.payment_succeeded (different event ids) for one invoice, 25 copies each at once."""
        member = join(app, world, clock)
        paid = event("invoice.paid", member.invoice("in_twin"))
        succeeded = event("invoice.payment_succeeded", member.invoice("in_twin"))
        results = race([lambda b=b: deliver(app, b) for b in [paid, succeeded] * 25])
        assert all(isinstance(r, StripeEventReceived) for r in results)
        assert sum(1 for r in results if isinstance(r, StripeEventReceived) and r.new) == 2
        invoice_id = member.iid("in_twin")
        assert count(engine, packages, packages.c.payment_ref == invoice_id) == 1
        key = f"sale:invoice:{invoice_id}"
        assert count(engine, ledger_transactions, ledger_transactions.c.key == key) == 1

    def test_another_business_sees_no_membership(
        self, engine: Engine, app: CoachOS, world: World, clock: FixedClock
    ) -> None:
        """Row-level security: a transaction for another business sees none of this one's memberships."""
        member = join(app, world, clock)
        other = make_world(app)
        with engine.connect() as conn, conn.begin():
            conn.execute(sa.select(sa.func.set_config(ORG_SETTING, str(other.org.id), True)))
            seen = conn.execute(
                sa.text("SELECT count(*) FROM memberships WHERE id = :id"), {"id": member.membership_id}
            )
            assert seen.scalar_one() == 0
