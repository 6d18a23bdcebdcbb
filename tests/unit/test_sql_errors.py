"""Which database errors mean "not now" (Unavailable) and which are failures, told apart at the adapter's edge."""

from __future__ import annotations

import sqlite3

import psycopg
import psycopg.errors as pg
import pytest
from sqlalchemy import exc as sa_exc

from coachos import Unavailable
from coachos.adapters.sql.errors import DatabaseFailure, at_the_edge


def _wrapped(orig: Exception, *, invalidated: bool = False) -> sa_exc.DBAPIError:
    kind = sa_exc.IntegrityError if isinstance(orig, psycopg.IntegrityError) else sa_exc.OperationalError
    return kind(
        "INSERT INTO clients (name) VALUES (%(name)s)", {"name": "Jordan Lee"}, orig, connection_invalidated=invalidated
    )


def _sqlite_error(sql: str) -> sqlite3.Error:
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute(sql)
    except sqlite3.Error as exc:
        return exc
    finally:
        conn.close()
    raise AssertionError("the statement did not fail")


class TestAtTheEdge:
    """Translating what reaches the end of a unit of work."""

    @pytest.mark.parametrize(
        ("orig", "reason"),
        [
            (pg.QueryCanceled("canceling statement due to statement timeout"), "statement_timeout"),
            (pg.LockNotAvailable("canceling statement due to lock timeout"), "lock_timeout"),
            (pg.DeadlockDetected("deadlock detected"), "deadlock"),
            (pg.SerializationFailure("could not serialize access"), "serialization_failure"),
            (pg.AdminShutdown("terminating connection due to administrator command"), "server_shutdown"),
            (pg.CannotConnectNow("the database system is starting up"), "server_starting"),
            (pg.TooManyConnections("sorry, too many clients already"), "too_many_connections"),
            (psycopg.OperationalError("connection failed: Connection refused"), "connection"),
        ],
    )
    def test_waits_and_lost_connections_are_unavailable(self, orig: Exception, reason: str) -> None:
        """Errors that mean the database could not answer now become Unavailable, with the reason for logs."""
        translated = at_the_edge(_wrapped(orig))
        assert isinstance(translated, Unavailable)
        assert translated.reason == reason

    def test_a_connection_lost_mid_statement_is_unavailable(self) -> None:
        """An error SQLAlchemy marks as a lost connection is Unavailable whatever the driver called it."""
        translated = at_the_edge(_wrapped(pg.InternalError_("server closed the connection"), invalidated=True))
        assert isinstance(translated, Unavailable)

    def test_pool_timeouts_are_unavailable(self) -> None:
        """A pool that had no connection to give within its timeout is Unavailable."""
        translated = at_the_edge(sa_exc.TimeoutError("QueuePool limit of size 1 overflow 1 reached"))
        assert isinstance(translated, Unavailable)
        assert translated.reason == "pool_timeout"

    def test_sqlite_database_is_locked_is_unavailable(self) -> None:
        """SQLite's "database is locked" (its busy timeout ran out) is Unavailable."""
        orig = sqlite3.OperationalError("database is locked")
        orig.sqlite_errorname = "SQLITE_BUSY"
        translated = at_the_edge(_wrapped(orig))
        assert isinstance(translated, Unavailable)
        assert translated.reason == "sqlite_busy"

    def test_other_sqlite_errors_are_failures(self) -> None:
        """A SQLite error that is not about waiting (a missing table) is a failure, not Unavailable."""
        translated = at_the_edge(_wrapped(_sqlite_error("SELECT * FROM nowhere")))
        assert isinstance(translated, DatabaseFailure)
        assert translated.code == "SQLITE_ERROR"

    def test_failures_keep_the_primary_message_but_not_rows_or_parameters(self) -> None:
        """A constraint failure keeps its code, message and SQL, but not PostgreSQL's DETAIL row or the parameters."""
        orig = pg.CheckViolation(
            'new row for relation "clients" violates check constraint "x"\n'
            "DETAIL:  Failing row contains (1, Jordan Lee, knee surgery)."
        )
        translated = at_the_edge(_wrapped(orig))
        assert isinstance(translated, DatabaseFailure)
        text = str(translated)
        assert 'violates check constraint "x"' in text
        assert "INSERT INTO clients" in text
        assert "Jordan" not in text
        assert "knee" not in text

    def test_errors_that_are_not_the_databases_pass_unchanged(self) -> None:
        """Domain errors and programming errors are not the adapter's to translate."""
        assert at_the_edge(ValueError("bad")) is None
        assert at_the_edge(Unavailable()) is None
