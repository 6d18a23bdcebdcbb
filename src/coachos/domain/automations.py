"""Scheduled automations: a cron schedule read on the organisation's clock, and what runs when it is due.

A schedule is a standard five-field cron expression (minute hour day-of-month month day-of-week)
read as wall-clock time in the organisation's IANA zone. Daylight-saving changes are settled so
that each due time is one instant:
- a local time the clocks skip (spring forward) is due at the first instant after the jump;
  several skipped times collapse into that one instant, so they run once;
- a local time the clocks repeat (fall back) is due at its first occurrence only.

`latest_due` gives the most recent due instant in (since, now]: after downtime a missed schedule
runs once (its latest due time), not once per missed tick.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import attrs

from coachos.domain.checks import check_text
from coachos.domain.clients import ClientStatus
from coachos.domain.errors import ValidationError
from coachos.domain.ids import OrgId
from coachos.domain.timezones import MIN_DATE, check_instant, first_instant_at_or_after, require_utc

#: Longest cron expression accepted (a real one is a few dozen characters).
MAX_EXPRESSION = 200

_FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
)


def _bad(message: str) -> ValidationError:
    return ValidationError(message, field="schedule")


def _number(text: str, name: str, lo: int, hi: int) -> int:
    # isdecimal also accepts other scripts' digits, which int() would read; cron means ASCII.
    if not text or not text.isascii() or not text.isdigit() or len(text) > 2:
        raise _bad(f"'{text}' is not a number in the {name} field of the schedule.")
    value = int(text)
    if not lo <= value <= hi:
        raise _bad(f"{value} is outside {lo}-{hi} in the {name} field of the schedule.")
    return value


def _parse_field(text: str, name: str, lo: int, hi: int) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        step, stepped = 1, "/" in part
        if stepped:
            part, _, step_text = part.partition("/")
            step = _number(step_text, name, 1, hi - lo + 1 if hi > lo else 1)
        if part == "*":
            first, last = lo, hi
        elif "-" in part:
            a, _, b = part.partition("-")
            first, last = _number(a, name, lo, hi), _number(b, name, lo, hi)
            if first > last:
                raise _bad(f"The range {part} in the {name} field of the schedule runs backwards.")
        else:
            first = _number(part, name, lo, hi)
            # "5/15" means from 5 to the end in steps of 15, as in common crons.
            last = hi if stepped else first
        values.update(range(first, last + 1, step))
    return frozenset(values)


@attrs.frozen
class CronSchedule:
    """A five-field cron expression, parsed; `parse` is the way to make one."""

    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    #: 0 is Sunday (7 is read as Sunday too).
    weekdays: frozenset[int]
    #: Standard cron: when both day fields are restricted, a day matching either one is due.
    days_restricted: bool
    weekdays_restricted: bool

    @classmethod
    def parse(cls, expression: object) -> CronSchedule:
        """The schedule written as `expression`, or a ValidationError (field 'schedule') saying what is wrong."""
        if not isinstance(expression, str):
            raise _bad("The schedule must be text, such as '0 9 * * 1'.")
        check_text(expression, field="schedule", max_len=MAX_EXPRESSION)
        parts = expression.split()
        if len(parts) != 5:
            raise _bad("A schedule has five fields (minute hour day-of-month month day-of-week), such as '0 9 * * 1'.")
        minutes, hours, days, months, weekdays = (
            _parse_field(p, name, lo, hi) for p, (name, lo, hi) in zip(parts, _FIELDS, strict=True)
        )
        weekdays = frozenset(d % 7 for d in weekdays)
        if not any(d <= _MONTH_DAYS[m] for m in months for d in days):
            raise _bad("The schedule names a day that none of its months has (such as 31 February).")
        return cls(
            expression=" ".join(parts),
            minutes=minutes,
            hours=hours,
            days=days,
            months=months,
            weekdays=weekdays,
            days_restricted=not parts[2].startswith("*"),
            weekdays_restricted=not parts[4].startswith("*"),
        )

    def on_date(self, day: date) -> bool:
        """Whether the schedule is due at some time of the local date `day`."""
        if day.month not in self.months:
            return False
        in_month = day.day in self.days
        in_week = (day.isoweekday() % 7) in self.weekdays
        if self.days_restricted and self.weekdays_restricted:
            return in_month or in_week
        return in_month and in_week

    def at_time(self, hour: int, minute: int) -> bool:
        """Whether the schedule is due at local `hour`:`minute` of a due date."""
        return hour in self.hours and minute in self.minutes

    def times(self) -> list[time]:
        """The local times of a due date, latest first."""
        return [time(h, m) for h in sorted(self.hours, reverse=True) for m in sorted(self.minutes, reverse=True)]


#: Longest each month can be (29 February counts: a leap year has it).
_MONTH_DAYS = {1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30, 12: 31}
_DAY = timedelta(days=1)


def _due_instants_descending(schedule: CronSchedule, tz: ZoneInfo, start: date, stop: date) -> Iterator[datetime]:
    """The due instants of local dates from `start` back to `stop`, latest first (ties collapse later)."""
    times = schedule.times()
    day = start
    while day >= stop:
        if schedule.on_date(day):
            for t in times:
                yield first_instant_at_or_after(datetime.combine(day, t), tz)
        if day == MIN_DATE:
            return
        day -= _DAY


def latest_due(schedule: CronSchedule, tz: ZoneInfo, now: datetime, since: datetime) -> datetime | None:
    """The most recent instant in (since, now] at which `schedule` is due on clocks in `tz` (UTC), or None.

    Mapping local times to instants never goes backwards (skipped times move to the jump, repeated
    ones take their first occurrence), so walking local dates and times from `now` backwards, the
    first due instant at or before `now` is the latest; if it is not after `since`, none is.
    """
    now = require_utc(check_instant(now, field="now"), field="now")
    since = require_utc(check_instant(since, field="since"), field="since")
    if since >= now:
        return None
    # One day either side covers any zone offset (always under a day).
    start = now.astimezone(tz).date()
    stop = max(since.astimezone(tz).date() - _DAY, MIN_DATE)
    for due in _due_instants_descending(schedule, tz, start, stop):
        if due <= now:
            return due if due > since else None
    return None


class ActionKind(enum.StrEnum):
    """What an automation does when it is due."""

    TAG_CLIENTS = "tag_clients"


def _optional_status(value: object) -> ClientStatus | None:
    if value is None or value == "":
        return None
    try:
        return ClientStatus(str(value))
    except ValueError:
        allowed = ", ".join(m.value for m in ClientStatus)
        raise ValidationError(f"'{value}' is not a client status; use one of: {allowed}.", field="status") from None


@attrs.frozen
class TagClients:
    """Add `tag` to every client of the organisation (optionally only those with `status`)."""

    tag: str = attrs.field()
    status: ClientStatus | None = attrs.field(default=None, converter=_optional_status)
    kind: ActionKind = ActionKind.TAG_CLIENTS

    @tag.validator
    def _check_tag(self, _: object, value: object) -> None:
        if not isinstance(value, str) or not value.strip():
            raise ValidationError("Say which tag to add.", field="tag")
        check_text(value, field="tag", max_len=50)


#: Every action an automation can take (one today; messaging actions come later).
Action = TagClients


class AutomationStatus(enum.StrEnum):
    """How a run of an automation ended."""

    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


def _created_at(value: datetime) -> datetime:
    return require_utc(value, field="created_at")


@attrs.frozen(kw_only=True)
class Automation:
    """Something the organisation wants done on a schedule, read on its own clock."""

    id: UUID
    org_id: OrgId
    name: str = attrs.field()
    enabled: bool
    schedule: CronSchedule
    action: Action
    created_at: datetime = attrs.field(converter=_created_at)
    #: The last due time that was claimed; the next run looks for due times after it.
    last_due_at: datetime | None = None

    @name.validator
    def _check_name(self, _: object, value: object) -> None:
        if not isinstance(value, str) or not value.strip():
            raise ValidationError("Give the automation a name.", field="name")
        check_text(value, field="name", max_len=100)

    def due(self, tz: ZoneInfo, now: datetime) -> datetime | None:
        """The due time to run now, if any: the latest one since it was created or last ran."""
        if not self.enabled:
            return None
        since = self.created_at if self.last_due_at is None else max(self.last_due_at, self.created_at)
        return latest_due(self.schedule, tz, now, since)


@attrs.frozen(kw_only=True)
class AutomationRun:
    """One run of an automation for one due time (at most one per due time, ever)."""

    automation_id: UUID
    org_id: OrgId
    due_at: datetime
    started_at: datetime
    status: AutomationStatus
    #: How many things the action changed (clients tagged), for the run history.
    affected: int = 0
