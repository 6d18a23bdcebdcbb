"""Schema migrations (alembic), run from code: `coachos db upgrade` and the tests call these."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine


def _config(connection: object) -> Config:
    config = Config()
    config.set_main_option("script_location", "coachos.adapters.sql:migrations")
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database's schema up to `revision` (the newest by default)."""
    with engine.connect() as conn:
        command.upgrade(_config(conn), revision)
        conn.commit()


def downgrade(engine: Engine, revision: str) -> None:
    """Take the schema back down to `revision` ("base" for empty)."""
    with engine.connect() as conn:
        command.downgrade(_config(conn), revision)
        conn.commit()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    """The newest revision the code knows."""
    return ScriptDirectory.from_config(_config(None)).get_current_head()


def is_current(engine: Engine) -> bool:
    """Whether the database is at the newest revision."""
    return current_revision(engine) == head_revision()


def revision(engine: Engine, message: str) -> None:
    """Write a new migration from the difference between the tables and the database (developers)."""
    with engine.connect() as conn:
        command.revision(_config(conn), message=message, autogenerate=True)
