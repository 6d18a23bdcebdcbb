"""The membership routes again on PostgreSQL (a fresh migrated database per test, as the app role)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from coachos import CoachOS, Settings, bootstrap
from coachos.adapters.clock import FixedClock, RandomIds
from coachos.adapters.payments import MemoryPayments
from coachos.adapters.security import MemoryEmail, fast_test_hasher
from coachos.adapters.sql.uow import SqlUnitOfWork
from tests.integration.conftest import PostgresDatabases, app_engine
from tests.web.test_membership_routes import (  # noqa: F401  # collected again with this folder's `core`
    TestCoachPages,
    TestLogs,
    TestPortal,
    TestWebhook,
    logs,
    payments,
    person,
    web,
    world,
)

pytestmark = pytest.mark.postgres


@pytest.fixture
def core(
    pg_databases: PostgresDatabases,
    clock: FixedClock,
    mail: MemoryEmail,
    payments: MemoryPayments,  # noqa: F811  # the fixture imported above
) -> Iterator[CoachOS]:
    """Coach OS on a new migrated PostgreSQL database, as the app role, with card payments on (the fake)."""
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
