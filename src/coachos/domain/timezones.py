"""Time zone helpers: validation, and turning local wall-clock times into UTC instants.

Instants inside Coach OS are aware UTC datetimes; local times exist only at the edges and always
name their zone.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, tzinfo
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


# Every real zone keeps one UTC offset for far longer than this, so sampling at this step sees
# each change of offset on its own and bisection can then find its exact second.
_SAMPLE_STEP = 3600


def first_instant_at_or_after(local: datetime, tz: ZoneInfo) -> datetime:
    """The first UTC instant at which a clock in `tz` shows the wall-clock time `local` or later.

    That is the first occurrence of `local` when it happens (the earlier one if clocks go back
    over it), or the moment the clocks jump forward when `local` falls in the skipped hour.
    `local` must be naive: it is a reading of the clock, the zone is `tz`.
    """
    if local.tzinfo is not None:
        raise ValidationError("A local wall-clock time must not carry its own zone.", field="local")
    first = local.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == local:
        return first
    # In a skipped hour the two folds read `local` with the offsets either side of the jump,
    # giving instants just before and just after it.
    other = local.replace(tzinfo=tz, fold=1).astimezone(UTC)
    early, late = min(first, other), max(first, other)
    return _bisect_change(tz, math.floor(early.timestamp()), math.ceil(late.timestamp()))


def _offset(tz: ZoneInfo, timestamp: int) -> timedelta | None:
    return datetime.fromtimestamp(timestamp, tz).utcoffset()


def _bisect_change(tz: ZoneInfo, lo: int, hi: int) -> datetime:
    """The first whole second in (lo, hi] whose UTC offset differs from lo's (one change only)."""
    before = _offset(tz, lo)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _offset(tz, mid) == before:
            lo = mid
        else:
            hi = mid
    return datetime.fromtimestamp(hi, UTC)


def offset_changes(tz: ZoneInfo, lo: datetime, hi: datetime) -> Iterator[datetime]:
    """The instants in about [lo, hi] at which the clocks in `tz` change."""
    # Zone transitions fall on whole seconds, so searching whole seconds finds them exactly.
    first, last = math.floor(lo.timestamp()), math.ceil(hi.timestamp())
    previous, previous_offset = first, _offset(tz, first)
    while previous < last:
        current = min(previous + _SAMPLE_STEP, last)
        current_offset = _offset(tz, current)
        if current_offset != previous_offset:
            yield _bisect_change(tz, previous, current)
        previous, previous_offset = current, current_offset


def day_start(day: date, tz: ZoneInfo) -> datetime:
    """The first instant of the local date `day` in `tz`, in UTC: its midnight, or when a skipped midnight ends.

    Every "start of a local day" (a day's bookings, a week of slots, the end of an expiry date) goes
    through here, so they all agree on days the clocks change.
    """
    return first_instant_at_or_after(datetime.combine(day, time(0)), tz).astimezone(UTC)
