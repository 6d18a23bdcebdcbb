"""The database-error log privacy test on PostgreSQL, whose error messages may quote the failing row."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from coachos.adapters.sql.engine import make_engine
from tests.integration.conftest import PostgresDatabases, app_engine
from tests.web.test_log_privacy import TestDatabaseErrorLogPrivacy, logs  # noqa: F401  # collected again here

pytestmark = pytest.mark.postgres


@pytest.fixture(params=["app role", "owner"])
def refusing_engine(request: pytest.FixtureRequest, pg_databases: PostgresDatabases) -> Iterator[Engine]:
    """A migrated PostgreSQL database whose CHECK constraint refuses a client with notes.

    As the app role, row-level security makes PostgreSQL leave the row out of its message; as the
    owner (COACHOS_DATABASE_ROLE=none) its DETAIL line says "Failing row contains (…, name, …, notes)".
    """
    url = pg_databases.create()
    engine = app_engine(url, pool_size=5)
    owner = make_engine(url)
    with owner.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE clients ADD CONSTRAINT test_refuses_notes CHECK (notes = '')")
    if request.param == "owner":
        engine.dispose()
        engine = owner
    else:
        owner.dispose()
    yield engine
    engine.dispose()
