"""Engines for PostgreSQL (psycopg 3) and SQLite, configured for the guarantees Coach OS needs.

Every wait on the database has a limit (`Timeouts`), and no engine writes SQL parameters into
its error messages: parameters are names, phones and notes, and error messages reach logs.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import attrs
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import NullPool

from coachos.adapters.sql.errors import at_the_edge
from coachos.domain.errors import Unavailable

if TYPE_CHECKING:
    from coachos.settings import Settings


@attrs.frozen
class Timeouts:
    """How long the database may keep Coach OS waiting, in seconds; None means no limit (migrations)."""

    #: Opening a PostgreSQL connection (libpq counts whole seconds, and at least 2).
    connect: float = 5.0
    #: One statement on PostgreSQL, cancelled by the server past this.
    statement: float | None = 10.0
    #: Waiting for a lock another PostgreSQL transaction holds.
    lock: float | None = 3.0
    #: A PostgreSQL session left idle inside a transaction, ended by the server past this.
    idle_in_transaction: float | None = 30.0
    #: Waiting for a free connection when the pool is exhausted.
    pool: float = 5.0
    #: Waiting for SQLite's write lock.
    sqlite_busy: float = 5.0

    @classmethod
    def from_settings(cls, settings: Settings) -> Timeouts:
        """The timeouts `settings` ask for."""
        return cls(
            connect=settings.db_connect_timeout,
            statement=settings.db_statement_timeout,
            lock=settings.db_lock_timeout,
            idle_in_transaction=settings.db_idle_in_transaction_timeout,
            pool=settings.db_pool_timeout,
            sqlite_busy=settings.sqlite_busy_timeout,
        )

    def for_migrations(self) -> Timeouts:
        """These limits for schema changes: statements may run as long as they need, lock waits stay bounded.

        A migration queued behind a long transaction would hold up every query that arrives after
        it, so it gives up waiting for a lock as any request does (run it again when it is quieter).
        """
        return attrs.evolve(self, statement=None, idle_in_transaction=None)


def make_engine(
    url: str, *, pool_size: int = 10, echo: bool = False, role: str | None = None, timeouts: Timeouts | None = None
) -> Engine:
    """An engine for `url`: `sqlite:///path.db` or `postgresql+psycopg://user@host/db`.

    With `role` (PostgreSQL), every connection works as that role: the application's engine uses
    a role that row-level security applies to, while migrations run as the connecting owner.
    """
    timeouts = timeouts or Timeouts()
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, echo=echo, timeouts=timeouts)
    _require_postgres(url)
    engine = sa.create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=timeouts.pool,
        pool_pre_ping=True,
        echo=echo,
        hide_parameters=True,
        connect_args=_postgres_connect_args(timeouts),
    )
    if role:
        _work_as(engine, role)
    return engine


def _work_as(engine: Engine, role: str) -> None:
    """Switch every new connection to `role` (row-level security binds it; the login owner is exempt)."""
    quoted = '"' + role.replace('"', '""') + '"'

    @event.listens_for(engine, "connect")
    def _set_role(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"SET ROLE {quoted}")
        cursor.close()
        # SET is transactional: commit it, or the pool's reset would roll the role back.
        dbapi_connection.commit()


def probe_engine(url: str, *, timeout: float) -> Engine:
    """An engine for readiness checks: a new connection each time, every wait at most `timeout` seconds."""
    if sa.make_url(url).get_backend_name() == "sqlite":
        return sa.create_engine(url, poolclass=NullPool, hide_parameters=True, connect_args={"timeout": timeout})
    _require_postgres(url)
    limits = Timeouts(connect=timeout, statement=timeout, lock=timeout, idle_in_transaction=timeout, pool=timeout)
    return sa.create_engine(url, poolclass=NullPool, hide_parameters=True, connect_args=_postgres_connect_args(limits))


def ping(engine: Engine) -> None:
    """Raise `Unavailable` unless the database behind `engine` answers a trivial query."""
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except Exception as exc:
        # Whatever went wrong, the answer is "not ready"; the reason is kept for the log.
        replacement = at_the_edge(exc)
        reason = replacement.reason if isinstance(replacement, Unavailable) else type(exc).__name__
        raise Unavailable(reason=f"probe: {reason}") from None


def _require_postgres(url: str) -> None:
    backend = sa.make_url(url).get_backend_name()
    if backend != "postgresql":
        raise ValueError(f"Unsupported database '{backend}'; use sqlite:/// or postgresql+psycopg://.")


def _postgres_connect_args(timeouts: Timeouts) -> dict[str, Any]:
    settings = {
        "statement_timeout": timeouts.statement,
        "lock_timeout": timeouts.lock,
        "idle_in_transaction_session_timeout": timeouts.idle_in_transaction,
    }
    # Server settings travel in the start-up packet: no extra round trip per connection.
    options = " ".join(f"-c {name}={_ms(value)}" for name, value in settings.items() if value is not None)
    return {
        "connect_timeout": max(2, math.ceil(timeouts.connect)),
        "options": options,
        # A server that vanishes (host down, network cut) would otherwise leave a thread reading a
        # dead socket for the kernel's default of hours: keepalives notice silence while waiting
        # for an answer, tcp_user_timeout notices data the peer never acknowledged.
        "keepalives": 1,
        "keepalives_idle": 10,
        "keepalives_interval": 5,
        "keepalives_count": 3,
        "tcp_user_timeout": 30_000,
    }


def _ms(seconds: float) -> int:
    # PostgreSQL reads 0 as "no limit"; a tiny positive limit must stay a limit.
    return max(1, round(seconds * 1000))


def _sqlite_engine(url: str, *, echo: bool, timeouts: Timeouts) -> Engine:
    if sa.make_url(url).database in (None, "", ":memory:"):
        raise ValueError("Use a SQLite file (sqlite:///coachos.db); an in-memory SQLite database is per connection.")
    engine = sa.create_engine(
        url, echo=echo, pool_size=8, max_overflow=8, pool_timeout=timeouts.pool, hide_parameters=True
    )
    busy_ms = _ms(timeouts.sqlite_busy)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module so BEGIN IMMEDIATE below is ours.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        # Every transaction takes the write lock up front: writers queue (busy_timeout) instead of
        # failing mid-transaction, and checks made inside a transaction cannot race another writer.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
