"""The calendar's visible ranges: which local days a view shows and their UTC bounds across DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coachos.domain.calendar import (
    MAX_VIEW_DAYS,
    VIEWS,
    CalendarView,
    check_view,
    day_start,
    local_start,
    next_anchor,
    prev_anchor,
    visible_range,
)
from coachos.domain.errors import ValidationError

NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
SYDNEY = ZoneInfo("Australia/Sydney")
KOLKATA = ZoneInfo("Asia/Kolkata")
HOUR = timedelta(hours=1)

#: (zone, a Sunday on which its clocks change, hours in the Monday-to-Sunday week ending that day).
DST_WEEKS = [
    (NEW_YORK, date(2026, 3, 8), 167),
    (NEW_YORK, date(2026, 11, 1), 169),
    (LONDON, date(2026, 3, 29), 167),
    (LONDON, date(2026, 10, 25), 169),
    (SYDNEY, date(2026, 4, 5), 169),
    (SYDNEY, date(2026, 10, 4), 167),
]


def midnight(day: date, tz: ZoneInfo) -> datetime:
    """Local midnight of `day` in `tz` as UTC (these zones change their clocks away from midnight)."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


class TestWeekView:
    @pytest.mark.parametrize(("tz", "sunday", "hours"), DST_WEEKS)
    def test_a_week_with_a_clock_change_is_an_hour_short_or_long(self, tz: ZoneInfo, sunday: date, hours: int) -> None:
        """A week in which the clocks change runs from local Monday midnight to the next, 167 or 169 hours."""
        for anchor in (sunday - timedelta(days=6), sunday - timedelta(days=3), sunday):
            r = visible_range("week", anchor, tz)
            assert r.first_day == sunday - timedelta(days=6)
            assert r.last_day == sunday
            assert r.start == midnight(r.first_day, tz)
            assert r.end == midnight(sunday + timedelta(days=1), tz)
            assert r.end - r.start == hours * HOUR
            assert r.days == tuple(r.first_day + timedelta(days=n) for n in range(7))

    def test_week_of_a_wednesday_is_monday_to_sunday(self) -> None:
        """The week view of Wednesday 4 March 2026 shows Monday 2 to Sunday 8 March in UTC-5 and UTC-4."""
        r = visible_range("week", date(2026, 3, 4), NEW_YORK)
        assert (r.first_day, r.last_day) == (date(2026, 3, 2), date(2026, 3, 8))
        assert r.start == datetime(2026, 3, 2, 5, tzinfo=UTC)
        assert r.end == datetime(2026, 3, 9, 4, tzinfo=UTC)
        assert r.view == "week"


class TestDayView:
    @pytest.mark.parametrize(
        ("tz", "day", "hours"),
        [
            (NEW_YORK, date(2026, 3, 8), 23),
            (NEW_YORK, date(2026, 11, 1), 25),
            (LONDON, date(2026, 3, 29), 23),
            (LONDON, date(2026, 10, 25), 25),
            (SYDNEY, date(2026, 10, 4), 23),
            (SYDNEY, date(2026, 4, 5), 25),
            (NEW_YORK, date(2026, 3, 9), 24),
        ],
    )
    def test_a_day_lasts_from_midnight_to_midnight(self, tz: ZoneInfo, day: date, hours: int) -> None:
        """A day view covers one local date, 23 or 25 hours long on the days the clocks change."""
        r = visible_range("day", day, tz)
        assert r.days == (day,)
        assert r.first_day == r.last_day == day
        assert r.start == midnight(day, tz)
        assert r.end - r.start == hours * HOUR

    def test_a_skipped_midnight_starts_the_day_when_the_clocks_jump(self) -> None:
        """In a zone whose clocks skip midnight, the day starts at the first instant of that date."""
        havana = ZoneInfo("America/Havana")  # clocks jump from 00:00 to 01:00 on 8 March 2026
        start = day_start(date(2026, 3, 8), havana)
        assert start.astimezone(havana).date() == date(2026, 3, 8)
        assert (start - timedelta(seconds=1)).astimezone(havana).date() == date(2026, 3, 7)


class TestMonthView:
    def test_april_2026_starts_on_a_wednesday(self) -> None:
        """April 2026 shows whole weeks from Monday 30 March to Sunday 3 May."""
        r = visible_range("month", date(2026, 4, 17), LONDON)
        assert (r.first_day, r.last_day) == (date(2026, 3, 30), date(2026, 5, 3))
        assert len(r.days) == 35
        assert r.start == datetime(2026, 3, 29, 23, tzinfo=UTC)  # BST began on 29 March
        assert r.end == datetime(2026, 5, 3, 23, tzinfo=UTC)

    def test_february_2026_starts_on_a_sunday(self) -> None:
        """February 2026 begins on a Sunday, so its grid starts on Monday 26 January and ends Sunday 1 March."""
        r = visible_range("month", date(2026, 2, 1), NEW_YORK)
        assert (r.first_day, r.last_day) == (date(2026, 1, 26), date(2026, 3, 1))
        assert r.start == datetime(2026, 1, 26, 5, tzinfo=UTC)
        assert r.end == datetime(2026, 3, 2, 5, tzinfo=UTC)

    def test_a_month_starting_on_monday_and_ending_on_sunday_is_exact(self) -> None:
        """June 2026 runs Monday 1 to Tuesday 30, so the grid starts on the 1st and ends Sunday 5 July."""
        r = visible_range("month", date(2026, 6, 30), SYDNEY)
        assert (r.first_day, r.last_day) == (date(2026, 6, 1), date(2026, 7, 5))

    def test_march_2026_in_new_york_spans_the_clock_change(self) -> None:
        """March 2026's grid (23 Feb to 5 Apr) is six weeks less the hour New York skips."""
        r = visible_range("month", date(2026, 3, 1), NEW_YORK)
        assert (r.first_day, r.last_day) == (date(2026, 2, 23), date(2026, 4, 5))
        assert r.end - r.start == timedelta(days=42) - HOUR


class TestNavigation:
    def test_steps_are_a_day_a_week_and_a_month(self) -> None:
        """Previous and next move a day view by a day, a week by seven days and a month to the 1st of its neighbour."""
        anchor = date(2026, 1, 31)
        assert (prev_anchor("day", anchor), next_anchor("day", anchor)) == (date(2026, 1, 30), date(2026, 2, 1))
        assert (prev_anchor("week", anchor), next_anchor("week", anchor)) == (date(2026, 1, 24), date(2026, 2, 7))
        assert (prev_anchor("month", anchor), next_anchor("month", anchor)) == (date(2025, 12, 1), date(2026, 2, 1))

    def test_unknown_view_is_refused_with_the_field(self) -> None:
        """A view other than day, week or month is refused naming the field."""
        with pytest.raises(ValidationError, match="day, week, month") as info:
            check_view("year")
        assert info.value.field == "view"
        with pytest.raises(ValidationError):
            visible_range("year", date(2026, 1, 1), NEW_YORK)  # type: ignore[arg-type]  # refused on purpose


class TestLocalStart:
    def test_a_typed_time_is_read_in_the_org_zone(self) -> None:
        """09:00 on 9 March 2026 in New York (after the change) is 13:00 UTC."""
        assert local_start(date(2026, 3, 9), time(9), NEW_YORK) == datetime(2026, 3, 9, 13, tzinfo=UTC)

    def test_a_skipped_time_is_refused_clearly(self) -> None:
        """02:30 on the morning New York springs forward does not exist and is refused naming the time field."""
        with pytest.raises(ValidationError, match="does not exist") as info:
            local_start(date(2026, 3, 8), time(2, 30), NEW_YORK)
        assert info.value.field == "time"

    def test_a_repeated_time_means_its_first_occurrence(self) -> None:
        """01:30 on the morning New York falls back is its first occurrence, still on daylight time."""
        assert local_start(date(2026, 11, 1), time(1, 30), NEW_YORK) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)


zones = st.sampled_from(
    [NEW_YORK, LONDON, SYDNEY, KOLKATA, ZoneInfo("America/Havana"), ZoneInfo("Australia/Lord_Howe")]
)
anchors = st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 31))
views = st.sampled_from(VIEWS)


class TestRangeProperties:
    @settings(max_examples=300, deadline=None)
    @given(view=views, anchor=anchors, tz=zones)
    def test_range_holds_the_anchor_in_consecutive_days(self, view: CalendarView, anchor: date, tz: ZoneInfo) -> None:
        """Every range holds its anchor in consecutive days, Monday-aligned whole weeks for weeks and months."""
        r = visible_range(view, anchor, tz)
        assert r.first_day <= anchor <= r.last_day
        assert r.days[0] == r.first_day
        assert r.days[-1] == r.last_day
        assert all(b - a == timedelta(days=1) for a, b in zip(r.days, r.days[1:], strict=False))
        assert len(r.days) <= MAX_VIEW_DAYS
        if view != "day":
            assert r.first_day.weekday() == 0
            assert r.last_day.weekday() == 6
        if view == "month":
            first = anchor.replace(day=1)
            assert r.first_day <= first < r.first_day + timedelta(days=7)
            assert r.last_day - timedelta(days=7) < next_anchor("month", anchor) - timedelta(days=1) <= r.last_day

    @settings(max_examples=300, deadline=None)
    @given(view=views, anchor=anchors, tz=zones)
    def test_bounds_are_the_local_starts_of_the_edge_days(self, view: CalendarView, anchor: date, tz: ZoneInfo) -> None:
        """start is the first instant of the first day and end the first instant after the last day, both UTC."""
        r = visible_range(view, anchor, tz)
        assert r.start.tzinfo is UTC
        assert r.end.tzinfo is UTC
        assert r.start.astimezone(tz).date() == r.first_day
        assert (r.start - timedelta(seconds=1)).astimezone(tz).date() < r.first_day
        assert r.end.astimezone(tz).date() == r.last_day + timedelta(days=1)
        assert (r.end - timedelta(seconds=1)).astimezone(tz).date() == r.last_day
        # Clock changes move the length by at most an hour.
        assert abs((r.end - r.start) - timedelta(days=len(r.days))) <= HOUR

    @settings(max_examples=200, deadline=None)
    @given(view=st.sampled_from(["day", "week"]), anchor=anchors, tz=zones)
    def test_days_and_weeks_tile_time(self, view: CalendarView, anchor: date, tz: ZoneInfo) -> None:
        """Consecutive day or week views meet exactly, and previous undoes next."""
        r = visible_range(view, anchor, tz)
        after = visible_range(view, next_anchor(view, anchor), tz)
        assert after.start == r.end
        assert visible_range(view, prev_anchor(view, next_anchor(view, anchor)), tz) == r

    @settings(max_examples=200, deadline=None)
    @given(anchor=anchors, tz=zones)
    def test_next_month_grid_covers_the_next_month(self, anchor: date, tz: ZoneInfo) -> None:
        """The next month's grid starts within the week in which this grid ends, and previous comes back."""
        r = visible_range("month", anchor, tz)
        after = visible_range("month", next_anchor("month", anchor), tz)
        assert r.last_day - timedelta(days=6) <= after.first_day <= r.last_day + timedelta(days=1)
        assert visible_range("month", prev_anchor("month", next_anchor("month", anchor)), tz) == r
