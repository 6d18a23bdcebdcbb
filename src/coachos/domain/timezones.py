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

#: The first and last dates Coach OS accepts anywhere (input, commands, library calls). Far
#: enough apart for any booking, far enough inside datetime's range (years 1 to 9999) that
#: arithmetic of days or zone offsets near the edges cannot overflow.
MIN_DATE = date(1900, 1, 1)
MAX_DATE = date(2200, 1, 1)
#: Instants are accepted when their UTC date is in [MIN_DATE, MAX_DATE].
MIN_INSTANT = datetime.combine(MIN_DATE, time(0), tzinfo=UTC)
MAX_INSTANT = datetime.combine(MAX_DATE + timedelta(days=1), time(0), tzinfo=UTC)
_DAY = timedelta(days=1)


def _out_of_window(field: str) -> ValidationError:
    return ValidationError(
        f"{field} must be a date from {MIN_DATE.isoformat()} to {MAX_DATE.isoformat()}.",
        field=field,
    )


def check_date(value: object, *, field: str = "date") -> date:
    """`value` if it is a calendar date (not a datetime) from MIN_DATE to MAX_DATE."""
    if not isinstance(value, date) or isinstance(value, datetime):
        raise ValidationError(f"{field} must be a date (YYYY-MM-DD).", field=field)
    if not MIN_DATE <= value <= MAX_DATE:
        raise _out_of_window(field)
    return value


def check_local(value: object, *, field: str = "local") -> datetime:
    """`value` if it is a naive wall-clock reading that some zone shows at an instant of the window.

    Zone offsets are under a day, so that is a date from the day before MIN_DATE to the day after
    MAX_DATE.
    """
    if not isinstance(value, datetime):
        raise ValidationError(f"{field} must be a local date and time (datetime).", field=field)
    if value.tzinfo is not None:
        raise ValidationError("A local wall-clock time must not carry its own zone.", field=field)
    if not MIN_DATE - _DAY <= value.date() <= MAX_DATE + _DAY:
        raise _out_of_window(field)
    return value


def check_instant(value: object, *, field: str = "at") -> datetime:
    """`value` if it is an aware datetime whose UTC date is from MIN_DATE to MAX_DATE (zone kept)."""
    if not isinstance(value, datetime):
        raise ValidationError(f"{field} must be a date and time with a zone (datetime).", field=field)
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(f"{field} has no time zone; pass an aware datetime.", field=field)
    # Comparing aware datetimes never overflows, unlike converting one near year 1 or 9999.
    if not MIN_INSTANT <= value < MAX_INSTANT:
        raise _out_of_window(field)
    return value


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
    """`value` converted to UTC, refusing naive datetimes (they name no zone) and instants outside the date window."""
    return check_instant(value, field=field).astimezone(UTC)


def exists_locally(naive: datetime, tz: tzinfo) -> bool:
    """Whether the wall-clock time `naive` happens in `tz` (false inside a DST gap)."""
    aware = check_local(naive, field="local").replace(tzinfo=tz)
    return aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == naive


def local_to_utc(naive: datetime, tz: tzinfo) -> datetime | None:
    """The first instant showing `naive` on a clock in `tz`; None when that time never happens."""
    if not exists_locally(naive, tz):
        return None
    return naive.replace(tzinfo=tz, fold=0).astimezone(UTC)


def label(instant: datetime, tz: ZoneInfo) -> str:
    """`instant` as local time with the zone's abbreviation, e.g. 'Tue 3 Mar 2026, 09:00 EST'."""
    local = check_instant(instant, field="instant").astimezone(tz)
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
    check_local(local, field="local")
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


#: The longest stretch one `offset_changes` call searches (it walks it an hour at a time).
MAX_CHANGES_SPAN = timedelta(days=400)


def offset_changes(tz: ZoneInfo, lo: datetime, hi: datetime) -> Iterator[datetime]:
    """The instants in about [lo, hi] at which the clocks in `tz` change.

    `lo` must be inside the date window; `hi` may lie past its end (searches look ahead from a
    valid instant) but at most MAX_CHANGES_SPAN after `lo`.
    """
    check_instant(lo, field="lo")
    if not isinstance(hi, datetime) or hi.utcoffset() is None or hi - lo > MAX_CHANGES_SPAN:
        raise ValidationError(
            f"hi must be an aware datetime at most {MAX_CHANGES_SPAN.days} days after lo.", field="hi"
        )
    return _changes(tz, lo, hi)


def _changes(tz: ZoneInfo, lo: datetime, hi: datetime) -> Iterator[datetime]:
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
    check_date(day, field="day")
    return first_instant_at_or_after(datetime.combine(day, time(0)), tz).astimezone(UTC)
