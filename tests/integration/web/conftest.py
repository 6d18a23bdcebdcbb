"""Route tests again on PostgreSQL: the same fixtures as tests/web, with `core` on a fresh database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from coachos import CoachOS, Settings, bootstrap
from coachos.adapters.clock import FixedClock, RandomIds
from coachos.adapters.security import MemoryEmail, fast_test_hasher
from coachos.adapters.sql.uow import SqlUnitOfWork
from tests.integration.conftest import PostgresDatabases, app_engine
from tests.web.conftest import client, mail, web  # noqa: F401  # the same fixtures, re-exported here


@pytest.fixture
def core(pg_databases: PostgresDatabases, clock: FixedClock, mail: MemoryEmail) -> Iterator[CoachOS]:  # noqa: F811
    """Coach OS on a new migrated PostgreSQL database, as the app role (route tests use fixed emails and slugs)."""
    engine = app_engine(pg_databases.create(), pool_size=5)
    with bootstrap(
        Settings(database_url="memory://"),
        uow=lambda: SqlUnitOfWork(engine),
        clock=clock,
        ids=RandomIds(),
        hasher=fast_test_hasher(),
        email=mail,
    ) as built:
        yield built
    engine.dispose()
