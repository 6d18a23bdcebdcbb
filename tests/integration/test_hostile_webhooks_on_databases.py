"""Hostile and odd Stripe events on SQLite and PostgreSQL: the unit tests again on real databases (another
account's events change nothing; an event no handler can apply is kept after its effects are rolled back)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from coachos import CoachOS, Settings, bootstrap
from coachos.adapters.clock import FixedClock, RandomIds
from coachos.adapters.payments import MemoryPayments
from coachos.adapters.security import MemoryEmail, fast_test_hasher
from coachos.adapters.sql.uow import SqlUnitOfWork
from coachos.ports.storage import UnitOfWork
from tests.unit.test_hostile_webhooks import (  # noqa: F401  # collected again with this folder's `app`
    TestAnotherAccountsEvents,
    TestOddEvents,
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
