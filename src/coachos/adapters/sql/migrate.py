"""Schema migrations (alembic), run from code: `coachos db upgrade` and the tests call these."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import Engine


def _config(connection: object) -> Config:
    config = Config()
    config.set_main_option("script_location", "coachos.adapters.sql:migrations")
    config.attributes["connection"] = connection
    return config


@contextmanager
def _migrating(engine: Engine) -> Iterator[sa.Connection]:
    """A connection to migrate on; the caller commits.

    SQLite changes a constraint only by copying the table, and dropping the old copy of a table
    others refer to (bookings, by credit events) breaks their foreign keys for a moment. SQLite
    lets foreign keys be switched off only outside a transaction, so it is done before the first
    statement, checked in full before the commit, and the connection is then discarded rather
    than handed back to the pool without them.
    """
    with engine.connect() as conn:
        if conn.dialect.name != "sqlite":
            yield conn
            return
        raw = conn.connection.dbapi_connection
        if raw is None:  # a connection just checked out of the pool always has one
            raise RuntimeError("No database connection to migrate on.")
        cursor = raw.cursor()
        cursor.execute("PRAGMA foreign_keys = OFF")
        cursor.close()
        try:
            yield conn
        finally:
            conn.invalidate()


def _check_foreign_keys(conn: sa.Connection) -> None:
    if conn.dialect.name == "sqlite" and conn.exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
        raise RuntimeError("The migration left rows pointing at missing ones; nothing was changed.")


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database's schema up to `revision` (the newest by default)."""
    with _migrating(engine) as conn:
        command.upgrade(_config(conn), revision)
        _check_foreign_keys(conn)
        conn.commit()


def downgrade(engine: Engine, revision: str) -> None:
    """Take the schema back down to `revision` ("base" for empty)."""
    with _migrating(engine) as conn:
        command.downgrade(_config(conn), revision)
        _check_foreign_keys(conn)
        conn.commit()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    """The newest revision the code knows."""
    return ScriptDirectory.from_config(_config(None)).get_current_head()


def is_known(revision: str) -> bool:
    """Whether this version of Coach OS has a migration called `revision` (a newer one does not)."""
    try:
        return ScriptDirectory.from_config(_config(None)).get_revision(revision) is not None
    except CommandError:
        return False


def is_current(engine: Engine) -> bool:
    """Whether the database is at the newest revision."""
    return current_revision(engine) == head_revision()


def revision(engine: Engine, message: str) -> None:
    """Write a new migration from the difference between the tables and the database (developers)."""
    with engine.connect() as conn:
        command.revision(_config(conn), message=message, autogenerate=True)
