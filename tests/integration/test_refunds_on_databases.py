"""Refunds on SQLite and PostgreSQL: the unit tests again, racing refunds that never pass the sale, and the
same charge.refunded delivered twenty times at once recorded once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from coachos import CoachOS, Money, Settings, bootstrap
from coachos.adapters.clock import FixedClock, RandomIds
from coachos.adapters.payments import MemoryPayments
from coachos.adapters.security import MemoryEmail, fast_test_hasher
from coachos.adapters.sql.tables import ledger_transactions, refund_totals, refunds
from coachos.adapters.sql.uow import SqlUnitOfWork
from coachos.domain.usecases import ReceiveStripeEvent, RefundPayment, StripeEventReceived
from coachos.domain.usecases.package_sales import sale_key
from coachos.ports.storage import UnitOfWork
from tests.helpers import World
from tests.integration.test_concurrency import race
from tests.integration.test_stripe_events_on_databases import count
from tests.unit.test_refunds import (  # noqa: F401  # collected again with this folder's `app`
    TestDisputes,
    TestRefundByCard,
    TestRefundByHand,
    TestRefundsMadeInStripe,
    card_pack,
    cash_pack,
    charge_refunded,
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


def _sum(engine: Engine, key: str) -> int:
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SET LOCAL ROLE NONE"))
        total = conn.execute(
            sa.select(sa.func.coalesce(sa.func.sum(refunds.c.amount_minor), 0)).where(
                refunds.c.sale_key == key, refunds.c.state != "failed"
            )
        ).scalar_one()
    return int(total)


class TestRacingRefunds:
    def test_racing_refunds_never_pass_the_sale(self, engine: Engine, app: CoachOS, world: World) -> None:
        """Twelve coaches refunding 30.00 of a 100.00 card sale at once: three succeed, the rest are refused."""
        pack = card_pack(app, world, app.deps.payments)  # type: ignore[arg-type]
        key = sale_key(pack.id)

        def one() -> object:
            return app.execute(
                RefundPayment(org_id=world.org.id, sale_key=key, amount=Money(3000, "USD"), actor=world.me)
            )

        results = race([one for _ in range(12)])
        done = [r for r in results if not isinstance(r, Exception)]
        assert len(done) == 3
        assert _sum(engine, key) == 9000
        assert (
            count(
                engine,
                ledger_transactions,
                ledger_transactions.c.org_id == world.org.id,
                ledger_transactions.c.source_kind == "refund",
            )
            == 3
        )
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SET LOCAL ROLE NONE"))
            reserved = conn.execute(sa.select(refund_totals.c.reserved_minor).where(refund_totals.c.sale_key == key))
            assert reserved.scalar_one() == 9000

    def test_racing_full_cash_refunds_refund_once(self, engine: Engine, app: CoachOS, world: World) -> None:
        """Ten double-clicks of "refund all" on a cash sale: one refund of the whole, one ledger refund."""
        pack = cash_pack(app, world)
        key = sale_key(pack.id)
        results = race(
            [
                lambda: app.execute(RefundPayment(org_id=world.org.id, sale_key=key, amount=None, actor=world.me))
                for _ in range(10)
            ]
        )
        assert sum(1 for r in results if not isinstance(r, Exception)) == 1
        assert _sum(engine, key) == 10000
        sums = app.read(lambda uow: uow.refunds.totals_of(world.org.id, [key, "sale:package:none"]))
        assert [(k, t.reserved, t.booked) for k, t in sums.items()] == [(key, 10000, 10000)]


class TestRacingWebhooks:
    def test_twenty_copies_of_one_charge_refunded_record_once(self, engine: Engine, app: CoachOS, world: World) -> None:
        """The same charge.refunded 20 times at once: all answered, one refund, one ledger refund."""
        pack = card_pack(app, world, app.deps.payments)  # type: ignore[arg-type]
        key = sale_key(pack.id)
        body = charge_refunded(world, pack, 4000, [("re_race_" + str(pack.id)[:8], 4000)])
        results = race([lambda: app.execute(ReceiveStripeEvent(body=body)) for _ in range(20)])
        assert all(isinstance(r, StripeEventReceived) for r in results)
        assert count(engine, refunds, refunds.c.sale_key == key) == 1
        assert _sum(engine, key) == 4000
        tx = ledger_transactions.c
        assert count(engine, ledger_transactions, tx.org_id == world.org.id, tx.source_kind == "refund") == 1
