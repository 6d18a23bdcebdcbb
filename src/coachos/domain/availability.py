"""A coach's availability and the bookable slots it yields.

Availability is written in the organisation's local wall-clock time (every Monday 09:00-12:00,
extra hours on one date, a day off); slots are UTC instants. A 09:00 rule stays 09:00 local on
both sides of a change of the clocks.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import attrs

from coachos.domain.errors import ValidationError
from coachos.domain.policy import BookingPolicy
from coachos.domain.timezones import check_date, exists_locally, first_instant_at_or_after, require_utc

_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

#: Longest session compute_slots considers: available periods lie within one day.
MAX_DURATION = timedelta(days=1)

#: A stretch of wall-clock time within one day, [start, end).
_Period = tuple[time, time]


def _wall_time(_: object, attribute: attrs.Attribute[time], value: object) -> None:
    if not isinstance(value, time) or value.tzinfo is not None:
        raise ValidationError(
            f"The {attribute.name} time must be a time of day such as 09:00, without a time zone "
            "(the organisation's zone applies).",
            field=attribute.name,
        )


def _check_weekday(_: object, __: attrs.Attribute[int], value: object) -> None:
    # bool is an int subclass; True would quietly mean Tuesday.
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < len(_WEEKDAYS):
        raise ValidationError("Weekday must be a number from 0 (Monday) to 6 (Sunday).", field="weekday")


def _on(_: object, __: attrs.Attribute[date], value: object) -> None:
    check_date(value, field="on")


def _utc_start(value: datetime) -> datetime:
    return require_utc(value, field="start")


def _utc_end(value: datetime) -> datetime:
    return require_utc(value, field="end")


@attrs.frozen
class WeeklyRule:
    """A coach is available every `weekday` from `start` to `end`, in the org's local time."""

    coach_id: UUID
    #: 0 is Monday, 6 is Sunday (as `date.weekday()`).
    weekday: int = attrs.field(validator=_check_weekday)
    start: time = attrs.field(validator=_wall_time)
    end: time = attrs.field(validator=_wall_time)

    def __attrs_post_init__(self) -> None:
        if not self.start < self.end:
            raise ValidationError(
                f"Weekly hours on {_WEEKDAYS[self.weekday]} must end after they start; hours "
                "cannot run past midnight, so split them into two rules, one each side of midnight.",
                field="end",
            )


@attrs.frozen
class DateOverride:
    """A change to one local date's availability: extra hours, or time off.

    With `available` true, `start` and `end` give extra hours on top of the weekly rules. With
    `available` false, both unset means the whole day off and both set means that part of the day
    off; time off wins over any hours, weekly or extra.
    """

    id: UUID
    coach_id: UUID
    on: date = attrs.field(validator=_on)
    available: bool
    start: time | None = attrs.field(default=None, validator=attrs.validators.optional(_wall_time))
    end: time | None = attrs.field(default=None, validator=attrs.validators.optional(_wall_time))

    def __attrs_post_init__(self) -> None:
        if (self.start is None) != (self.end is None):
            raise ValidationError(
                "Give both a start and an end time, or neither for the whole day.",
                field="start" if self.start is None else "end",
            )
        if self.start is None or self.end is None:
            if self.available:
                raise ValidationError("Extra hours need a start and an end time.", field="start")
            return
        if not self.start < self.end:
            raise ValidationError("The end time must be after the start time on the same day.", field="end")

    @property
    def period(self) -> tuple[time, time] | None:
        """The hours this override covers, or None when it is a whole day."""
        if self.start is None or self.end is None:
            return None
        return (self.start, self.end)


@attrs.frozen
class BusyBlock:
    """Time already taken on the coach's calendar; `end` already includes the buffer after it."""

    start: datetime = attrs.field(converter=_utc_start)
    end: datetime = attrs.field(converter=_utc_end)
    #: The service booked in this block, when it is a session of ours (not an outside event).
    service_id: UUID | None = None
    #: For a group class: places still free in this block.
    seats_left: int = 0

    def __attrs_post_init__(self) -> None:
        if not self.start < self.end:
            raise ValidationError("A busy time must end after it starts.", field="end")
        if isinstance(self.seats_left, bool) or not isinstance(self.seats_left, int) or self.seats_left < 0:
            raise ValidationError("Free places cannot be negative.", field="seats_left")


@attrs.frozen
class Slot:
    """A start time a client may book, with the places still free at it."""

    coach_id: UUID
    service_id: UUID
    #: UTC.
    start: datetime
    #: UTC; `start` plus the service's duration in real elapsed time.
    end: datetime
    seats_left: int


def compute_slots(
    *,
    coach_id: UUID,
    service_id: UUID,
    duration: timedelta,
    capacity: int,
    rules: Sequence[WeeklyRule],
    overrides: Sequence[DateOverride],
    busy: Sequence[BusyBlock],
    policy: BookingPolicy,
    tz: ZoneInfo,
    now: datetime,
    start: datetime,
    end: datetime,
) -> list[Slot]:
    """The slots of `service_id` with `coach_id` starting in [start, end), sorted by start.

    Rules and overrides of other coaches are ignored. Start times step by the policy's slot
    interval from the start of each available period on the local clock; a time the clocks skip
    is not offered and a time they repeat is offered once, at its first occurrence. A slot must
    end by the end of its period (the first moment the local clock reaches the period's end time),
    respect the policy's notice and horizon, and keep clear of busy
    time (with the policy's buffer after it), unless it joins a group class of the same service
    starting at the same time that still has free places.
    """
    if not isinstance(duration, timedelta) or duration <= timedelta(0):
        raise ValidationError("A session must last longer than zero.", field="duration")
    if duration > MAX_DURATION:
        raise ValidationError("No day's hours can hold a session longer than a day.", field="duration")
    if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
        raise ValidationError("A session needs room for at least one client.", field="capacity")
    now = require_utc(now, field="now")
    start = require_utc(start, field="start")
    end = require_utc(end, field="end")
    if not start < end:
        raise ValidationError("The end of the range must be after its start.", field="end")

    earliest = max(start, now + policy.min_notice)
    latest = now + policy.horizon  # inclusive, unlike `end`
    if earliest >= end or earliest > latest:
        return []

    calendar = _Calendar(busy, service_id)
    hours = _Hours.of(coach_id, rules, overrides)
    first_day = earliest.astimezone(tz).date()
    last_day = min(end, latest).astimezone(tz).date()
    slots: list[Slot] = []
    for slot_start, slot_end in hours.fitting(first_day, last_day, policy.slot_interval, duration, tz):
        if slot_start < earliest or slot_start >= end or slot_start > latest:
            continue
        seats = calendar.seats(slot_start, slot_end + policy.buffer, capacity)
        if seats:
            slots.append(Slot(coach_id, service_id, slot_start, slot_end, seats))
    return slots


def is_offered(slots: Sequence[Slot], start: datetime) -> Slot | None:
    """The slot in `slots` starting exactly at `start`, or None when that time is not offered."""
    at = require_utc(start, field="start")
    return next((slot for slot in slots if slot.start == at), None)


@attrs.frozen
class _Hours:
    """One coach's weekly hours and date overrides, looked up by local date."""

    weekly: dict[int, list[_Period]]
    extra: dict[date, list[_Period]]
    #: Time off per date; None is the whole day.
    off: dict[date, list[_Period] | None]

    @classmethod
    def of(cls, coach_id: UUID, rules: Sequence[WeeklyRule], overrides: Sequence[DateOverride]) -> _Hours:
        """The hours of `coach_id` among rules and overrides that may belong to several coaches."""
        weekly: dict[int, list[_Period]] = {weekday: [] for weekday in range(7)}
        for rule in rules:
            if rule.coach_id == coach_id:
                weekly[rule.weekday].append((rule.start, rule.end))
        extra: dict[date, list[_Period]] = {}
        off: dict[date, list[_Period] | None] = {}
        for override in overrides:
            if override.coach_id != coach_id:
                continue
            period = override.period
            if period is None:
                off[override.on] = None  # only time off can be a whole day
            elif override.available:
                extra.setdefault(override.on, []).append(period)
            elif (day_off := off.setdefault(override.on, [])) is not None:
                day_off.append(period)
        return cls(weekly, extra, off)

    def periods(self, day: date) -> list[_Period]:
        """The available periods on local date `day`, merged, in order."""
        return _day_periods(self.weekly[day.weekday()] + self.extra.get(day, []), self.off.get(day, []))

    def fitting(
        self,
        first_day: date,
        last_day: date,
        interval: timedelta,
        duration: timedelta,
        tz: ZoneInfo,
    ) -> Iterator[tuple[datetime, datetime]]:
        """(start, end) in UTC of every candidate on those local dates that fits its period."""
        day = first_day
        while day <= last_day:
            for period in self.periods(day):
                for start, period_end in _starts(day, period, interval, tz):
                    if start + duration > period_end:
                        break
                    yield start, start + duration
            day += timedelta(days=1)


def _day_periods(hours: list[_Period], off: list[_Period] | None) -> list[_Period]:
    """One day's available periods: `hours` merged, minus `off` (None is the whole day)."""
    if off is None or not hours:
        return []
    merged: list[_Period] = []
    # Touching periods merge too, so a session may run from one into the next.
    for begin, finish in sorted(hours):
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], finish))
        else:
            merged.append((begin, finish))
    for off_begin, off_finish in off:
        remaining: list[_Period] = []
        for begin, finish in merged:
            if off_finish <= begin or finish <= off_begin:
                remaining.append((begin, finish))
                continue
            if begin < off_begin:
                remaining.append((begin, off_begin))
            if off_finish < finish:
                remaining.append((off_finish, finish))
        merged = remaining
    return merged


def _starts(day: date, period: _Period, interval: timedelta, tz: ZoneInfo) -> Iterator[tuple[datetime, datetime]]:
    """Candidate UTC start times in `period` on `day`, each with the period's end instant."""
    begin, finish = datetime.combine(day, period[0]), datetime.combine(day, period[1])
    period_end = first_instant_at_or_after(finish, tz)
    first = begin.replace(tzinfo=tz)
    steady = first.utcoffset() == finish.replace(tzinfo=tz).utcoffset()
    if steady and exists_locally(begin, tz) and exists_locally(finish, tz):
        # The clocks do not change within the period (no zone changes twice in a few hours), so
        # wall-clock steps are real steps: skip the per-candidate conversions, which dominate the
        # cost of computing months of slots.
        instant, local = first.astimezone(UTC), begin
        while local < finish:
            yield instant, period_end
            instant, local = instant + interval, local + interval
        return
    local = begin
    while local < finish:
        # fold=0 picks the first occurrence of a repeated time; a skipped time does not
        # survive the round trip and is left out.
        instant = local.replace(tzinfo=tz).astimezone(UTC)
        if instant.astimezone(tz).replace(tzinfo=None) == local:
            yield instant, period_end
        local += interval


class _Calendar:
    """Busy blocks indexed for quick overlap checks against candidate slots."""

    def __init__(self, busy: Sequence[BusyBlock], service_id: UUID) -> None:
        self._blocks = sorted(busy, key=lambda block: block.start)
        self._starts = [block.start for block in self._blocks]
        self._service_id = service_id
        # Blocks may overlap one another, so a running maximum of ends answers "does anything
        # that started before t run past s" with one lookup.
        self._max_end: list[datetime] = []
        latest = datetime.min.replace(tzinfo=UTC)
        for block in self._blocks:
            latest = max(latest, block.end)
            self._max_end.append(latest)

    def seats(self, start: datetime, until: datetime, capacity: int) -> int:
        """Places free for a slot at `start` keeping [start, until) clear; 0 if it is taken."""
        same = bisect_left(self._starts, start)
        after = bisect_right(self._starts, start)
        if same and self._max_end[same - 1] > start:
            return 0  # something that began earlier is still running
        if bisect_left(self._starts, until) > after:
            return 0  # something begins before the slot (and its buffer) is over
        if same == after:
            return capacity
        # Blocks starting exactly at the slot are fine only if all are this service's group
        # class with places left: the client joins it.
        joinable = [
            block.seats_left
            for block in self._blocks[same:after]
            if block.service_id == self._service_id and block.seats_left > 0
        ]
        if len(joinable) != after - same:
            return 0
        return min(joinable)
