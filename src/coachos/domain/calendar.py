"""What a coach's calendar shows: the local days of a day, week or month view and their UTC bounds.

Everything here is a pure function of a local date and the organisation's zone. Weeks start on
Monday. A view's bounds are the local midnights at its edges converted to UTC, so a week in which
the clocks change lasts 167 or 169 hours and a day 23 or 25.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Literal, get_args
from zoneinfo import ZoneInfo

import attrs

from coachos.domain.errors import ValidationError
from coachos.domain.timezones import check_date, day_start, local_to_utc

CalendarView = Literal["day", "week", "month"]

#: The views a calendar offers, in the order a switcher lists them.
VIEWS: tuple[CalendarView, ...] = get_args(CalendarView)

#: The most local days any view covers: six whole weeks (a month grid at its largest).
MAX_VIEW_DAYS = 42


@attrs.frozen
class VisibleRange:
    """The local days a calendar view shows, and the UTC instants [start, end) that bound them."""

    view: CalendarView
    #: First local day shown.
    first_day: date
    #: Last local day shown (inclusive).
    last_day: date
    #: The first instant of `first_day` in the zone, in UTC.
    start: datetime
    #: The first instant of the day after `last_day` in the zone, in UTC (exclusive).
    end: datetime
    #: Every local day shown, in order.
    days: tuple[date, ...]

    def __contains__(self, instant: object) -> bool:
        return isinstance(instant, datetime) and self.start <= instant < self.end


def check_view(value: object) -> CalendarView:
    """`value` if it names a calendar view, else a ValidationError listing the views."""
    for view in VIEWS:
        if value == view:
            return view
    raise ValidationError(f"'{value}' is not a calendar view; use one of: {', '.join(VIEWS)}.", field="view")


def _monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _last_of_month(day: date) -> date:
    return _add_months(day.replace(day=1), 1) - timedelta(days=1)


def _add_months(first: date, months: int) -> date:
    """The first of the month `months` after the month of `first` (a first of a month)."""
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def visible_range(view: CalendarView, anchor: date, tz: ZoneInfo) -> VisibleRange:
    """The days the `view` containing the local date `anchor` shows in `tz`, with their UTC bounds.

    A day view shows `anchor`; a week view the Monday-to-Sunday week containing it; a month view
    the whole weeks covering its month, from the Monday on or before the 1st to the Sunday on or
    after the last day, as a month grid shows them.
    """
    view = check_view(view)
    check_date(anchor, field="date")
    if view == "day":
        first, last = anchor, anchor
    elif view == "week":
        first = _monday_of(anchor)
        last = first + timedelta(days=6)
    else:
        first = _monday_of(anchor.replace(day=1))
        month_end = _last_of_month(anchor)
        last = month_end + timedelta(days=6 - month_end.weekday())
    days = tuple(first + timedelta(days=n) for n in range((last - first).days + 1))
    return VisibleRange(
        view=view,
        first_day=first,
        last_day=last,
        start=day_start(first, tz),
        end=day_start(last + timedelta(days=1), tz),
        days=days,
    )


def next_anchor(view: CalendarView, anchor: date) -> date:
    """A date inside the view after the one containing `anchor` (the 1st of the next month for months)."""
    return _step(view, anchor, 1)


def prev_anchor(view: CalendarView, anchor: date) -> date:
    """A date inside the view before the one containing `anchor` (the 1st of the previous month for months)."""
    return _step(view, anchor, -1)


def _step(view: CalendarView, anchor: date, direction: int) -> date:
    view = check_view(view)
    check_date(anchor, field="date")
    if view == "day":
        return anchor + timedelta(days=direction)
    if view == "week":
        return anchor + timedelta(days=7 * direction)
    return _add_months(anchor.replace(day=1), direction)


def local_start(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant a clock in `tz` shows `at` on `day`, as a coach typed it.

    A time the clocks skip that day is refused with a message saying so; a time that happens
    twice (clocks going back) means its first occurrence.
    """
    check_date(day, field="date")
    if not isinstance(at, time):
        raise ValidationError("The time must be a time of day such as 09:00.", field="time")
    instant = local_to_utc(datetime.combine(day, at.replace(tzinfo=None)), tz)
    if instant is None:
        raise ValidationError(
            f"{at:%H:%M} does not exist on {day:%a} {day.day} {day:%b %Y} in {tz.key}: the clocks "
            "go forward then. Pick another time.",
            field="time",
        )
    return instant
