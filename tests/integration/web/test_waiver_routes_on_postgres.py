"""The waiver signing page and panel again on PostgreSQL (a fresh migrated database per test, as the app role)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from coachos import CoachOS, Settings, bootstrap
from coachos.adapters.clock import FixedClock, RandomIds
from coachos.adapters.links import SignedLinks
from coachos.adapters.security import MemoryEmail, fast_test_hasher
from coachos.adapters.sql.uow import SqlUnitOfWork
from tests.integration.conftest import PostgresDatabases, app_engine
from tests.web.test_waiver_routes import (  # noqa: F401  # collected again with this module's `core`
    SECRET,
    TestSigningPage,
    TestWaiversPanel,
)

pytestmark = pytest.mark.postgres


@pytest.fixture
def core(pg_databases: PostgresDatabases, clock: FixedClock, mail: MemoryEmail) -> Iterator[CoachOS]:
    """Coach OS on a new migrated PostgreSQL database as the app role, its links signed with the web app's secret."""
    engine = app_engine(pg_databases.create(), pool_size=5)
    with bootstrap(
        Settings(database_url="memory://"),
        uow=lambda: SqlUnitOfWork(engine),
        clock=clock,
        ids=RandomIds(),
        hasher=fast_test_hasher(),
        email=mail,
        links=SignedLinks("http://coachos.test", lambda: SECRET, clock),
    ) as built:
        yield built
    engine.dispose()
