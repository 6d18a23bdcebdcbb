"""The inbox route suite again on PostgreSQL (as the app role, under row-level security)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from quart.typing import TestClientProtocol as Client
from sqlalchemy import event

from coachos import CoachOS, Settings, bootstrap
from coachos.adapters.clock import FixedClock, RandomIds
from coachos.adapters.security import MemoryEmail, fast_test_hasher
from coachos.adapters.sql.uow import SqlUnitOfWork
from coachos.domain.usecases import CreateClient
from tests.integration.conftest import PostgresDatabases, app_engine
from tests.web.test_inbox_routes import (  # noqa: F401  # collected again with this module's `core`
    DAYTIME,
    TestConversationList,
    TestMessagesPanel,
    TestReply,
    TestThread,
    TestToday,
    open_business,
    texted,
)

pytestmark = pytest.mark.postgres


@pytest.fixture
def engine(pg_databases: PostgresDatabases) -> Iterator[sa.Engine]:
    """A new migrated PostgreSQL database, as the app role."""
    built = app_engine(pg_databases.create(), pool_size=5)
    yield built
    built.dispose()


@pytest.fixture
def core(engine: sa.Engine, clock: FixedClock, mail: MemoryEmail) -> Iterator[CoachOS]:
    """Coach OS on the new database, at 10:00 New York time."""
    clock.set(DAYTIME)
    with bootstrap(
        Settings(database_url="memory://"),
        uow=lambda: SqlUnitOfWork(engine),
        clock=clock,
        ids=RandomIds(),
        hasher=fast_test_hasher(),
        email=mail,
    ) as built:
        yield built


async def statements(client: Client, engine: sa.Engine, path: str) -> int:
    """How many SQL statements serving `path` runs (after one warm-up request)."""
    counted = [0]

    def count(*_: Any) -> None:
        counted[0] += 1

    await client.get(path)
    event.listen(engine, "before_cursor_execute", count)
    try:
        response = await client.get(path)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 200
    return counted[0]


class TestInboxStatements:
    async def test_the_inbox_page_costs_the_same_with_2_or_25_conversations(
        self, client: Client, core: CoachOS, engine: sa.Engine
    ) -> None:
        """/inbox runs a fixed number of statements, whatever the number of clients with messages (no N+1)."""
        biz = await open_business(client, core)
        texted(core, biz.org.id, biz.jordan.id, "hi", DAYTIME)
        few = await statements(client, engine, "/inbox")
        for i in range(24):
            other = core.execute(CreateClient(org_id=biz.org.id, name=f"Client {i:02}", actor=biz.me))
            texted(core, biz.org.id, other.id, "hello", DAYTIME - timedelta(minutes=i))
        assert await statements(client, engine, "/inbox") == few
