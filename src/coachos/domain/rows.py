"""What a list read hands back: the records it could read, and the stored rows it could not."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from coachos.domain.errors import CorruptRecord

T = TypeVar("T")

#: How each stored kind of record is named to people ("1 package could not be read"), by table.
RECORD_NAMES = {
    "organizations": "business",
    "coaches": "coach",
    "clients": "client",
    "services": "service",
    "weekly_rules": "weekly hours",
    "date_overrides": "date override",
    "appointments": "appointment",
    "bookings": "booking",
    "packages": "package",
    "package_offers": "package offer",
    "membership_plans": "membership plan",
    "memberships": "membership",
    "credit_events": "credit history entry",
    "logins": "login",
    "web_sessions": "session",
    "api_tokens": "API token",
    "messages": "message",
    "onboarding_flows": "onboarding flow",
    "platform_plans": "plan",
    "platform_invoices": "payment to Coach OS",
}


def corrupt_record(table: str, row_id: object, cause: str | None = None) -> CorruptRecord:
    """The error for row `row_id` of `table`, named for people by RECORD_NAMES."""
    return CorruptRecord(RECORD_NAMES.get(table, "record"), table=table, row_id=str(row_id), cause=cause)


class Rows(list[T]):
    """Records read from storage, in order, plus the rows that could not be read and were left out.

    It is a list, so callers that only want the records use it as one. One unreadable row never
    hides the others: pages show what could be read and say what could not (see `unreadable`),
    and decisions that must not overlook a record (free time, hours) call `complete()`.
    """

    def __init__(self, items: Iterable[T] = (), unreadable: Iterable[CorruptRecord] = ()) -> None:
        super().__init__(items)
        #: The rows left out, in the order they were met.
        self.unreadable: tuple[CorruptRecord, ...] = tuple(unreadable)

    def complete(self) -> Rows[T]:
        """These records if every row was read; otherwise the first unreadable row is raised."""
        if self.unreadable:
            raise self.unreadable[0]
        return self


def unreadable_in(*found: Rows[Any] | Iterable[CorruptRecord]) -> tuple[CorruptRecord, ...]:
    """The unreadable rows of several reads (or loose errors), each row once, in the order met."""
    seen: dict[tuple[str, str], CorruptRecord] = {}
    for item in found:
        records = item.unreadable if isinstance(item, Rows) else item
        for record in records:
            seen.setdefault((record.table, record.row_id), record)
    return tuple(seen.values())
