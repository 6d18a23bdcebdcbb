"""Quiet hours: the part of each day, on the recipient's own clock, when no message may go out.

The window is pure wall-clock time: 22:00 means whenever a clock in the recipient's zone shows
22:00, so during a repeated hour (clocks going back) the window can apply twice, and when clocks
jump forward over its end the quiet time simply ends at the jump.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import attrs

from coachos.domain.errors import ValidationError
from coachos.domain.timezones import offset_changes, require_utc, zone

# How much time next_allowed examines at once; a window is shorter than a day, so the answer is
# normally inside the first chunk.
_CHUNK = timedelta(days=2)
# Clock changes could in theory swallow the allowed part of a day; stop looking after a year.
_MAX_CHUNKS = 183


def _wall_time(_: object, attribute: attrs.Attribute[time], value: object) -> None:
    if not isinstance(value, time) or value.tzinfo is not None:
        raise ValidationError(
            f"Quiet hours {attribute.name} must be a time of day such as 21:00, without a "
            "time zone (each recipient's own zone is applied when sending).",
            field=attribute.name,
        )


@attrs.frozen
class QuietHours:
    """A daily window of local wall-clock time, [start, end), in which no message may be sent.

    When `start` is later than `end` the window crosses midnight (21:00-08:00 is the evening and
    the early morning). When `start` equals `end` there are no quiet hours at all.
    """

    start: time = attrs.field(default=time(21, 0), validator=_wall_time)
    end: time = attrs.field(default=time(8, 0), validator=_wall_time)

    @property
    def is_empty(self) -> bool:
        """Whether the window never applies (start equals end)."""
        return self.start == self.end

    def covers(self, local: time) -> bool:
        """Whether the wall-clock time of day `local` falls inside the window."""
        local = local.replace(tzinfo=None)
        if self.start < self.end:
            return self.start <= local < self.end
        if self.start > self.end:
            return local >= self.start or local < self.end
        return False


def is_quiet(instant: datetime, window: QuietHours, tz: ZoneInfo) -> bool:
    """Whether a message sent at `instant` would arrive during quiet hours on a clock in `tz`."""
    at = require_utc(instant, field="instant")
    return window.covers(at.astimezone(tz).time())


def next_allowed(instant: datetime, window: QuietHours, tz: ZoneInfo) -> datetime:
    """The earliest UTC instant at or after `instant` that is outside quiet hours in `tz`.

    Outside quiet hours this is `instant` itself. Otherwise it is the next moment a clock in `tz`
    reaches the window's end or, across a change of the clocks, the moment of the change if that
    lands outside the window (clocks jumping over the end, or going back to before the start).
    """
    at = require_utc(instant, field="instant")
    if not is_quiet(at, window, tz):
        return at
    # Invariant: everything in [at, lo] is quiet. Leaving the window happens either when the
    # clock reaches `end` while ticking normally, or at a change of the clocks, so those
    # moments are the only places to look.
    lo = at
    for _ in range(_MAX_CHUNKS):
        hi = lo + _CHUNK
        candidates = sorted({*offset_changes(tz, lo, hi), *_occurrences(window.end, tz, lo, hi)})
        for candidate in candidates:
            # covers(), not is_quiet(): a candidate may lie just past the end of the date window.
            if lo < candidate <= hi and not window.covers(candidate.astimezone(tz).time()):
                return candidate
        lo = hi
    raise ValidationError(
        "These quiet hours leave no time to send in the recipient's zone for a whole year.",
        field="quiet_hours",
    )


def recipient_zone(recipient_tz: str | None, org_tz: str) -> ZoneInfo:
    """The zone to judge quiet hours in: the recipient's own if they have one, else the org's.

    A blank recipient zone counts as none; a recipient zone that is set but unknown is refused
    rather than silently replaced, so a typo cannot wake someone up.
    """
    if recipient_tz is None or not recipient_tz.strip():
        return zone(org_tz)
    return zone(recipient_tz)


def _occurrences(wall: time, tz: ZoneInfo, lo: datetime, hi: datetime) -> Iterator[datetime]:
    """Every instant in about [lo, hi] at which a clock in `tz` shows `wall`, both if repeated."""
    day: date = lo.astimezone(tz).date() - timedelta(days=1)
    last_day = hi.astimezone(tz).date() + timedelta(days=1)
    while day <= last_day:
        local = datetime.combine(day, wall)
        for fold in (0, 1):
            instant = local.replace(tzinfo=tz, fold=fold).astimezone(UTC)
            if instant.astimezone(tz).replace(tzinfo=None) == local:
                yield instant
        day += timedelta(days=1)
