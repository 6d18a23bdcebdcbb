"""Quiet hours: the window itself, checking an instant, and finding the next time to send."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coachos.domain.errors import ValidationError
from coachos.domain.quiet_hours import (
    QuietHours,
    is_quiet,
    next_allowed,
    recipient_zone,
)
from coachos.domain.timezones import first_instant_at_or_after

NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
SYDNEY = ZoneInfo("Australia/Sydney")
KOLKATA = ZoneInfo("Asia/Kolkata")
ZONES = (NEW_YORK, LONDON, SYDNEY, KOLKATA)

#: The 2025 changes of the clocks in each zone, as UTC instants.
TRANSITIONS = {
    NEW_YORK: (datetime(2025, 3, 9, 7, tzinfo=UTC), datetime(2025, 11, 2, 6, tzinfo=UTC)),
    LONDON: (datetime(2025, 3, 30, 1, tzinfo=UTC), datetime(2025, 10, 26, 1, tzinfo=UTC)),
    SYDNEY: (datetime(2025, 4, 5, 16, tzinfo=UTC), datetime(2025, 10, 4, 16, tzinfo=UTC)),
    # Kolkata keeps one offset; an ordinary date stands in so the zone is still exercised.
    KOLKATA: (datetime(2025, 3, 9, 7, tzinfo=UTC), datetime(2025, 11, 2, 6, tzinfo=UTC)),
}


def naive(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A reading of a clock with no zone: what wall-clock helpers take, and what others refuse."""
    return datetime(year, month, day, hour, minute)  # noqa: DTZ001  # naive on purpose, see docstring


def at(tz: ZoneInfo, *fields: int, fold: int = 0) -> datetime:
    """The UTC instant a clock in `tz` shows the given wall-clock time (`fold` picks a repeat)."""
    return naive(*fields).replace(tzinfo=tz, fold=fold).astimezone(UTC)


def wall(instant: datetime, tz: ZoneInfo) -> datetime:
    """What a clock in `tz` shows at `instant`, without the zone."""
    return instant.astimezone(tz).replace(tzinfo=None)


def minute_of_day(minutes: int) -> time:
    return time(minutes // 60, minutes % 60)


# Half the times fall between 00:30 and 03:30, where the clocks of these zones change.
times_of_day = st.one_of(st.integers(0, 24 * 60 - 1), st.integers(30, 210)).map(minute_of_day)
windows = st.builds(QuietHours, times_of_day, times_of_day)


@st.composite
def zone_and_instant(draw: st.DrawFn) -> tuple[ZoneInfo, datetime]:
    """A zone and an instant, mostly within two days of one of its changes of the clocks."""
    tz = draw(st.sampled_from(ZONES))
    near = draw(st.sampled_from(TRANSITIONS[tz]))
    offset = draw(st.one_of(st.integers(-6 * 3600, 6 * 3600), st.integers(-2 * 86400, 2 * 86400)))
    anywhere = draw(
        st.datetimes(min_value=naive(2024, 1, 1), max_value=naive(2027, 1, 1)).map(
            lambda naive: naive.replace(tzinfo=UTC)
        )
    )
    return tz, draw(st.sampled_from((near + timedelta(seconds=offset), anywhere)))


class TestQuietHours:
    """The quiet-hours window as a value."""

    def test_defaults_to_nine_pm_until_eight_am(self) -> None:
        """Without arguments the window runs from 21:00 to 08:00."""
        assert QuietHours() == QuietHours(time(21, 0), time(8, 0))

    def test_refuses_a_time_with_a_zone(self) -> None:
        """A start carrying its own zone is refused, because the recipient's zone applies."""
        with pytest.raises(ValidationError) as caught:
            QuietHours(start=time(21, 0, tzinfo=UTC))
        assert caught.value.field == "start"

    def test_refuses_something_that_is_not_a_time(self) -> None:
        """An end given as text is refused with the field named."""
        with pytest.raises(ValidationError) as caught:
            QuietHours(end="08:00")  # type: ignore[arg-type]
        assert caught.value.field == "end"

    def test_refuses_a_datetime(self) -> None:
        """A full date and time is not a time of day and is refused."""
        with pytest.raises(ValidationError):
            QuietHours(start=naive(2025, 1, 1, 21, 0))  # type: ignore[arg-type]

    def test_window_crossing_midnight_covers_evening_and_early_morning(self) -> None:
        """A 21:00-08:00 window covers 21:00 and 07:59 but not 08:00 or 20:59."""
        window = QuietHours(time(21, 0), time(8, 0))
        assert window.covers(time(21, 0))
        assert window.covers(time(7, 59))
        assert window.covers(time(0, 0))
        assert not window.covers(time(8, 0))
        assert not window.covers(time(20, 59))

    def test_window_within_a_day_covers_only_its_hours(self) -> None:
        """A 13:00-14:00 window covers 13:30 but not 14:00 or 12:59."""
        window = QuietHours(time(13, 0), time(14, 0))
        assert window.covers(time(13, 30))
        assert not window.covers(time(14, 0))
        assert not window.covers(time(12, 59))

    def test_equal_start_and_end_mean_no_quiet_hours(self) -> None:
        """A window starting and ending at the same time covers nothing."""
        window = QuietHours(time(22, 0), time(22, 0))
        assert window.is_empty
        assert not window.covers(time(22, 0))
        assert not window.covers(time(3, 0))


class TestIsQuiet:
    """Whether an instant falls in quiet hours on the recipient's clock."""

    def test_late_evening_local_is_quiet(self) -> None:
        """22:00 in New York is quiet even though it is 03:00 the next day in UTC."""
        assert is_quiet(at(NEW_YORK, 2025, 1, 15, 22, 0), QuietHours(), NEW_YORK)

    def test_midday_local_is_not_quiet(self) -> None:
        """Noon in Sydney is not quiet."""
        assert not is_quiet(at(SYDNEY, 2025, 1, 15, 12, 0), QuietHours(), SYDNEY)

    def test_judges_by_the_given_zone(self) -> None:
        """The same instant is quiet in London (22:00) but not in Kolkata (03:30 the next day)."""
        instant = datetime(2025, 1, 15, 22, 0, tzinfo=UTC)
        window = QuietHours(time(21, 0), time(23, 0))
        assert is_quiet(instant, window, LONDON)
        assert not is_quiet(instant, window, KOLKATA)

    def test_accepts_any_aware_instant(self) -> None:
        """An instant given in another zone is converted before being judged."""
        instant = datetime(2025, 1, 15, 12, 0, tzinfo=KOLKATA)  # 06:30 UTC, 01:30 in New York
        assert is_quiet(instant, QuietHours(), NEW_YORK)

    def test_refuses_a_naive_instant(self) -> None:
        """An instant without a zone is refused."""
        with pytest.raises(ValidationError):
            is_quiet(naive(2025, 1, 15, 12, 0), QuietHours(), LONDON)

    def test_repeated_hour_is_quiet_on_both_passes(self) -> None:
        """A 01:00-01:30 window applies on both passes of New York's repeated hour."""
        window = QuietHours(time(1, 0), time(1, 30))
        assert is_quiet(at(NEW_YORK, 2025, 11, 2, 1, 10, fold=0), window, NEW_YORK)
        assert is_quiet(at(NEW_YORK, 2025, 11, 2, 1, 10, fold=1), window, NEW_YORK)
        assert not is_quiet(at(NEW_YORK, 2025, 11, 2, 1, 40, fold=0), window, NEW_YORK)


class TestNextAllowed:
    """The earliest instant a message may be sent."""

    def test_outside_quiet_hours_is_now(self) -> None:
        """An instant outside quiet hours is returned unchanged, in UTC."""
        instant = datetime(2025, 6, 1, 12, 0, tzinfo=LONDON)
        result = next_allowed(instant, QuietHours(), LONDON)
        assert result == instant
        assert result.tzinfo is UTC

    def test_evening_waits_for_the_morning(self) -> None:
        """At 23:00 in New York the next allowed time is 08:00 the next morning."""
        result = next_allowed(at(NEW_YORK, 2025, 1, 15, 23, 0), QuietHours(), NEW_YORK)
        assert result == at(NEW_YORK, 2025, 1, 16, 8, 0)

    def test_early_morning_waits_for_the_same_morning(self) -> None:
        """At 03:00 in Kolkata the next allowed time is 08:00 the same day."""
        result = next_allowed(at(KOLKATA, 2025, 1, 15, 3, 0), QuietHours(), KOLKATA)
        assert result == at(KOLKATA, 2025, 1, 15, 8, 0)

    def test_window_within_a_day_ends_the_same_day(self) -> None:
        """Inside a 13:00-14:00 window the next allowed time is 14:00."""
        window = QuietHours(time(13, 0), time(14, 0))
        result = next_allowed(at(LONDON, 2025, 1, 15, 13, 20), window, LONDON)
        assert result == at(LONDON, 2025, 1, 15, 14, 0)

    def test_no_quiet_hours_never_delays(self) -> None:
        """With start equal to end a message at 03:00 goes at once."""
        instant = at(LONDON, 2025, 1, 15, 3, 0)
        assert next_allowed(instant, QuietHours(time(3, 0), time(3, 0)), LONDON) == instant

    def test_refuses_a_naive_instant(self) -> None:
        """An instant without a zone is refused."""
        with pytest.raises(ValidationError):
            next_allowed(naive(2025, 1, 15, 23, 0), QuietHours(), LONDON)

    @pytest.mark.parametrize(
        ("tz", "quiet_at", "jump"),
        [
            (NEW_YORK, naive(2025, 3, 9, 0, 0), datetime(2025, 3, 9, 7, 0, tzinfo=UTC)),
            (LONDON, naive(2025, 3, 30, 0, 10), datetime(2025, 3, 30, 1, 0, tzinfo=UTC)),
            (SYDNEY, naive(2025, 10, 5, 0, 15), datetime(2025, 10, 4, 16, 0, tzinfo=UTC)),
        ],
        ids=["new-york", "london", "sydney"],
    )
    def test_end_skipped_by_spring_forward_ends_at_the_jump(
        self, tz: ZoneInfo, quiet_at: datetime, jump: datetime
    ) -> None:
        """When the clocks jump over the end time, quiet hours end at the moment of the jump."""
        window = QuietHours(time(21, 0), time(1, 30) if tz is LONDON else time(2, 30))
        assert next_allowed(quiet_at.replace(tzinfo=tz), window, tz) == jump

    @pytest.mark.parametrize(
        ("tz", "day"),
        [(NEW_YORK, (2025, 11, 2)), (LONDON, (2025, 10, 26)), (SYDNEY, (2025, 4, 6))],
        ids=["new-york", "london", "sydney"],
    )
    def test_end_repeated_by_fall_back_is_its_first_occurrence(self, tz: ZoneInfo, day: tuple[int, int, int]) -> None:
        """When the end time happens twice, quiet hours first end at its earlier occurrence."""
        end = time(2, 30) if tz is SYDNEY else time(1, 30)
        window = QuietHours(time(21, 0), end)
        result = next_allowed(at(tz, *day, 0, 5), window, tz)
        assert result == at(tz, *day, end.hour, end.minute, fold=0)
        assert result != at(tz, *day, end.hour, end.minute, fold=1)

    def test_second_pass_of_repeated_hour_waits_for_the_second_end(self) -> None:
        """Quiet again on the repeated pass through 01:10, the wait lasts until 01:30 EST."""
        window = QuietHours(time(1, 0), time(1, 30))
        result = next_allowed(at(NEW_YORK, 2025, 11, 2, 1, 10, fold=1), window, NEW_YORK)
        assert result == at(NEW_YORK, 2025, 11, 2, 1, 30, fold=1)

    @pytest.mark.parametrize(
        ("tz", "quiet_at", "back"),
        [
            (NEW_YORK, (2025, 11, 2, 1, 45), datetime(2025, 11, 2, 6, 0, tzinfo=UTC)),
            (SYDNEY, (2025, 4, 6, 2, 45), datetime(2025, 4, 5, 16, 0, tzinfo=UTC)),
        ],
        ids=["new-york", "sydney"],
    )
    def test_clocks_going_back_before_the_start_end_quiet_hours(
        self, tz: ZoneInfo, quiet_at: tuple[int, ...], back: datetime
    ) -> None:
        """When the clocks go back to before the start, the moment they do so is allowed."""
        window = QuietHours(time(quiet_at[3], 30), time(8, 0))
        assert next_allowed(at(tz, *quiet_at), window, tz) == back

    @settings(max_examples=300, deadline=None)
    @given(zone_and_instant(), windows)
    def test_result_is_the_first_instant_outside_quiet_hours(
        self, zone_instant: tuple[ZoneInfo, datetime], window: QuietHours
    ) -> None:
        """The result is not quiet, not before the instant, and every minute before it is quiet."""
        tz, instant = zone_instant
        result = next_allowed(instant, window, tz)
        assert result >= instant
        assert result.tzinfo is UTC
        assert not is_quiet(result, window, tz)
        probe = instant
        while probe < result:
            assert is_quiet(probe, window, tz), f"{wall(probe, tz)} is allowed before {result}"
            probe += timedelta(minutes=1)
        if result > instant:
            assert is_quiet(result - timedelta(seconds=1), window, tz)

    @settings(max_examples=100, deadline=None)
    @given(zone_and_instant(), windows)
    def test_is_idempotent(self, zone_instant: tuple[ZoneInfo, datetime], window: QuietHours) -> None:
        """Asking again from the allowed instant returns that same instant."""
        tz, instant = zone_instant
        result = next_allowed(instant, window, tz)
        assert next_allowed(result, window, tz) == result

    @settings(max_examples=100, deadline=None)
    @given(
        st.datetimes(min_value=naive(2024, 1, 1), max_value=naive(2027, 1, 1)),
        windows,
    )
    def test_without_clock_changes_quiet_hours_end_at_the_end_time(self, naive: datetime, window: QuietHours) -> None:
        """In Kolkata a delayed message always goes exactly at the window's end time."""
        instant = naive.replace(tzinfo=UTC)
        result = next_allowed(instant, window, KOLKATA)
        if result != instant:
            assert wall(result, KOLKATA).time() == window.end
            assert result - instant <= timedelta(days=1)


class TestRecipientZone:
    """Choosing the zone quiet hours are judged in."""

    def test_uses_the_recipients_own_zone(self) -> None:
        """A recipient with a zone gets that zone rather than the org's."""
        assert recipient_zone("Australia/Sydney", "Europe/London") == SYDNEY

    def test_falls_back_to_the_org_zone(self) -> None:
        """A recipient without a zone gets the org's."""
        assert recipient_zone(None, "Asia/Kolkata") == KOLKATA

    def test_blank_recipient_zone_counts_as_none(self) -> None:
        """An empty recipient zone (as a blank form field gives) falls back to the org's."""
        assert recipient_zone("  ", "America/New_York") == NEW_YORK

    def test_refuses_an_unknown_recipient_zone(self) -> None:
        """A misspelt recipient zone is refused rather than replaced by the org's."""
        with pytest.raises(ValidationError) as caught:
            recipient_zone("Europe/Londn", "Europe/London")
        assert caught.value.field == "timezone"

    def test_refuses_an_unknown_org_zone(self) -> None:
        """A misspelt org zone is refused when it is needed."""
        with pytest.raises(ValidationError):
            recipient_zone(None, "Mars/Olympus")


class TestFirstInstantAtOrAfter:
    """The first instant a local clock reaches a wall-clock time."""

    def test_ordinary_time_is_its_only_occurrence(self) -> None:
        """09:00 on an ordinary London summer day is 08:00 UTC."""
        result = first_instant_at_or_after(naive(2025, 7, 1, 9, 0), LONDON)
        assert result == datetime(2025, 7, 1, 8, 0, tzinfo=UTC)

    def test_skipped_time_is_the_jump(self) -> None:
        """02:30 on New York's spring-forward day is reached at the jump, 07:00 UTC."""
        result = first_instant_at_or_after(naive(2025, 3, 9, 2, 30), NEW_YORK)
        assert result == datetime(2025, 3, 9, 7, 0, tzinfo=UTC)

    def test_repeated_time_is_its_first_occurrence(self) -> None:
        """02:30 on Sydney's fall-back day is first reached in summer time, at 15:30 UTC."""
        result = first_instant_at_or_after(naive(2025, 4, 6, 2, 30), SYDNEY)
        assert result == datetime(2025, 4, 5, 15, 30, tzinfo=UTC)

    def test_refuses_an_aware_wall_time(self) -> None:
        """A wall-clock time carrying a zone is refused."""
        with pytest.raises(ValidationError):
            first_instant_at_or_after(datetime(2025, 7, 1, 9, 0, tzinfo=UTC), LONDON)

    @settings(max_examples=200, deadline=None)
    @given(zone_and_instant(), st.integers(-180, 180))
    def test_nothing_earlier_shows_that_time_or_later(
        self, zone_instant: tuple[ZoneInfo, datetime], shift: int
    ) -> None:
        """The clock shows the time or later at the result and an earlier time just before it."""
        tz, instant = zone_instant
        # Shifting the reading on the clock (not the instant) lands in skipped hours too.
        local = wall(instant, tz).replace(second=0, microsecond=0, fold=0)
        local += timedelta(minutes=shift)
        result = first_instant_at_or_after(local, tz)
        assert wall(result, tz) >= local
        assert wall(result - timedelta(seconds=1), tz) < local
