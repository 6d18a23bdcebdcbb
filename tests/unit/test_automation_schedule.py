"""Cron schedules read on an organisation's clock, and the latest due time in a window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coachos.domain.automations import CronSchedule, latest_due
from coachos.domain.errors import ValidationError

NY = ZoneInfo("America/New_York")
_MINUTE = timedelta(minutes=1)


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


class TestCronParsing:
    def test_fields_with_lists_ranges_and_steps(self) -> None:
        """Lists, ranges and steps expand to the minutes, hours and days they name."""
        s = CronSchedule.parse("*/15 9-11,14 1 1-3 1-5")
        assert s.minutes == {0, 15, 30, 45}
        assert s.hours == {9, 10, 11, 14}
        assert s.days == {1}
        assert s.months == {1, 2, 3}
        assert s.weekdays == {1, 2, 3, 4, 5}

    def test_sunday_is_zero_or_seven(self) -> None:
        """Sunday may be written 0 or 7."""
        assert CronSchedule.parse("0 9 * * 7").weekdays == CronSchedule.parse("0 9 * * 0").weekdays == {0}

    def test_start_with_step_runs_to_the_end(self) -> None:
        """'5/20' in the minute field means 5, 25 and 45."""
        assert CronSchedule.parse("5/20 * * * *").minutes == {5, 25, 45}

    @pytest.mark.parametrize(
        "expression",
        ["", "* * * *", "* * * * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *", "* * * * 8",
         "*/0 * * * *", "5-1 * * * *", "a * * * *", "1,,2 * * * *", "-1 * * * *", "٣ * * * *", "0 0 30 2 *",
         "0\x00 * * * *", "9999 * * * *"],
    )  # fmt: skip
    def test_bad_expressions_name_the_schedule_field(self, expression: str) -> None:
        """A malformed expression is a ValidationError naming the schedule field."""
        with pytest.raises(ValidationError) as err:
            CronSchedule.parse(expression)
        assert err.value.field == "schedule"


class TestLatestDue:
    def test_missed_hours_run_once_at_the_latest(self) -> None:
        """After three hours of downtime an hourly schedule is due once, at the latest hour."""
        s = CronSchedule.parse("0 * * * *")
        assert latest_due(s, ZoneInfo("UTC"), _utc(2026, 5, 1, 12, 30), _utc(2026, 5, 1, 9, 0)) == _utc(
            2026, 5, 1, 12, 0
        )

    def test_not_due_in_the_window_is_none(self) -> None:
        """A schedule with no due time in the window gives None."""
        s = CronSchedule.parse("0 9 * * 1")
        assert latest_due(s, NY, _utc(2026, 5, 5, 12), _utc(2026, 5, 4, 14)) is None

    def test_skipped_local_time_runs_when_the_clocks_jump(self) -> None:
        """02:30 on the spring-forward day (it never happens in New York) is due at 03:00 EDT."""
        s = CronSchedule.parse("30 2 * * *")
        due = latest_due(s, NY, _utc(2026, 3, 8, 12), _utc(2026, 3, 8, 0))
        assert due == datetime(2026, 3, 8, 3, 0, tzinfo=NY).astimezone(UTC)

    def test_repeated_local_time_runs_once(self) -> None:
        """01:30 on the fall-back day (it happens twice) is due only at its first occurrence."""
        s = CronSchedule.parse("30 1 * * *")
        first = datetime(2026, 11, 1, 1, 30, tzinfo=NY).astimezone(UTC)
        assert latest_due(s, NY, _utc(2026, 11, 1, 12), _utc(2026, 11, 1, 0)) == first
        assert latest_due(s, NY, _utc(2026, 11, 1, 12), first) is None

    def test_instants_outside_the_years_window_are_refused(self) -> None:
        """A `now` in year 9999 is a ValidationError naming it."""
        with pytest.raises(ValidationError) as err:
            latest_due(CronSchedule.parse("* * * * *"), NY, datetime(9999, 1, 1, tzinfo=UTC), _utc(2026, 1, 1))
        assert err.value.field == "now"


# Zones with DST of an hour, of half an hour (Lord Howe), in the southern hemisphere, and none.
_ZONES = ["America/New_York", "Europe/London", "Australia/Lord_Howe", "America/Sao_Paulo", "Asia/Kolkata", "UTC"]
# Windows start near DST changes often enough to test them.
_STARTS = [_utc(2026, 3, 7), _utc(2026, 10, 31), _utc(2026, 4, 4), _utc(2026, 9, 26), _utc(2026, 6, 1)]


def _field(lo: int, hi: int) -> st.SearchStrategy[str]:
    num = st.integers(lo, hi).map(str)
    rng = st.tuples(st.integers(lo, hi), st.integers(lo, hi)).map(lambda p: f"{min(p)}-{max(p)}")
    base = st.one_of(st.just("*"), num, rng)
    item = st.one_of(base, st.tuples(base, st.integers(1, 12)).map(lambda p: f"{p[0]}/{p[1]}"))
    return st.lists(item, min_size=1, max_size=3).map(",".join)


def _often_any(field: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    # Random days and months rarely meet the few dates with a clock change; '*' often does.
    return st.one_of(st.just("*"), field)


_EXPRESSIONS = st.tuples(
    _field(0, 59),
    _often_any(_field(0, 23)),
    _often_any(_field(1, 31)),
    _often_any(_field(1, 12)),
    _often_any(_field(0, 7)),
).map(" ".join)


def _brute_force(s: CronSchedule, tz: ZoneInfo, now: datetime, since: datetime) -> datetime | None:
    """Every UTC minute in (since, now], newest first: due if its local reading matches (first
    occurrence only), or if it ends a jump of the clocks that skipped a matching local minute."""
    t = now.replace(second=0, microsecond=0)
    while t > since:
        local = t.astimezone(tz)
        if local.fold == 0 and s.on_date(local.date()) and s.at_time(local.hour, local.minute):
            return t
        before = (t - _MINUTE).astimezone(tz).replace(tzinfo=None)
        skipped = before + _MINUTE
        while skipped < local.replace(tzinfo=None):
            if s.on_date(skipped.date()) and s.at_time(skipped.hour, skipped.minute):
                return t
            skipped += _MINUTE
        t -= _MINUTE
    return None


class TestLatestDueAgreesWithBruteForce:
    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        expression=_EXPRESSIONS.filter(lambda e: _parses(e)),
        zone_name=st.sampled_from(_ZONES),
        start=st.sampled_from(_STARTS),
        offset=st.integers(0, 3 * 24 * 60),
        length=st.integers(0, 2 * 24 * 60),
        seconds=st.integers(0, 59),
    )
    def test_matches_a_minute_by_minute_reference(
        self, expression: str, zone_name: str, start: datetime, offset: int, length: int, seconds: int
    ) -> None:
        """latest_due finds the same instant as checking every minute of the window."""
        s, tz = CronSchedule.parse(expression), ZoneInfo(zone_name)
        since = start + timedelta(minutes=offset, seconds=seconds)
        now = since + timedelta(minutes=length, seconds=seconds)
        assert latest_due(s, tz, now, since) == _brute_force(s, tz, now, since)

    @settings(max_examples=300, deadline=None)
    @given(
        minute=st.integers(0, 59),
        hour=st.integers(0, 3),
        zone_name=st.sampled_from(_ZONES[:4]),
        start=st.sampled_from(_STARTS[:4]),
        offset=st.integers(0, 3 * 24 * 60),
        length=st.integers(0, 24 * 60),
    )
    def test_daily_times_near_clock_changes_match_the_reference(
        self, minute: int, hour: int, zone_name: str, start: datetime, offset: int, length: int
    ) -> None:
        """A daily time in the small hours, where clocks change, is due when the minute-by-minute reference says."""
        s, tz = CronSchedule.parse(f"{minute} {hour} * * *"), ZoneInfo(zone_name)
        now = start + timedelta(minutes=offset)
        since = now - timedelta(minutes=length)
        assert latest_due(s, tz, now, since) == _brute_force(s, tz, now, since)


def _parses(expression: str) -> bool:
    try:
        CronSchedule.parse(expression)
    except ValidationError:
        return False
    return True
