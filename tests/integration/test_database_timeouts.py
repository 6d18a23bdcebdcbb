"""Every wait on a real database is bounded, and a wait that runs out leaves the adapter as `Unavailable`."""

from __future__ import annotations

import socket
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from coachos import Unavailable
from coachos.adapters.sql import migrate
from coachos.adapters.sql.engine import Timeouts, make_engine, ping, probe_engine
from coachos.adapters.sql.uow import SqlUnitOfWork
from tests.integration.conftest import PostgresDatabases, fresh_sqlite
from tests.integration.netfaults import SilentListener

QUICK = Timeouts(connect=2, statement=1, lock=0.3, idle_in_transaction=0.3, pool=0.3, sqlite_busy=0.3)


def _libpq(url: str) -> str:
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def pg_url(pg_databases: PostgresDatabases) -> str:
    """A migrated PostgreSQL database of this module's own (tests here lock whole tables)."""
    url = pg_databases.create()
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture
def quick_pg(pg_url: str) -> Iterator[Engine]:
    """An engine on it whose every limit is a fraction of a second (a pool of one, plus one overflow)."""
    engine = make_engine(pg_url, pool_size=1, timeouts=QUICK)
    yield engine
    engine.dispose()


def _refused_within(seconds: float, work: object) -> Unavailable:
    started = time.monotonic()
    with pytest.raises(Unavailable) as refused:
        work()  # type: ignore[operator]
    assert time.monotonic() - started < seconds
    return refused.value


@pytest.mark.postgres
class TestPostgresWaits:
    """Connect, pool, lock, statement and idle-transaction limits on PostgreSQL."""

    def test_a_lock_held_elsewhere_is_unavailable_after_lock_timeout(self, pg_url: str, quick_pg: Engine) -> None:
        """A read queued behind another transaction's exclusive lock gives up after lock_timeout as Unavailable."""
        with psycopg.connect(_libpq(pg_url)) as holder:
            holder.execute("LOCK TABLE outbox IN ACCESS EXCLUSIVE MODE")

            def read() -> None:
                with SqlUnitOfWork(quick_pg) as uow:
                    uow.outbox.pending(limit=1)

            refused = _refused_within(2, read)
        assert refused.reason == "lock_timeout"

    def test_a_slow_statement_is_unavailable_after_statement_timeout(self, quick_pg: Engine) -> None:
        """A statement running past statement_timeout is cancelled by the server and reported as Unavailable."""

        def sleep() -> None:
            with SqlUnitOfWork(quick_pg) as uow:
                uow.connection.exec_driver_sql("SELECT pg_sleep(5)")

        assert _refused_within(2, sleep).reason == "statement_timeout"

    def test_an_idle_transaction_is_ended_by_the_server(self, quick_pg: Engine) -> None:
        """A transaction left idle past its limit loses its connection, and its next statement is Unavailable."""

        def dawdle() -> None:
            with SqlUnitOfWork(quick_pg) as uow:
                uow.outbox.pending(limit=1)
                time.sleep(1)
                uow.outbox.pending(limit=1)

        _refused_within(3, dawdle)

    def test_an_exhausted_pool_is_unavailable_after_pool_timeout(self, quick_pg: Engine) -> None:
        """With every connection checked out, a further unit of work waits pool_timeout and is Unavailable."""
        with SqlUnitOfWork(quick_pg), SqlUnitOfWork(quick_pg):
            refused = _refused_within(2, SqlUnitOfWork(quick_pg).__enter__)
        assert refused.reason == "pool_timeout"

    def test_nothing_listening_is_unavailable_at_once(self) -> None:
        """A database address where nothing listens is Unavailable straight away, not an OperationalError."""
        engine = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{_unused_port()}/none", timeouts=QUICK)
        try:
            assert _refused_within(2, SqlUnitOfWork(engine).__enter__).reason == "connection"
        finally:
            engine.dispose()

    def test_a_server_that_never_answers_is_unavailable_after_connect_timeout(self) -> None:
        """A server that accepts the connection but never answers is Unavailable after connect_timeout."""
        with SilentListener() as silent:
            engine = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{silent.port}/none", timeouts=QUICK)
            try:
                assert _refused_within(4, SqlUnitOfWork(engine).__enter__).reason == "connection"
            finally:
                engine.dispose()

    def test_the_session_carries_the_limits(self, quick_pg: Engine) -> None:
        """Connections start with the configured statement, lock and idle-transaction timeouts."""
        with quick_pg.connect() as conn:
            shown = [conn.exec_driver_sql(f"SHOW {name}").scalar() for name in ("statement_timeout", "lock_timeout")]
            idle = conn.exec_driver_sql("SHOW idle_in_transaction_session_timeout").scalar()
        assert shown == ["1s", "300ms"]
        assert idle == "300ms"


@pytest.mark.postgres
class TestReadinessProbe:
    """The probe engine: its own connection, its own short limits."""

    def test_a_reachable_database_passes(self, pg_url: str) -> None:
        """A database that answers passes the check."""
        engine = probe_engine(pg_url, timeout=2)
        try:
            ping(engine)
        finally:
            engine.dispose()

    def test_an_unreachable_database_fails_as_unavailable(self) -> None:
        """A database nobody answers for fails the check as Unavailable, promptly."""
        engine = probe_engine(f"postgresql+psycopg://postgres@127.0.0.1:{_unused_port()}/none", timeout=2)
        try:
            assert "probe" in _refused_within(3, lambda: ping(engine)).reason
        finally:
            engine.dispose()


class TestSqliteWaits:
    """SQLite's write lock wait is bounded too."""

    def test_a_held_write_lock_is_unavailable_after_busy_timeout(self, tmp_path: Path) -> None:
        """With another connection holding the write lock, a unit of work waits busy_timeout and is Unavailable."""
        url = fresh_sqlite(tmp_path)
        engine = make_engine(url, timeouts=QUICK)
        migrate.upgrade(engine)
        holder = sqlite3.connect(str(tmp_path / "fresh.db"), isolation_level=None)
        try:
            holder.execute("BEGIN IMMEDIATE")
            assert _refused_within(2, SqlUnitOfWork(engine).__enter__).reason == "sqlite_busy"
        finally:
            holder.close()
            engine.dispose()

    def test_the_busy_timeout_is_the_configured_one(self, tmp_path: Path) -> None:
        """Connections wait as long as the setting says for the write lock, no longer."""
        engine = make_engine(fresh_sqlite(tmp_path), timeouts=QUICK)
        try:
            with engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 300
        finally:
            engine.dispose()
