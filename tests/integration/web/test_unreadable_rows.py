"""Unreadable stored rows on SQLite and PostgreSQL: rows spoiled by raw SQL, the route suite of tests/web again.

One package's currency is set to 'ZZZ' (no ISO 4217 code) and another's expiry to a date Python
cannot load ('infinity' on PostgreSQL, 30 February on SQLite), as a manual SQL fix or a faulty
migration might leave them.
"""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from coachos import CoachOS, Settings, bootstrap
from coachos.adapters.clock import FixedClock, RandomIds
from coachos.adapters.security import MemoryEmail, fast_test_hasher
from coachos.adapters.sql.uow import SqlUnitOfWork
from coachos.domain.ids import OrgId
from tests.web.test_unreadable_rows import (  # noqa: F401  # collected again with this file's `core` and `spoil`
    Spoil,
    TestAskingForAnUnreadableRecord,
    TestCalendarAndBookings,
    TestListsShowWhatTheyCanRead,
    logs,
)

#: A stored expiry that is no date Python can hold, per database (PostgreSQL refuses text that is no timestamp).
BAD_DATE = {"postgresql": "infinity", "sqlite": "2026-02-30 12:00:00"}


@pytest.fixture
def core(engine: Engine, clock: FixedClock, mail: MemoryEmail) -> Iterator[CoachOS]:
    """Coach OS on the session's SQLite file, then on its PostgreSQL database."""
    with bootstrap(
        Settings(database_url="memory://"),
        uow=lambda: SqlUnitOfWork(engine),
        clock=clock,
        ids=RandomIds(),
        hasher=fast_test_hasher(),
        email=mail,
    ) as built:
        yield built


#: The value each spoiled column is given (literals, so the database casts them as a manual fix would).
SPOILED = {
    "currency": lambda dialect: "ZZZ",  # three letters, but no ISO 4217 currency
    "expires_at": lambda dialect: BAD_DATE[dialect],
    "created_by": lambda dialect: "nobody",  # no kind of actor
    "status": lambda dialect: "vip",  # no client status
}


def _as_owner(conn: sa.Connection) -> None:
    """Act as the database's owner for this transaction only, as a manual fix would (row-level security
    hides every row from the app role until a transaction names its organisation)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL ROLE NONE")


@pytest.fixture
def spoil(engine: Engine) -> Spoil:
    """Overwrites one column of a stored row with raw SQL, with a value the domain cannot read."""

    def with_sql(org_id: OrgId, table: str, row_id: UUID, column: str, **keys: object) -> None:
        literal = SPOILED[column](engine.dialect.name)
        sql = f"UPDATE {table} SET {column} = '{literal}' WHERE id = :id"  # noqa: S608  # the test's own constants
        with engine.begin() as conn:
            _as_owner(conn)
            done = conn.execute(sa.text(sql).bindparams(sa.bindparam("id", row_id, type_=sa.Uuid())))
            assert done.rowcount == 1

    return with_sql
