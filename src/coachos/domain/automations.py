"""Automations: a trigger (a cron schedule on the organisation's clock, an event, or a daily check),
optional conditions, and an action (see `automation_actions`).

A schedule is a standard five-field cron expression (minute hour day-of-month month day-of-week)
read as wall-clock time in the organisation's IANA zone. Daylight-saving changes are settled so
that each due time is one instant:
- a local time the clocks skip (spring forward) is due at the first instant after the jump;
  several skipped times collapse into that one instant, so they run once;
- a local time the clocks repeat (fall back) is due at its first occurrence only.

`latest_due` gives the most recent due instant in (since, now]: after downtime a missed schedule
runs once (its latest due time), not once per missed tick.

Each run has a key unique per automation (the due time of a schedule, the booking of a booking
event, the client and day of a birthday, …); the database stores one run per key, ever.
"""

from __future__ import annotations

import calendar
import enum
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import attrs

from coachos.domain.automation_actions import (
    MAX_CONDITIONS,
    Action,
    ActionKind,
    Condition,
    ConditionKind,
    CreateTodo,
    SendMessage,
    TagClients,
)
from coachos.domain.checks import check_text
from coachos.domain.clients import Client
from coachos.domain.errors import ValidationError
from coachos.domain.ids import ClientId, OrgId, ServiceId
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


class TriggerKind(enum.StrEnum):
    """What makes an automation run."""

    #: A cron schedule on the organisation's clock.
    SCHEDULE = "schedule"
    #: A booking was made (requested or confirmed straight away; once per booking).
    BOOKING_CREATED = "booking_created"
    BOOKING_COMPLETED = "booking_completed"
    BOOKING_CANCELLED = "booking_cancelled"
    #: A credit was used and the package has `threshold` credits or fewer left.
    CREDITS_LOW = "credits_low"
    #: A client has had no booking for `threshold` days (checked daily; once per quiet spell).
    CLIENT_INACTIVE = "client_inactive"
    #: It is a client's birthday in the organisation's zone (checked daily; 29 February on the 28th
    #: in other years).
    BIRTHDAY = "birthday"


#: Triggers fired by an event the outbox relay delivers.
EVENT_TRIGGERS = frozenset(
    {TriggerKind.BOOKING_CREATED, TriggerKind.BOOKING_COMPLETED, TriggerKind.BOOKING_CANCELLED, TriggerKind.CREDITS_LOW}
)
#: Triggers checked once a day, at DAILY_CHECK on the organisation's clock.
DAILY_TRIGGERS = frozenset({TriggerKind.CLIENT_INACTIVE, TriggerKind.BIRTHDAY})
#: Triggers about a booking (the only ones a 'service is' condition can apply to).
BOOKING_TRIGGERS = frozenset(
    {TriggerKind.BOOKING_CREATED, TriggerKind.BOOKING_COMPLETED, TriggerKind.BOOKING_CANCELLED}
)
#: When the daily triggers are checked: 09:00 on the organisation's clock, every day.
DAILY_CHECK = CronSchedule.parse("0 9 * * *")
#: The range of each trigger's number.
THRESHOLDS = {TriggerKind.CREDITS_LOW: (0, 1000), TriggerKind.CLIENT_INACTIVE: (1, 3660)}


def trigger_kind(value: object) -> TriggerKind:
    """`value` as a trigger, or a ValidationError (field 'trigger') listing the allowed ones."""
    try:
        return TriggerKind(str(value))
    except ValueError:
        allowed = ", ".join(k.value for k in TriggerKind)
        raise ValidationError(f"'{value}' is not a trigger; use one of: {allowed}.", field="trigger") from None


def birthdays_on(day: date) -> tuple[tuple[int, int], ...]:
    """The (month, day) birthdays celebrated on `day`: 29 February ones on 28 February of other years."""
    if day.month == 2 and day.day == 28 and not calendar.isleap(day.year):
        return ((2, 28), (2, 29))
    return ((day.month, day.day),)


class AutomationStatus(enum.StrEnum):
    """How a run of an automation ended."""

    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


def _created_at(value: datetime) -> datetime:
    return require_utc(value, field="created_at")


def _conditions(value: Iterable[Condition]) -> tuple[Condition, ...]:
    return tuple(value)


@attrs.frozen(kw_only=True)
class Automation:
    """Something the organisation wants done when a trigger fires, if its conditions hold."""

    id: UUID
    org_id: OrgId
    name: str = attrs.field()
    enabled: bool
    #: Set for (and only for) the SCHEDULE trigger.
    schedule: CronSchedule | None
    action: Action
    created_at: datetime = attrs.field(converter=_created_at)
    #: The last due time that was claimed; the next run looks for due times after it.
    last_due_at: datetime | None = None
    trigger: TriggerKind = attrs.field(default=TriggerKind.SCHEDULE, converter=trigger_kind)
    #: CREDITS_LOW: credits left at or below which it runs; CLIENT_INACTIVE: days without a booking.
    threshold: int | None = None
    #: All must hold for the client (and booking) for the action to run.
    conditions: tuple[Condition, ...] = attrs.field(default=(), converter=_conditions)

    @name.validator
    def _check_name(self, _: object, value: object) -> None:
        if not isinstance(value, str) or not value.strip():
            raise ValidationError("Give the automation a name.", field="name")
        check_text(value, field="name", max_len=100)

    def __attrs_post_init__(self) -> None:
        if self.schedule is None and self.trigger is TriggerKind.SCHEDULE:
            raise ValidationError("Give the schedule, such as '0 9 * * 1'.", field="schedule")
        if self.schedule is not None and self.trigger is not TriggerKind.SCHEDULE:
            raise ValidationError("Only a scheduled automation has a schedule; leave it empty.", field="schedule")
        bounds = THRESHOLDS.get(self.trigger)
        if bounds is None and self.threshold is not None:
            raise ValidationError("Only 'credits low' and 'client inactive' take a number.", field="threshold")
        if bounds is not None:
            lo, hi = bounds
            t = self.threshold
            if isinstance(t, bool) or not isinstance(t, int) or not lo <= t <= hi:
                raise ValidationError(f"The number must be a whole number from {lo} to {hi}.", field="threshold")
        if len(self.conditions) > MAX_CONDITIONS:
            raise ValidationError(f"An automation has at most {MAX_CONDITIONS} conditions.", field="conditions")
        if not all(isinstance(c, Condition) for c in self.conditions):
            raise ValidationError("Conditions are made with Condition.make(kind, value).", field="conditions")
        if self.trigger is TriggerKind.SCHEDULE and isinstance(self.action, CreateTodo) and self.conditions:
            raise ValidationError(
                "A scheduled to-do is about no client, so it takes no conditions.", field="conditions"
            )
        if self.trigger not in BOOKING_TRIGGERS and any(c.kind is ConditionKind.SERVICE_IS for c in self.conditions):
            raise ValidationError("'Service is' applies to booking triggers only.", field="conditions")

    @property
    def event_triggered(self) -> bool:
        """Whether the outbox relay (not the clock) runs it."""
        return self.trigger in EVENT_TRIGGERS

    def due(self, tz: ZoneInfo, now: datetime) -> datetime | None:
        """The due time to run now, if any: the latest one since it was created or last ran.

        Event-triggered automations are never due on the clock; daily ones are due at DAILY_CHECK.
        """
        if not self.enabled or self.event_triggered:
            return None
        schedule = self.schedule if self.schedule is not None else DAILY_CHECK
        since = self.created_at if self.last_due_at is None else max(self.last_due_at, self.created_at)
        return latest_due(schedule, tz, now, since)

    def applies_to(self, client: Client, service_id: ServiceId | None = None) -> bool:
        """Whether every condition holds for `client` (and the booking's service)."""
        return all(c.holds(client, service_id) for c in self.conditions)


@attrs.frozen(kw_only=True)
class AutomationRun:
    """One run of an automation for one run key (at most one per key, ever)."""

    automation_id: UUID
    org_id: OrgId
    due_at: datetime
    started_at: datetime
    status: AutomationStatus
    #: How many things the action changed (clients tagged, messages queued, to-dos made).
    affected: int = 0
    #: What the run is for, unique per automation: `schedule_key(due_at)` for a schedule,
    #: `booking_created:<booking id>`, `birthday:<client id>:<local date>`, … (see `domain/usecases`).
    key: str = ""
    #: The client the run was about, for event and daily triggers.
    client_id: ClientId | None = None

    def __attrs_post_init__(self) -> None:
        if not self.key:
            object.__setattr__(self, "key", schedule_key(self.due_at))


def schedule_key(due_at: datetime) -> str:
    """The run key of a scheduled run: its due time in UTC, to the second."""
    return "at:" + due_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


__all__ = [
    "Action",
    "ActionKind",
    "Automation",
    "AutomationRun",
    "AutomationStatus",
    "Condition",
    "ConditionKind",
    "CreateTodo",
    "CronSchedule",
    "SendMessage",
    "TagClients",
    "TriggerKind",
    "latest_due",
]
