"""The pay-at-booking routes again on PostgreSQL as the app role (row-level security on)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from coachos import CoachOS, Settings, bootstrap
from coachos.adapters.clock import FixedClock, RandomIds
from coachos.adapters.payments import MemoryPayments
from coachos.adapters.security import MemoryEmail, fast_test_hasher
from coachos.adapters.sql.uow import SqlUnitOfWork
from tests.integration.conftest import PostgresDatabases, app_engine
from tests.web.test_booking_hold_routes import (  # noqa: F401  # the same tests and fixtures, collected here
    TestFeePolicyOnTheForm,
    TestLogsOfTheFlow,
    TestPayAtBookingRoutes,
    logs,
    payments,
    setup,
    web,
)

pytestmark = pytest.mark.postgres


@pytest.fixture
def core(
    pg_databases: PostgresDatabases,
    clock: FixedClock,
    mail: MemoryEmail,
    payments: MemoryPayments,  # noqa: F811  # the imported fixture, requested by name
) -> Iterator[CoachOS]:
    """Coach OS with card payments on a new migrated PostgreSQL database, as the app role."""
    engine = app_engine(pg_databases.create(), pool_size=5)
    with bootstrap(
        Settings(database_url="memory://"),
        uow=lambda: SqlUnitOfWork(engine),
        clock=clock,
        ids=RandomIds(),
        hasher=fast_test_hasher(),
        email=mail,
        payments=payments,
    ) as built:
        yield built
    engine.dispose()
