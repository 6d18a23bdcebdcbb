"""Availability rules, overrides and busy time, and the slots computed from them."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coachos.domain.availability import (
    BusyBlock,
    DateOverride,
    Slot,
    WeeklyRule,
    compute_slots,
    is_offered,
)
from coachos.domain.errors import ValidationError
from coachos.domain.policy import BookingPolicy

NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
SYDNEY = ZoneInfo("Australia/Sydney")
KOLKATA = ZoneInfo("Asia/Kolkata")

COACH = UUID("00000000-0000-4000-8000-00000000c0ac")
OTHER_COACH = UUID("00000000-0000-4000-8000-0000000000c2")
SERVICE = UUID("00000000-0000-4000-8000-00000000005e")
OTHER_SERVICE = UUID("00000000-0000-4000-8000-0000000000e2")

MON, SUN = 0, 6
HOUR = timedelta(hours=1)
#: No notice and a long horizon, so examples only see the rule under test.
OPEN_POLICY = BookingPolicy(min_notice=timedelta(0), horizon=timedelta(days=3650))
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)

#: Local dates on which the clocks change in 2025.
SPRING_FORWARD = {
    NEW_YORK: date(2025, 3, 9),
    LONDON: date(2025, 3, 30),
    SYDNEY: date(2025, 10, 5),
}
FALL_BACK = {
    NEW_YORK: date(2025, 11, 2),
    LONDON: date(2025, 10, 26),
    SYDNEY: date(2025, 4, 6),
}


def naive(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A datetime with no zone, which everything here must refuse."""
    return datetime(year, month, day, hour, minute)  # noqa: DTZ001  # naive on purpose, see docstring


def at(tz: ZoneInfo, day: date, hour: int, minute: int = 0, *, fold: int = 0) -> datetime:
    """The UTC instant a clock in `tz` shows `hour:minute` on `day`."""
    local = datetime.combine(day, time(hour, minute), tzinfo=tz).replace(fold=fold)
    return local.astimezone(UTC)


def local_times(slots: list[Slot], tz: ZoneInfo) -> list[str]:
    """The slots' starts as 'HH:MM' on a clock in `tz`."""
    return [f"{slot.start.astimezone(tz):%H:%M}" for slot in slots]


def slots_on(
    day: date,
    tz: ZoneInfo,
    rules: list[WeeklyRule],
    *,
    overrides: tuple[DateOverride, ...] = (),
    busy: tuple[BusyBlock, ...] = (),
    duration: timedelta = HOUR,
    capacity: int = 1,
    policy: BookingPolicy = OPEN_POLICY,
    now: datetime = LONG_AGO,
) -> list[Slot]:
    """The slots of SERVICE with COACH on local date `day`."""
    return compute_slots(
        coach_id=COACH,
        service_id=SERVICE,
        duration=duration,
        capacity=capacity,
        rules=rules,
        overrides=overrides,
        busy=busy,
        policy=policy,
        tz=tz,
        now=now,
        start=at(tz, day, 0),
        end=at(tz, day + timedelta(days=1), 0),
    )


def rule(day: date, start: time, end: time, coach: UUID = COACH) -> WeeklyRule:
    """A weekly rule on `day`'s weekday."""
    return WeeklyRule(coach, day.weekday(), start, end)


def off(day: date, start: time | None = None, end: time | None = None) -> DateOverride:
    """Time off for COACH on `day` (the whole day without times)."""
    return DateOverride(uuid4(), COACH, day, available=False, start=start, end=end)


def extra(day: date, start: time, end: time) -> DateOverride:
    """Extra hours for COACH on `day`."""
    return DateOverride(uuid4(), COACH, day, available=True, start=start, end=end)


MONDAY = date(2025, 6, 2)


class TestWeeklyRule:
    """A recurring weekly period of availability."""

    def test_accepts_a_daytime_rule(self) -> None:
        """Monday 09:00-17:00 is a valid rule."""
        assert WeeklyRule(COACH, MON, time(9), time(17)).weekday == MON

    @pytest.mark.parametrize("weekday", [-1, 7, True, 1.0])
    def test_refuses_a_weekday_outside_monday_to_sunday(self, weekday: object) -> None:
        """A weekday must be a whole number from 0 to 6."""
        with pytest.raises(ValidationError) as caught:
            WeeklyRule(COACH, weekday, time(9), time(17))  # type: ignore[arg-type]
        assert caught.value.field == "weekday"

    def test_refuses_hours_across_midnight_and_says_so(self) -> None:
        """22:00-02:00 is refused with a message about midnight."""
        with pytest.raises(ValidationError) as caught:
            WeeklyRule(COACH, MON, time(22), time(2))
        assert caught.value.field == "end"
        assert "midnight" in caught.value.message

    def test_refuses_an_empty_rule(self) -> None:
        """A rule ending when it starts is refused."""
        with pytest.raises(ValidationError):
            WeeklyRule(COACH, MON, time(9), time(9))

    def test_refuses_a_time_with_a_zone(self) -> None:
        """A start with its own zone is refused, because the org's zone applies."""
        with pytest.raises(ValidationError) as caught:
            WeeklyRule(COACH, MON, time(9, tzinfo=UTC), time(17))
        assert caught.value.field == "start"


class TestDateOverride:
    """A change to one date's availability."""

    def test_whole_day_off_needs_no_times(self) -> None:
        """Time off without times is the whole day."""
        assert off(MONDAY).period is None

    def test_part_of_a_day_off_has_its_hours(self) -> None:
        """Time off with both times covers those hours."""
        assert off(MONDAY, time(12), time(14)).period == (time(12), time(14))

    def test_extra_hours_need_times(self) -> None:
        """Extra hours without times are refused."""
        with pytest.raises(ValidationError):
            DateOverride(uuid4(), COACH, MONDAY, available=True)

    def test_refuses_only_one_time(self) -> None:
        """Time off with a start and no end is refused, naming the missing end."""
        with pytest.raises(ValidationError) as caught:
            DateOverride(uuid4(), COACH, MONDAY, available=False, start=time(12))
        assert caught.value.field == "end"

    def test_refuses_an_end_before_the_start(self) -> None:
        """Extra hours ending before they start are refused."""
        with pytest.raises(ValidationError) as caught:
            extra(MONDAY, time(18), time(17))
        assert caught.value.field == "end"


class TestBusyBlock:
    """Time already taken on the coach's calendar."""

    def test_stores_instants_in_utc(self) -> None:
        """A block given in local time is kept as the same instants in UTC."""
        block = BusyBlock(at(SYDNEY, MONDAY, 9).astimezone(SYDNEY), at(SYDNEY, MONDAY, 10))
        assert block.start.tzinfo is UTC
        assert block.start == at(SYDNEY, MONDAY, 9)

    def test_refuses_a_naive_instant(self) -> None:
        """A block without a zone is refused."""
        with pytest.raises(ValidationError) as caught:
            BusyBlock(naive(2025, 6, 2, 9), at(LONDON, MONDAY, 10))
        assert caught.value.field == "start"

    def test_refuses_an_end_before_the_start(self) -> None:
        """A block ending when it starts is refused."""
        with pytest.raises(ValidationError):
            BusyBlock(at(LONDON, MONDAY, 9), at(LONDON, MONDAY, 9))

    def test_refuses_negative_free_places(self) -> None:
        """A block cannot have fewer than zero free places."""
        with pytest.raises(ValidationError):
            BusyBlock(at(LONDON, MONDAY, 9), at(LONDON, MONDAY, 10), SERVICE, -1)


class TestComputeSlots:
    """Turning availability and busy time into bookable slots."""

    def test_steps_through_a_rule_by_the_slot_interval(self) -> None:
        """A 09:00-12:00 rule with hour sessions every 30 minutes offers 09:00 to 11:00."""
        slots = slots_on(MONDAY, LONDON, [rule(MONDAY, time(9), time(12))])
        assert local_times(slots, LONDON) == ["09:00", "09:30", "10:00", "10:30", "11:00"]
        assert all(slot.end - slot.start == HOUR for slot in slots)
        assert all(slot.seats_left == 1 for slot in slots)

    def test_slots_are_in_utc_for_the_org_zone(self) -> None:
        """09:00 in Kolkata is offered as 03:30 UTC."""
        slots = slots_on(MONDAY, KOLKATA, [rule(MONDAY, time(9), time(10))])
        assert [slot.start for slot in slots] == [datetime(2025, 6, 2, 3, 30, tzinfo=UTC)]
        assert slots[0].coach_id == COACH
        assert slots[0].service_id == SERVICE

    def test_ignores_other_coaches_hours(self) -> None:
        """Another coach's rule and extra hours offer nothing for this coach."""
        theirs = DateOverride(uuid4(), OTHER_COACH, MONDAY, True, time(13), time(15))
        slots = slots_on(MONDAY, LONDON, [rule(MONDAY, time(9), time(12), OTHER_COACH)], overrides=(theirs,))
        assert slots == []

    def test_ignores_rules_of_other_weekdays(self) -> None:
        """A Tuesday rule offers nothing on a Monday."""
        assert slots_on(MONDAY, LONDON, [WeeklyRule(COACH, 1, time(9), time(12))]) == []

    @pytest.mark.parametrize("tz", [NEW_YORK, LONDON, SYDNEY])
    @pytest.mark.parametrize("changes", [SPRING_FORWARD, FALL_BACK], ids=["spring", "fall"])
    def test_nine_oclock_stays_nine_oclock_across_a_clock_change(
        self, tz: ZoneInfo, changes: dict[ZoneInfo, date]
    ) -> None:
        """A 09:00 rule offers 09:00 local in the weeks before and after the clocks change."""
        change = changes[tz]
        before, after = change - timedelta(days=7), change + timedelta(days=7)
        rules = [rule(change, time(9), time(10))]
        first = slots_on(before, tz, rules)
        second = slots_on(after, tz, rules)
        assert local_times(first, tz) == local_times(second, tz) == ["09:00"]
        assert (second[0].start - first[0].start) % timedelta(days=1) != timedelta(0)

    @pytest.mark.parametrize(
        ("tz", "expected"),
        [
            (NEW_YORK, ["00:30", "01:00", "01:30", "03:00", "03:30"]),
            (LONDON, ["00:00", "00:30", "02:00", "02:30", "03:00", "03:30"]),
            (SYDNEY, ["00:30", "01:00", "01:30", "03:00", "03:30"]),
        ],
    )
    def test_skipped_times_are_not_offered(self, tz: ZoneInfo, expected: list[str]) -> None:
        """On spring-forward night the skipped hour offers nothing and the rest is kept."""
        day = SPRING_FORWARD[tz]
        start = time(0, 0) if tz is LONDON else time(0, 30)
        slots = slots_on(day, tz, [rule(day, start, time(4, 30))])
        assert local_times(slots, tz) == expected

    def test_session_across_the_jump_ends_in_real_time(self) -> None:
        """An hour from 01:30 EST on spring-forward night ends at 03:30 EDT, within a 04:00 end."""
        day = SPRING_FORWARD[NEW_YORK]
        slots = slots_on(day, NEW_YORK, [rule(day, time(1, 30), time(4))])
        assert local_times(slots, NEW_YORK) == ["01:30", "03:00"]
        assert slots[0].end == at(NEW_YORK, day, 3, 30)

    def test_rule_ending_in_the_skipped_hour_ends_at_the_jump(self) -> None:
        """A rule until 02:30 on New York's spring-forward night ends at 03:00 EDT."""
        day = SPRING_FORWARD[NEW_YORK]
        slots = slots_on(day, NEW_YORK, [rule(day, time(0), time(2, 30))])
        assert local_times(slots, NEW_YORK) == ["00:00", "00:30", "01:00"]
        assert slots[-1].end == datetime(2025, 3, 9, 7, 0, tzinfo=UTC)

    @pytest.mark.parametrize("tz", [NEW_YORK, LONDON, SYDNEY])
    def test_repeated_times_are_offered_once_at_the_first_pass(self, tz: ZoneInfo) -> None:
        """On fall-back night each wall-clock time is offered once, at its first occurrence."""
        day = FALL_BACK[tz]
        slots = slots_on(day, tz, [rule(day, time(0), time(4))], duration=HOUR / 2)
        assert local_times(slots, tz) == [f"{minutes // 60:02d}:{minutes % 60:02d}" for minutes in range(0, 240, 30)]
        repeated = 2 if tz is SYDNEY else 1
        assert slots[2 * repeated].start == at(tz, day, repeated, fold=0)
        assert slots[2 * repeated].start != at(tz, day, repeated, fold=1)

    def test_sessions_must_end_within_the_period(self) -> None:
        """A 90-minute session in a 09:00-11:00 rule can start no later than 09:30."""
        slots = slots_on(MONDAY, LONDON, [rule(MONDAY, time(9), time(11))], duration=timedelta(minutes=90))
        assert local_times(slots, LONDON) == ["09:00", "09:30"]

    def test_overlapping_rules_offer_each_time_once_from_the_earliest_start(self) -> None:
        """Rules 09:00-11:00 and 10:15-12:00 merge into one period stepped from 09:00."""
        rules = [rule(MONDAY, time(9), time(11)), rule(MONDAY, time(10, 15), time(12))]
        slots = slots_on(MONDAY, LONDON, rules)
        assert local_times(slots, LONDON) == ["09:00", "09:30", "10:00", "10:30", "11:00"]

    def test_touching_rules_let_a_session_span_both(self) -> None:
        """Rules 09:00-10:00 and 10:00-11:00 allow an hour starting at 09:30."""
        rules = [rule(MONDAY, time(9), time(10)), rule(MONDAY, time(10), time(11))]
        assert "09:30" in local_times(slots_on(MONDAY, LONDON, rules), LONDON)

    def test_whole_day_off_removes_that_day_only(self) -> None:
        """A day off empties that Monday while the next Monday is still offered."""
        rules = [rule(MONDAY, time(9), time(11))]
        assert slots_on(MONDAY, LONDON, rules, overrides=(off(MONDAY),)) == []
        next_week = MONDAY + timedelta(days=7)
        assert len(slots_on(next_week, LONDON, rules, overrides=(off(MONDAY),))) == 3

    def test_part_of_the_day_off_splits_the_period(self) -> None:
        """Time off 10:00-11:15 leaves 09:00 and starts again from 11:15."""
        slots = slots_on(
            MONDAY,
            LONDON,
            [rule(MONDAY, time(9), time(13))],
            overrides=(off(MONDAY, time(10), time(11, 15)),),
        )
        assert local_times(slots, LONDON) == ["09:00", "11:15", "11:45"]

    def test_extra_hours_on_a_day_without_rules(self) -> None:
        """Extra hours on a Saturday are offered though no weekly rule covers Saturdays."""
        saturday = MONDAY + timedelta(days=5)
        slots = slots_on(saturday, LONDON, [], overrides=(extra(saturday, time(14), time(16)),))
        assert local_times(slots, LONDON) == ["14:00", "14:30", "15:00"]

    def test_extra_hours_extend_a_rule(self) -> None:
        """Extra hours 11:00-13:00 after a 09:00-11:00 rule make one period to 13:00."""
        slots = slots_on(
            MONDAY,
            LONDON,
            [rule(MONDAY, time(9), time(11))],
            overrides=(extra(MONDAY, time(11), time(13)),),
        )
        assert local_times(slots, LONDON)[-1] == "12:00"
        assert len(slots) == 7

    def test_time_off_wins_over_extra_hours(self) -> None:
        """Extra hours inside a day off are not offered."""
        slots = slots_on(
            MONDAY,
            LONDON,
            [],
            overrides=(extra(MONDAY, time(14), time(16)), off(MONDAY)),
        )
        assert slots == []

    def test_respects_minimum_notice(self) -> None:
        """With 12 hours' notice at 22:00 the evening before, 10:00 is the first slot."""
        policy = BookingPolicy(min_notice=timedelta(hours=12), horizon=timedelta(days=60))
        now = at(LONDON, MONDAY - timedelta(days=1), 22)
        slots = slots_on(MONDAY, LONDON, [rule(MONDAY, time(9), time(12))], policy=policy, now=now)
        assert local_times(slots, LONDON) == ["10:00", "10:30", "11:00"]

    def test_respects_the_horizon(self) -> None:
        """With a 7-day horizon the slot exactly 7 days ahead is offered and later ones are not."""
        policy = BookingPolicy(min_notice=timedelta(0), horizon=timedelta(days=7))
        now = at(LONDON, MONDAY - timedelta(days=7), 9, 30)
        slots = slots_on(MONDAY, LONDON, [rule(MONDAY, time(9), time(12))], policy=policy, now=now)
        assert local_times(slots, LONDON) == ["09:00", "09:30"]

    def test_range_end_is_exclusive(self) -> None:
        """A range ending at 10:00 offers 09:00 and 09:30 but not 10:00."""
        slots = compute_slots(
            coach_id=COACH,
            service_id=SERVICE,
            duration=HOUR,
            capacity=1,
            rules=[rule(MONDAY, time(9), time(12))],
            overrides=[],
            busy=[],
            policy=OPEN_POLICY,
            tz=LONDON,
            now=LONG_AGO,
            start=at(LONDON, MONDAY, 9),
            end=at(LONDON, MONDAY, 10),
        )
        assert local_times(slots, LONDON) == ["09:00", "09:30"]

    def test_busy_time_removes_overlapping_slots(self) -> None:
        """A 10:00-11:00 appointment removes the 09:30, 10:00 and 10:30 starts."""
        busy = (BusyBlock(at(LONDON, MONDAY, 10), at(LONDON, MONDAY, 11)),)
        slots = slots_on(MONDAY, LONDON, [rule(MONDAY, time(9), time(13))], busy=busy)
        assert local_times(slots, LONDON) == ["09:00", "11:00", "11:30", "12:00"]

    def test_buffer_keeps_time_free_after_a_new_session(self) -> None:
        """With a 15-minute buffer, an hour at 09:00 would run into a 10:00 appointment."""
        policy = attrs.evolve(OPEN_POLICY, buffer=timedelta(minutes=15))
        busy = (BusyBlock(at(LONDON, MONDAY, 10), at(LONDON, MONDAY, 11)),)
        slots = slots_on(MONDAY, LONDON, [rule(MONDAY, time(9), time(13))], busy=busy, policy=policy)
        assert local_times(slots, LONDON) == ["11:00", "11:30", "12:00"]

    def test_joins_a_group_class_with_free_places(self) -> None:
        """A 10:00 class of the same service with 3 places left is offered with 3 places."""
        busy = (BusyBlock(at(LONDON, MONDAY, 10), at(LONDON, MONDAY, 11), SERVICE, 3),)
        slots = slots_on(MONDAY, LONDON, [rule(MONDAY, time(9), time(13))], busy=busy, capacity=8)
        assert local_times(slots, LONDON) == ["09:00", "10:00", "11:00", "11:30", "12:00"]
        assert [slot.seats_left for slot in slots] == [8, 3, 8, 8, 8]

    def test_full_group_class_is_not_offered(self) -> None:
        """A 10:00 class with no places left blocks 10:00 like any appointment."""
        busy = (BusyBlock(at(LONDON, MONDAY, 10), at(LONDON, MONDAY, 11), SERVICE, 0),)
        slots = slots_on(MONDAY, LONDON, [rule(MONDAY, time(9), time(13))], busy=busy, capacity=8)
        assert "10:00" not in local_times(slots, LONDON)

    def test_class_of_another_service_cannot_be_joined(self) -> None:
        """A 10:00 class of another service blocks 10:00 even with places left."""
        busy = (BusyBlock(at(LONDON, MONDAY, 10), at(LONDON, MONDAY, 11), OTHER_SERVICE, 5),)
        slots = slots_on(MONDAY, LONDON, [rule(MONDAY, time(9), time(13))], busy=busy, capacity=8)
        assert "10:00" not in local_times(slots, LONDON)

    def test_joinable_class_does_not_excuse_another_clash(self) -> None:
        """A class with places at 10:00 cannot be joined when another appointment overlaps it."""
        busy = (
            BusyBlock(at(LONDON, MONDAY, 10), at(LONDON, MONDAY, 11), SERVICE, 3),
            BusyBlock(at(LONDON, MONDAY, 10, 30), at(LONDON, MONDAY, 10, 45)),
        )
        slots = slots_on(MONDAY, LONDON, [rule(MONDAY, time(9), time(13))], busy=busy, capacity=8)
        assert "10:00" not in local_times(slots, LONDON)

    def test_long_block_started_earlier_still_blocks(self) -> None:
        """A 08:00-12:00 block hides every slot until noon even behind shorter later blocks."""
        busy = (
            BusyBlock(at(LONDON, MONDAY, 8), at(LONDON, MONDAY, 12)),
            BusyBlock(at(LONDON, MONDAY, 8, 30), at(LONDON, MONDAY, 9)),
        )
        slots = slots_on(MONDAY, LONDON, [rule(MONDAY, time(9), time(14))], busy=busy)
        assert local_times(slots, LONDON) == ["12:00", "12:30", "13:00"]

    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"duration": timedelta(0)}, "duration"),
            ({"capacity": 0}, "capacity"),
            ({"capacity": True}, "capacity"),
            ({"end": LONG_AGO}, "end"),
            ({"now": naive(2025, 1, 1)}, "now"),
            ({"start": naive(2025, 1, 1)}, "start"),
        ],
    )
    def test_refuses_bad_input(self, changes: dict[str, object], field: str) -> None:
        """Impossible durations, capacities, ranges and naive instants are refused by field."""
        arguments: dict[str, object] = {
            "coach_id": COACH,
            "service_id": SERVICE,
            "duration": HOUR,
            "capacity": 1,
            "rules": [],
            "overrides": [],
            "busy": [],
            "policy": OPEN_POLICY,
            "tz": LONDON,
            "now": LONG_AGO,
            "start": at(LONDON, MONDAY, 0),
            "end": at(LONDON, MONDAY, 23),
        }
        with pytest.raises(ValidationError) as caught:
            compute_slots(**{**arguments, **changes})  # type: ignore[arg-type]
        assert caught.value.field == field


class TestIsOffered:
    """Checking a requested start against computed slots."""

    def test_finds_the_slot_starting_then(self) -> None:
        """A start given in local time finds the slot at that instant."""
        slots = slots_on(MONDAY, SYDNEY, [rule(MONDAY, time(9), time(12))])
        found = is_offered(slots, datetime(2025, 6, 2, 10, 30, tzinfo=SYDNEY))
        assert found is slots[3]

    def test_a_time_between_slots_is_not_offered(self) -> None:
        """10:15 is not offered when slots start on the half hour."""
        slots = slots_on(MONDAY, SYDNEY, [rule(MONDAY, time(9), time(12))])
        assert is_offered(slots, at(SYDNEY, MONDAY, 10, 15)) is None

    def test_refuses_a_naive_start(self) -> None:
        """A requested start without a zone is refused."""
        with pytest.raises(ValidationError):
            is_offered([], naive(2025, 6, 2, 10, 30))


# --- properties -------------------------------------------------------------------------------

ZONE_DATES = [(tz, day) for tz in SPRING_FORWARD for day in (SPRING_FORWARD[tz], FALL_BACK[tz])]
ZONE_DATES.append((KOLKATA, date(2025, 3, 9)))


def _minutes(value: time) -> int:
    return value.hour * 60 + value.minute


def _time(minutes: int) -> time:
    return time(minutes // 60, minutes % 60)


@st.composite
def periods(draw: st.DrawFn) -> tuple[time, time]:
    """A period within one day on a 15-minute grid, often around the night the clocks change."""
    start = draw(st.one_of(st.integers(0, 22 * 4), st.integers(0, 4 * 4))) * 15
    length = draw(st.integers(3, 8 * 12)) * 5
    return _time(start), _time(min(start + length, 23 * 60 + 55))


@attrs.frozen
class Scenario:
    """Everything compute_slots needs for COACH and SERVICE."""

    tz: ZoneInfo
    duration: timedelta
    capacity: int
    rules: list[WeeklyRule]
    overrides: list[DateOverride]
    busy: list[BusyBlock]
    policy: BookingPolicy
    now: datetime
    start: datetime
    end: datetime

    def slots(self) -> list[Slot]:
        """The slots this scenario offers."""
        return compute_slots(
            coach_id=COACH,
            service_id=SERVICE,
            duration=self.duration,
            capacity=self.capacity,
            rules=self.rules,
            overrides=self.overrides,
            busy=self.busy,
            policy=self.policy,
            tz=self.tz,
            now=self.now,
            start=self.start,
            end=self.end,
        )

    def hours_on(self, day: date) -> tuple[list[tuple[time, time]], list[tuple[time, time]]]:
        """COACH's hours and time off on local date `day` (a whole day off as 00:00-23:59:59)."""
        hours = [
            (rule.start, rule.end) for rule in self.rules if rule.coach_id == COACH and rule.weekday == day.weekday()
        ]
        time_off: list[tuple[time, time]] = []
        for override in self.overrides:
            if override.on != day:
                continue
            if override.period is None:
                time_off.append((time(0), time(23, 59, 59)))
            elif override.available:
                hours.append(override.period)
            else:
                time_off.append(override.period)
        return hours, time_off


#: A scenario with nothing in it, to build others from.
BARE = Scenario(
    tz=LONDON,
    duration=HOUR,
    capacity=1,
    rules=[],
    overrides=[],
    busy=[],
    policy=OPEN_POLICY,
    now=LONG_AGO,
    start=LONG_AGO,
    end=LONG_AGO + timedelta(days=1),
)


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    """A scenario over a few days around a change of the clocks."""
    tz, change = draw(st.sampled_from(ZONE_DATES))
    days = [change + timedelta(days=offset) for offset in range(-2, 3)]
    # Half the hours fall on the day the clocks change, where mistakes hide.
    some_day = st.just(change) | st.sampled_from(days)
    rules = [
        WeeklyRule(draw(st.sampled_from((COACH, COACH, OTHER_COACH))), day.weekday(), *period)
        for day, period in draw(st.lists(st.tuples(some_day, periods()), max_size=6))
    ]
    overrides = [
        DateOverride(uuid4(), COACH, day, available, *period)
        for day, available, period in draw(
            st.lists(
                st.tuples(
                    some_day,
                    st.booleans(),
                    st.one_of(periods(), st.just((None, None))),
                ).filter(lambda row: row[1] is False or row[2][0] is not None),
                max_size=4,
            )
        )
    ]
    range_start = at(tz, days[0], 0)
    # Busy time starting exactly at offered starts exercises joining classes and the clash rules
    # at their edges; the rest lands anywhere on a 15-minute grid.
    offered = [
        slot.start
        for slot in attrs.evolve(
            BARE,
            tz=tz,
            rules=rules,
            overrides=overrides,
            start=range_start,
            end=range_start + timedelta(days=5),
        ).slots()
    ]
    block_starts = st.integers(0, 5 * 24 * 4).map(lambda n: range_start + n * timedelta(minutes=15))
    if offered:
        block_starts |= st.sampled_from(offered)
    busy = [
        BusyBlock(
            begin,
            begin + timedelta(minutes=5 * length),
            draw(st.sampled_from((SERVICE, OTHER_SERVICE, None))),
            draw(st.integers(0, 3)),
        )
        for begin, length in draw(st.lists(st.tuples(block_starts, st.integers(3, 48)), max_size=16))
    ]
    policy = BookingPolicy(
        min_notice=timedelta(hours=draw(st.integers(0, 24))),
        horizon=timedelta(hours=draw(st.integers(4 * 24, 8 * 24))),
        buffer=timedelta(minutes=draw(st.sampled_from((0, 10, 15)))),
        slot_interval=timedelta(minutes=draw(st.sampled_from((15, 20, 30, 45, 60)))),
    )
    return Scenario(
        tz=tz,
        duration=timedelta(minutes=draw(st.sampled_from((15, 30, 45, 60, 90)))),
        capacity=draw(st.integers(1, 6)),
        rules=rules,
        overrides=overrides,
        busy=busy,
        policy=policy,
        now=range_start + timedelta(minutes=15 * draw(st.integers(-24 * 4, 24 * 4))),
        start=range_start + timedelta(hours=draw(st.integers(0, 24))),
        end=range_start + timedelta(days=5) - timedelta(hours=draw(st.integers(0, 24))),
    )


def _conflicts(slot: Slot, block: BusyBlock, buffer: timedelta) -> bool:
    joinable = block.service_id == SERVICE and block.start == slot.start and block.seats_left > 0
    return not joinable and block.start < slot.end + buffer and slot.start < block.end


settings_for_slots = settings(max_examples=300, deadline=None)


class TestComputeSlotsProperties:
    """What holds for any availability around a change of the clocks."""

    @settings_for_slots
    @given(scenarios())
    def test_starts_are_sorted_unique_and_exist_on_the_local_clock(self, scenario: Scenario) -> None:
        """Starts strictly increase, happen on the local clock, and are first occurrences."""
        starts = [slot.start for slot in scenario.slots()]
        assert starts == sorted(set(starts))
        for start in starts:
            local = start.astimezone(scenario.tz).replace(tzinfo=None)
            assert local.replace(tzinfo=scenario.tz, fold=0).astimezone(UTC) == start
            assert start.tzinfo is UTC

    @settings_for_slots
    @given(scenarios())
    def test_starts_lie_on_the_grid_of_available_hours(self, scenario: Scenario) -> None:
        """Every start is in the coach's hours, outside time off, a whole step from an anchor."""
        step = int(scenario.policy.slot_interval.total_seconds() // 60)
        for slot in scenario.slots():
            local = slot.start.astimezone(scenario.tz)
            hours, time_off = scenario.hours_on(local.date())
            wall = local.time().replace(tzinfo=None)
            assert any(begin <= wall < end for begin, end in hours)
            assert not any(begin <= wall < end for begin, end in time_off)
            # Periods start at an hours' start or where time off ends, always on the local clock.
            anchors = [_minutes(begin) for begin, _ in hours] + [_minutes(e) for _, e in time_off]
            assert any(_minutes(wall) >= anchor and (_minutes(wall) - anchor) % step == 0 for anchor in anchors)

    @settings_for_slots
    @given(scenarios())
    def test_respects_range_notice_horizon_and_busy_time(self, scenario: Scenario) -> None:
        """No slot is outside the range, too soon, too far ahead, or clashing with busy time."""
        policy, now = scenario.policy, scenario.now
        for slot in scenario.slots():
            assert scenario.start <= slot.start < scenario.end
            assert now + policy.min_notice <= slot.start <= now + policy.horizon
            assert slot.end - slot.start == scenario.duration
            assert not any(_conflicts(slot, block, policy.buffer) for block in scenario.busy)

    @settings_for_slots
    @given(scenarios())
    def test_busy_time_removes_exactly_the_clashing_slots(self, scenario: Scenario) -> None:
        """With busy time, the offer is the free calendar's slots minus those that clash."""
        expected = []
        for slot in attrs.evolve(scenario, busy=[]).slots():
            if any(_conflicts(slot, block, scenario.policy.buffer) for block in scenario.busy):
                continue
            joined = [
                block.seats_left for block in scenario.busy if block.start == slot.start and block.service_id == SERVICE
            ]
            expected.append(attrs.evolve(slot, seats_left=min(joined, default=scenario.capacity)))
        assert scenario.slots() == expected

    @settings_for_slots
    @given(scenarios())
    def test_notice_and_horizon_only_trim_the_offer(self, scenario: Scenario) -> None:
        """The offer equals the offer without notice or horizon, cut to the allowed window."""
        policy, now = scenario.policy, scenario.now
        unlimited = attrs.evolve(policy, min_notice=timedelta(0), horizon=timedelta(days=3650))
        everything = attrs.evolve(scenario, policy=unlimited, now=LONG_AGO).slots()
        expected = [slot for slot in everything if now + policy.min_notice <= slot.start <= now + policy.horizon]
        assert scenario.slots() == expected
