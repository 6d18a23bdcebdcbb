"""The client's side connected, again on PostgreSQL as the app role: above all, a coach approves the deletion of
a client whose signature and answers the database's triggers keep unchangeable."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from coachos import CoachOS, Settings, bootstrap
from coachos.adapters.clock import FixedClock, RandomIds
from coachos.adapters.links import SignedLinks
from coachos.adapters.security import MemoryEmail, fast_test_hasher
from coachos.adapters.sql.uow import SqlUnitOfWork
from tests.integration.conftest import PostgresDatabases, app_engine
from tests.web.support import web_settings
from tests.web.test_client_side_routes import (  # noqa: F401  # collected again with this module's `core`
    TestBookingPage,
    TestDataAndDeletion,
    TestPortalTodo,
    person,
    world,
)

pytestmark = pytest.mark.postgres


@pytest.fixture
def core(pg_databases: PostgresDatabases, clock: FixedClock, mail: MemoryEmail) -> Iterator[CoachOS]:
    """Coach OS on a new migrated PostgreSQL database as the app role, its links signed with the web app's secret."""
    settings = web_settings()
    engine = app_engine(pg_databases.create(), pool_size=5)
    with bootstrap(
        Settings(database_url="memory://"),
        uow=lambda: SqlUnitOfWork(engine),
        clock=clock,
        ids=RandomIds(),
        hasher=fast_test_hasher(),
        email=mail,
        links=SignedLinks(settings.public_url, lambda: str(settings.secret_key), clock),
    ) as built:
        yield built
    engine.dispose()
