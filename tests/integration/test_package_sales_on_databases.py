"""Package sales on SQLite and PostgreSQL: the unit tests again, and racing webhooks paying a package once."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from coachos import CoachOS, Settings, bootstrap
from coachos.adapters.clock import FixedClock, RandomIds
from coachos.adapters.payments import MemoryPayments
from coachos.adapters.security import MemoryEmail, fast_test_hasher
from coachos.adapters.sql.tables import ledger_transactions, packages
from coachos.adapters.sql.uow import SqlUnitOfWork
from coachos.domain.catalog import PaymentState
from coachos.domain.usecases import ReceiveStripeEvent, StripeEventReceived
from coachos.domain.usecases.package_sales import sale_key
from coachos.ports.storage import UnitOfWork
from tests.helpers import World, add_client
from tests.integration.test_concurrency import race
from tests.integration.test_stripe_events_on_databases import count
from tests.unit.test_package_sales import (  # noqa: F401  # collected again with this folder's `app`
    TestCheckout,
    TestExpiryAcrossBusinesses,
    TestForgedEvents,
    TestOffers,
    TestRecognition,
    TestSellByHand,
    TestStripeFee,
    TestWebhooks,
    buy,
    checkout_event,
    connect,
    offer,
)


@pytest.fixture
def payments() -> MemoryPayments:
    """The recording payments fake."""
    return MemoryPayments()


@pytest.fixture
def app(engine: Engine, clock: FixedClock, mail: MemoryEmail, payments: MemoryPayments) -> Iterator[CoachOS]:
    """Coach OS on a real database with card payments on (the fake provider)."""

    def uow() -> UnitOfWork:
        return SqlUnitOfWork(engine)

    with bootstrap(
        Settings(database_url="memory://"),
        uow=uow,
        clock=clock,
        ids=RandomIds(),
        hasher=fast_test_hasher(),
        email=mail,
        payments=payments,
    ) as built:
        yield built


def _pending(app: CoachOS, world: World) -> uuid.UUID:
    connect(app, world)
    client = add_client(app, world)
    return buy(app, world, client.id, offer(app, world).id).package.id  # type: ignore[no-any-return]


class TestRacingWebhooks:
    def test_fifty_copies_of_one_completed_event_pay_once(self, engine: Engine, app: CoachOS, world: World) -> None:
        """The same checkout.session.completed delivered 50 times at once: one event row, one PAID, one sale."""
        package_id = _pending(app, world)
        body = checkout_event("checkout.session.completed", package_id, world)
        results = race([lambda: app.execute(ReceiveStripeEvent(body=body)) for _ in range(50)])
        assert all(isinstance(r, StripeEventReceived) for r in results)
        assert sum(1 for r in results if isinstance(r, StripeEventReceived) and r.new) == 1
        assert count(engine, packages, packages.c.id == package_id, packages.c.payment_state == "paid") == 1
        key = sale_key(package_id)
        assert count(engine, ledger_transactions, ledger_transactions.c.key == key) == 1

    def test_forty_different_events_for_one_payment_pay_once(self, engine: Engine, app: CoachOS, world: World) -> None:
        """40 completed and async_payment_succeeded events (each its own id) racing: PAID once, one sale."""
        package_id = _pending(app, world)
        kinds = ["checkout.session.completed", "checkout.session.async_payment_succeeded"]
        bodies = [checkout_event(kinds[i % 2], package_id, world) for i in range(40)]
        results = race([lambda b=b: app.execute(ReceiveStripeEvent(body=b)) for b in bodies])
        assert all(isinstance(r, StripeEventReceived) and r.new for r in results)
        with app.deps.uow() as uow:
            assert uow.packages.get(world.org.id, package_id).payment_state is PaymentState.PAID
        assert count(engine, ledger_transactions, ledger_transactions.c.key == sale_key(package_id)) == 1

    def test_rows_read_back_as_stored(self, engine: Engine, app: CoachOS, world: World) -> None:
        """A paid package keeps its method, paid time and payment reference on the database."""
        package_id = _pending(app, world)
        body = checkout_event("checkout.session.completed", package_id, world)
        app.execute(ReceiveStripeEvent(body=body))
        with app.deps.uow() as uow:
            paid = uow.packages.get(world.org.id, package_id)
        assert paid.payment_ref == json.loads(body)["data"]["object"]["payment_intent"]
        assert paid.paid_at is not None
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SET LOCAL ROLE NONE"))
            method = conn.execute(sa.select(packages.c.payment_method).where(packages.c.id == package_id)).scalar_one()
        assert method == "card"
