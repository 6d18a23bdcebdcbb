"""A throwaway, migrated PostgreSQL database for a benchmark run."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import sqlalchemy as sa

from coachos.adapters.sql import migrate
from coachos.adapters.sql.engine import make_engine

ADMIN_URL = os.environ.get("COACHOS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _libpq(url: str) -> str:
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def temp_postgres(pool_size: int = 10) -> Iterator[sa.Engine]:
    """An engine on a new migrated database, dropped afterwards."""
    name = f"coachos_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_libpq(ADMIN_URL), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    engine = make_engine(
        sa.make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False), pool_size=pool_size
    )
    try:
        migrate.upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with psycopg.connect(_libpq(ADMIN_URL), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
