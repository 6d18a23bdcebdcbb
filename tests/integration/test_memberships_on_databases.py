"""Memberships on SQLite and PostgreSQL: the unit tests again, and racing deliveries granting once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from coachos import CoachOS, Settings, bootstrap
from coachos.adapters.clock import FixedClock, RandomIds
from coachos.adapters.security import MemoryEmail, fast_test_hasher
from coachos.adapters.sql import migrate
from coachos.adapters.sql.engine import Timeouts, make_engine
from coachos.adapters.sql.tables import ledger_transactions, membership_periods, packages
from coachos.adapters.sql.tenancy import APP_ROLE, ORG_SETTING
from coachos.adapters.sql.uow import SqlUnitOfWork
from coachos.domain.catalog import PaymentState
from coachos.domain.memberships import GRACE_PERIOD, MembershipStatus, period_package_id
from coachos.domain.usecases import PauseLapsedMemberships, ReceiveStripeEvent, StripeEventReceived
from coachos.domain.usecases.package_sales import sale_key
from tests.helpers import World, make_world
from tests.integration.conftest import PostgresDatabases
from tests.integration.test_concurrency import race
from tests.integration.test_stripe_events_on_databases import count
from tests.unit.test_memberships import (  # noqa: F401  # collected again with this folder's `app`
    CREATED,
    TestCancel,
    TestCancelWhenStripeHasNone,
    TestCheckout,
    TestFailedPayment,
    TestForgedEvents,
    TestPaidInvoice,
    TestPlanNames,
    TestPlans,
    TestStripeFeeOnInvoices,
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


@pytest.fixture
def patient(pg_databases: PostgresDatabases, clock: FixedClock, mail: MemoryEmail) -> Iterator[tuple[Engine, CoachOS]]:
    """Coach OS on a fresh PostgreSQL database whose lock and pool waits are long enough for fifty threads.

    Fifty copies wait on the first delivery's transaction, whose Python work shares two cores (and the
    GIL) with the other forty-nine threads; with production's 3-second lock timeout a slow machine could
    answer some copies 503 (Stripe would redeliver them, still exactly once). The guarantee tested here is
    the once, so the waits are given room.
    """
    url = pg_databases.create()
    owner = make_engine(url)
    try:
        migrate.upgrade(owner)
    finally:
        owner.dispose()
    engine = make_engine(url, pool_size=30, role=APP_ROLE, timeouts=Timeouts(lock=60.0, pool=60.0, statement=60.0))
    with bootstrap(
        Settings(database_url="memory://"),
        uow=lambda: SqlUnitOfWork(engine),
        clock=clock,
        ids=RandomIds(),
        hasher=fast_test_hasher(),
        email=mail,
    ) as built:
        yield engine, built
    engine.dispose()


@pytest.mark.postgres
class TestRacingInvoices:
    def test_fifty_copies_of_invoice_paid_grant_once(self, patient: tuple[Engine, CoachOS], clock: FixedClock) -> None:
        """The same invoice.paid fifty times at once on separate connections: all acknowledged, one grant, one sale."""
        engine, app = patient
        world = make_world(app)
        member = join(app, world, clock)
        body = event("invoice.paid", member.invoice("in_race"))
        results = race([lambda: deliver(app, body) for _ in range(50)])
        assert [r for r in results if not isinstance(r, StripeEventReceived)] == []
        invoice_id = member.iid("in_race")
        assert count(engine, membership_periods, membership_periods.c.invoice_id == invoice_id) == 1
        assert count(engine, packages, packages.c.payment_ref == invoice_id) == 1
        key = sale_key(period_package_id(world.org.id, invoice_id))
        assert count(engine, ledger_transactions, ledger_transactions.c.key == key) == 1

    def test_paid_and_payment_succeeded_racing_grant_once(
        self, patient: tuple[Engine, CoachOS], clock: FixedClock
    ) -> None:
        """invoice.paid and invoice.payment_succeeded (different event ids) for one invoice, 25 copies each at once."""
        engine, app = patient
        world = make_world(app)
        member = join(app, world, clock)
        paid = event("invoice.paid", member.invoice("in_twin"))
        succeeded = event("invoice.payment_succeeded", member.invoice("in_twin"))
        results = race([lambda b=b: deliver(app, b) for b in [paid, succeeded] * 25])
        assert [r for r in results if not isinstance(r, StripeEventReceived)] == []
        assert sum(1 for r in results if isinstance(r, StripeEventReceived) and r.new) == 2
        invoice_id = member.iid("in_twin")
        assert count(engine, packages, packages.c.payment_ref == invoice_id) == 1
        key = sale_key(period_package_id(world.org.id, invoice_id))
        assert count(engine, ledger_transactions, ledger_transactions.c.key == key) == 1


@pytest.mark.postgres
@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
class TestIsolation:
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
