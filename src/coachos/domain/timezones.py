"""Time zone helpers: validation, and turning local wall-clock times into UTC instants.

Instants inside Coach OS are aware UTC datetimes; local times exist only at the edges and always
name their zone.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from coachos.domain.errors import ValidationError


def zone(name: str) -> ZoneInfo:
    """The IANA zone called `name`, or a ValidationError saying it is unknown."""
    if not isinstance(name, str) or not name or name != name.strip():
        raise ValidationError(f"'{name}' is not a time zone name.", field="timezone")
    try:
        return ZoneInfo(name)
    # A folder of the zone database ("America") raises IsADirectoryError, an OSError.
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValidationError(
            f"'{name}' is not a known time zone; use an IANA name such as 'Europe/London'.",
            field="timezone",
        ) from exc


def require_utc(value: datetime, *, field: str = "at") -> datetime:
    """`value` converted to UTC, refusing naive datetimes (they name no zone)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(f"{field} has no time zone; pass an aware datetime.", field=field)
    return value.astimezone(UTC)


def exists_locally(naive: datetime, tz: tzinfo) -> bool:
    """Whether the wall-clock time `naive` happens in `tz` (false inside a DST gap)."""
    aware = naive.replace(tzinfo=tz)
    return aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == naive


def local_to_utc(naive: datetime, tz: tzinfo) -> datetime | None:
    """The first instant showing `naive` on a clock in `tz`; None when that time never happens."""
    if not exists_locally(naive, tz):
        return None
    return naive.replace(tzinfo=tz, fold=0).astimezone(UTC)


def label(instant: datetime, tz: ZoneInfo) -> str:
    """`instant` as local time with the zone's abbreviation, e.g. 'Tue 3 Mar 2026, 09:00 EST'."""
    local = instant.astimezone(tz)
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M} {local.tzname()}"
