"""Real databases for integration tests: a PostgreSQL database made for this run and SQLite files.

PostgreSQL is found at COACHOS_TEST_POSTGRES_URL (default: the local server as user postgres).
When it is missing the PostgreSQL tests skip on a developer's machine but FAIL under CI=true.

The PostgreSQL engines the tests use connect as production does: migrations run as the connecting
user (the owner), and the app's engine switches to the app role, which row-level security binds.
Connected as the superuser `postgres`, the tests would bypass it and prove nothing about it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from coachos import CoachOS, Settings, bootstrap
from coachos.adapters.clock import FixedClock, RandomIds
from coachos.adapters.security import MemoryEmail, fast_test_hasher
from coachos.adapters.sql import migrate
from coachos.adapters.sql.engine import make_engine
from coachos.adapters.sql.tenancy import APP_ROLE
from coachos.adapters.sql.uow import SqlUnitOfWork
from coachos.ports.storage import UnitOfWork

ADMIN_URL = os.environ.get("COACHOS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _libpq(url: str) -> str:
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _require_postgres() -> None:
    try:
        with psycopg.connect(_libpq(ADMIN_URL), connect_timeout=3):
            pass
    except psycopg.OperationalError as exc:
        message = f"PostgreSQL is not reachable at {sa.make_url(ADMIN_URL).render_as_string()}: {exc}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " (CI=true: PostgreSQL tests must run, not skip)")
        pytest.skip(message)


class PostgresDatabases:
    """Creates throwaway databases on the test server and drops them afterwards."""

    def __init__(self) -> None:
        self._made: list[str] = []

    def create(self) -> str:
        """The URL of a new, empty database."""
        name = f"coachos_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(_libpq(ADMIN_URL), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self._made.append(name)
        return sa.make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        """Drop every database this run created."""
        with psycopg.connect(_libpq(ADMIN_URL), autocommit=True) as conn:
            for name in self._made:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[PostgresDatabases]:
    """Factory of throwaway PostgreSQL databases (fails under CI=true if the server is missing)."""
    _require_postgres()
    dbs = PostgresDatabases()
    yield dbs
    dbs.drop_all()


def app_engine(url: str, *, pool_size: int) -> Engine:
    """The database at `url` migrated by its owner, and an engine on it as the app role (as in production)."""
    owner = make_engine(url)
    try:
        migrate.upgrade(owner)
    finally:
        owner.dispose()
    return make_engine(url, pool_size=pool_size, role=APP_ROLE)


@pytest.fixture(scope="session")
def postgres_engine(pg_databases: PostgresDatabases) -> Iterator[Engine]:
    """One migrated PostgreSQL database shared by the session, as the app role; tests are isolated by organisation."""
    engine = app_engine(pg_databases.create(), pool_size=30)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """One migrated SQLite file shared by the session."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'coachos.db'}")
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Engine:
    """Each test runs once on SQLite and once on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_engine")  # type: ignore[no-any-return]


@pytest.fixture
def mail() -> MemoryEmail:
    """Emails the use cases send."""
    return MemoryEmail()


@pytest.fixture
def app(engine: Engine, clock: FixedClock, mail: MemoryEmail) -> Iterator[CoachOS]:
    """Coach OS on a real database, with the test's clock, cheap hashing and emails kept in memory."""

    def uow() -> UnitOfWork:
        return SqlUnitOfWork(engine)

    with bootstrap(
        Settings(database_url="memory://"),
        uow=uow,
        clock=clock,
        ids=RandomIds(),
        hasher=fast_test_hasher(),
        email=mail,
    ) as built:
        yield built


def fresh_sqlite(tmp_path: Path) -> str:
    """The URL of a new, empty SQLite file."""
    return f"sqlite:///{tmp_path / 'fresh.db'}"
