"""The inbox route suite again on PostgreSQL (as the app role, under row-level security)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from coachos import CoachOS, Settings, bootstrap
from coachos.adapters.clock import FixedClock, RandomIds
from coachos.adapters.security import MemoryEmail, fast_test_hasher
from coachos.adapters.sql.uow import SqlUnitOfWork
from tests.integration.conftest import PostgresDatabases, app_engine
from tests.web.test_inbox_routes import (  # noqa: F401  # collected again with this module's `core`
    DAYTIME,
    TestConversationList,
    TestMessagesPanel,
    TestReply,
    TestThread,
    TestToday,
)

pytestmark = pytest.mark.postgres


@pytest.fixture
def core(pg_databases: PostgresDatabases, clock: FixedClock, mail: MemoryEmail) -> Iterator[CoachOS]:
    """Coach OS on a new migrated PostgreSQL database, at 10:00 New York time."""
    clock.set(DAYTIME)
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
