"""Engines for PostgreSQL (psycopg 3) and SQLite, configured for the guarantees Coach OS needs."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine


def make_engine(url: str, *, pool_size: int = 10, echo: bool = False, role: str | None = None) -> Engine:
    """An engine for `url`: `sqlite:///path.db` or `postgresql+psycopg://user@host/db`.

    With `role` (PostgreSQL), every connection works as that role: the application's engine uses
    a role that row-level security applies to, while migrations run as the connecting owner.
    """
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, echo=echo)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(
            f"Unsupported database '{parsed.get_backend_name()}'; use sqlite:/// or postgresql+psycopg://."
        )
    engine = sa.create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, echo=echo)
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


def _sqlite_engine(url: str, *, echo: bool) -> Engine:
    if sa.make_url(url).database in (None, "", ":memory:"):
        raise ValueError("Use a SQLite file (sqlite:///coachos.db); an in-memory SQLite database is per connection.")
    engine = sa.create_engine(url, echo=echo, pool_size=8, max_overflow=8)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module so BEGIN IMMEDIATE below is ours.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        # Every transaction takes the write lock up front: writers queue (busy_timeout) instead of
        # failing mid-transaction, and checks made inside a transaction cannot race another writer.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
