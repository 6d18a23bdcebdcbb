"""Stored rows that could not be read: logged once per response with an error id, and shown as a marker.

Lists show the records they could read. Whatever a page or API list left out is passed to
`report`, which writes one log line (table names and row ids, never stored values) under a new
error id and returns the marker the page or the API answer shows: "1 package could not be read
— error id 3f2a9c0e1b7d, tell support."
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable
from typing import Any

import attrs
import structlog
from quart import has_request_context, request

from coachos.domain.errors import CorruptRecord
from coachos.domain.rows import Rows, unreadable_in

log = structlog.get_logger("coachos.web")

_PLURALS = {"business": "businesses", "coach": "coaches", "credit history entry": "credit history entries"}


def new_error_id() -> str:
    """A short id that a log line and the person who saw the failure can both quote."""
    return uuid.uuid4().hex[:12]


def _route() -> str:
    # The route pattern, not the path: paths carry reset tokens, manage links and feed secrets.
    if has_request_context() and request.url_rule is not None:
        return request.url_rule.rule
    return "unmatched"


@attrs.frozen
class Marker:
    """What a page or an API list says about the stored rows it had to leave out."""

    error_id: str
    records: tuple[CorruptRecord, ...]

    @property
    def count(self) -> int:
        """How many rows were left out."""
        return len(self.records)

    @property
    def message(self) -> str:
        """For people, e.g. '1 package could not be read — error id 3f2a9c0e1b7d, tell support.'."""
        counts = Counter(r.what for r in self.records)
        parts = [f"{n} {what if n == 1 else _PLURALS.get(what, what + 's')}" for what, n in counts.items()]
        listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
        return f"{listed} could not be read \u2014 error id {self.error_id}, tell support."


def report(*found: Rows[Any] | Iterable[CorruptRecord]) -> Marker | None:
    """Log the rows that `found` left out, once, under a new error id; the marker to show, or None if none."""
    records = unreadable_in(*found)
    if not records:
        return None
    error_id = new_error_id()
    log.error(
        "stored rows could not be read",
        error_id=error_id,
        route=_route(),
        rows=[{"table": r.table, "id": r.row_id, "cause": r.cause} for r in records],
    )
    return Marker(error_id, records)
