"""Stripe events on SQLite and PostgreSQL: the unit tests again, fifty racing deliveries, accounts' isolation."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from coachos import CoachOS
from coachos.adapters.clock import FixedClock
from coachos.adapters.sql.tables import stripe_accounts, stripe_events
from coachos.adapters.sql.tenancy import ORG_SETTING
from coachos.domain.stripe_events import StripeAccount, StripeEvent
from coachos.domain.usecases import STRIPE_HANDLERS, ReceiveStripeEvent, StripeEventReceived
from coachos.domain.usecases._base import Deps
from coachos.ports.storage import UnitOfWork
from tests.helpers import World, make_world
from tests.integration.test_concurrency import race
from tests.unit.test_stripe_events import (  # noqa: F401  # collected again with this folder's `app`
    TestAccountUpdated,
    TestHandlerFailure,
    TestReceiveStripeEvent,
    account_event,
    event_body,
    event_id,
    failing_handler,
    fresh_account,
    link,
)

#: A type whose test handler counts how many times it ran, through the database.
COUNTED = "coachos_test.counted"


def count(engine: Engine, table: sa.Table, *where: sa.ColumnElement[bool]) -> int:
    """Rows of `table` as the owner sees them (past row-level security)."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SET LOCAL ROLE NONE"))
        return int(conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one())


@pytest.fixture
def counted() -> Iterator[None]:
    """A handler that records each run as an account.updated-like change (its effect is countable)."""

    def effect(uow: UnitOfWork, deps: Deps, event: StripeEvent) -> None:
        owner = uow.stripe.account_owner(str(event.account))
        assert owner is not None
        uow.stripe.link_account(owner, f"acct_effect{event.id.removeprefix('evt_')[:20]}", deps.clock.now())

    STRIPE_HANDLERS[COUNTED] = [effect]
    try:
        yield
    finally:
        del STRIPE_HANDLERS[COUNTED]


def deliver(app: CoachOS, body: str) -> StripeEventReceived:
    return app.execute(ReceiveStripeEvent(body=body))


@pytest.mark.postgres
@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
class TestRacingDeliveries:
    def test_fifty_deliveries_of_one_event_keep_it_once_and_apply_it_once(
        self, engine: Engine, app: CoachOS, world: World, clock: FixedClock, counted: None
    ) -> None:
        """Fifty transactions taking in one event at once, each on its own connection: one row, one effect."""
        account = fresh_account()
        link(app, world, account, clock)
        body = event_body(COUNTED, account=account)
        results = race([lambda: deliver(app, body) for _ in range(50)])
        assert all(isinstance(r, StripeEventReceived) for r in results)
        assert sum(1 for r in results if isinstance(r, StripeEventReceived) and r.new) == 1
        assert count(engine, stripe_events, stripe_events.c.id == event_id(body)) == 1
        effect = f"acct_effect{event_id(body).removeprefix('evt_')[:20]}"
        assert count(engine, stripe_accounts, stripe_accounts.c.account_id == effect) == 1

    def test_fifty_account_updates_out_of_order_leave_the_newest(
        self, engine: Engine, app: CoachOS, world: World, clock: FixedClock
    ) -> None:
        """Fifty account.updated events racing: the state is the newest event's, whatever order they commit in."""
        account = fresh_account()
        link(app, world, account, clock)
        base = 1_772_355_600
        # Only the newest says charges are enabled.
        bodies = [account_event(account, charges=i == 49, created=base + i) for i in range(50)]
        results = race([lambda b=b: deliver(app, b) for b in reversed(bodies)])
        assert all(isinstance(r, StripeEventReceived) and r.new for r in results)
        with app.deps.uow() as uow:
            status = uow.stripe.account(world.org.id)
        assert status is not None
        assert status.charges_enabled
        assert status.status_at is not None
        assert int(status.status_at.timestamp()) == base + 49


@pytest.mark.postgres
@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
class TestAccountsIsolation:
    def test_another_business_sees_no_connected_account(
        self, engine: Engine, app: CoachOS, world: World, clock: FixedClock
    ) -> None:
        """Row-level security: a transaction for one business neither sees nor changes another's accounts."""
        other = make_world(app)
        mine, theirs = fresh_account(), fresh_account()
        link(app, world, mine, clock)
        link(app, other, theirs, clock)
        with engine.connect() as conn, conn.begin():
            conn.execute(sa.select(sa.func.set_config(ORG_SETTING, str(world.org.id), True)))
            seen = set(conn.execute(sa.select(stripe_accounts.c.account_id)).scalars())
            assert mine in seen
            assert theirs not in seen
        with engine.connect() as conn, conn.begin():
            conn.execute(sa.select(sa.func.set_config(ORG_SETTING, str(world.org.id), True)))
            changed = conn.execute(
                stripe_accounts.update().where(stripe_accounts.c.account_id == theirs).values(charges_enabled=True)
            )
            assert changed.rowcount == 0

    def test_the_owner_is_found_across_businesses_only_by_the_lookup(
        self, app: CoachOS, world: World, clock: FixedClock
    ) -> None:
        """The webhook finds the business of an account without naming one first."""
        account = fresh_account()
        link(app, world, account, clock)
        with app.deps.uow() as uow:
            assert uow.stripe.account_owner(account) == world.org.id
            assert uow.stripe.account(world.org.id) is not None


def test_account_rows_hold_what_was_stored(app: CoachOS, world: World, clock: FixedClock) -> None:
    """A stored status reads back equal (times in UTC) on both databases."""
    account = fresh_account()
    link(app, world, account, clock)
    status = StripeAccount(
        org_id=world.org.id,
        account_id=account,
        charges_enabled=True,
        details_submitted=False,
        status_at=clock.now(),
        updated_at=clock.now(),
    )
    with app.deps.uow() as uow:
        assert uow.stripe.update_account(status)
        assert not uow.stripe.update_account(status)
        uow.commit()
    with app.deps.uow() as uow:
        assert uow.stripe.account(world.org.id) == status
