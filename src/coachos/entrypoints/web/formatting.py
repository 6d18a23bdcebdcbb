"""How times and money look to people: always in the organisation's zone, with its abbreviation."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from coachos.domain.money import Money


def local_time(instant: datetime, tz: ZoneInfo, pattern: str = "%a %-d %b, %H:%M") -> str:
    """`instant` on the organisation's clock with the zone's abbreviation, e.g. 'Tue 3 Mar, 09:00 EST'."""
    local = instant.astimezone(tz)
    return f"{local.strftime(pattern)} {local.tzname()}"


def clock_time(instant: datetime, tz: ZoneInfo) -> str:
    """Just the local time of day, e.g. '09:00'."""
    return instant.astimezone(tz).strftime("%H:%M")


def money(amount: Money) -> str:
    """An amount for people, e.g. '85.00 USD'."""
    return str(amount)
