"""Database errors at the adapter's edge: waits that ran out become `Unavailable`, the rest lose their row data.

Integrity errors the repositories expect (a taken slug, an overlapping booking) are turned into
domain errors where they happen; this module handles what reaches the end of a unit of work.
"""

from __future__ import annotations

from sqlalchemy import exc as sa_exc

from coachos.domain.errors import Unavailable

#: PostgreSQL error codes that mean "not now" rather than "wrong": the caller may try again.
_RETRYABLE = {
    "57014": "statement_timeout",  # query_canceled: statement_timeout ran out
    "55P03": "lock_timeout",  # lock_not_available: lock_timeout ran out
    "25P03": "idle_in_transaction_timeout",
    "57P01": "server_shutdown",
    "57P02": "server_crash",
    "57P03": "server_starting",
    "53300": "too_many_connections",
    "40P01": "deadlock",  # the server broke a deadlock by failing this transaction; a retry succeeds
    "40001": "serialization_failure",
}
#: SQLite's "database is locked": busy_timeout ran out waiting for the write lock.
_SQLITE_BUSY = {"SQLITE_BUSY", "SQLITE_LOCKED"}


class DatabaseFailure(RuntimeError):
    """A database error Coach OS did not expect, described without the rows or parameters it carried.

    PostgreSQL's own messages quote the failing row in their DETAIL line ("Failing row contains
    (…, Jordan Lee, …)"), so the driver's exception cannot be allowed to reach a log.
    """

    def __init__(self, message: str, *, code: str | None) -> None:
        super().__init__(message)
        self.code = code


def unavailable_reason(exc: BaseException) -> str | None:
    """Why `exc` means the database could not answer in time (for logs), or None if it means something else."""
    if isinstance(exc, sa_exc.TimeoutError):
        return "pool_timeout"
    if not isinstance(exc, sa_exc.DBAPIError):
        return None
    if exc.connection_invalidated:
        return "connection_lost"
    orig = exc.orig
    state = getattr(orig, "sqlstate", None)
    if state in _RETRYABLE:
        return _RETRYABLE[state]
    if isinstance(state, str) and state.startswith("08"):
        return "connection"
    if isinstance(exc, sa_exc.OperationalError):
        sqlite_name = getattr(orig, "sqlite_errorname", None)
        if sqlite_name in _SQLITE_BUSY:
            return "sqlite_busy"
        if state is None and sqlite_name is None:
            # psycopg reports trouble on the wire (refused, timed out, closed) with no SQLSTATE.
            return "connection"
    return None


def at_the_edge(exc: BaseException) -> Exception | None:
    """What `exc` becomes when it leaves the adapter, or None when it may leave as it is."""
    reason = unavailable_reason(exc)
    if reason is not None:
        return Unavailable(reason=reason)
    if isinstance(exc, sa_exc.DBAPIError):
        return DatabaseFailure(_safe_message(exc), code=_code(exc))
    return None


def _code(exc: sa_exc.DBAPIError) -> str | None:
    found = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "sqlite_errorname", None)
    return str(found) if found else None


def _safe_message(exc: sa_exc.DBAPIError) -> str:
    orig = exc.orig
    diag = getattr(orig, "diag", None)
    # Only the primary message: DETAIL and CONTEXT lines (PostgreSQL) quote rows and values.
    primary = getattr(diag, "message_primary", None) or str(orig).split("\n", 1)[0]
    return f"{type(orig).__name__} ({_code(exc) or 'no code'}): {primary} [SQL: {exc.statement}]"
