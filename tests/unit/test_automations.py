"""Scheduled automations on the fakes: each due time runs once, on the organisation's clock."""

from __future__ import annotations

import uuid
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta

import pytest

from coachos import CoachOS, NotFound, Settings, ValidationError, bootstrap
from coachos.adapters.clock import FixedClock, SequentialIds
from coachos.adapters.memory import MemoryStore
from coachos.domain.automations import Automation, AutomationRun, AutomationStatus, TagClients
from coachos.domain.usecases import (
    CreateAutomation,
    ListAutomations,
    RunDueAutomations,
    SetAutomationEnabled,
)
from tests.helpers import World, add_client, make_world

_MINUTE = timedelta(minutes=1)


def create(app: CoachOS, w: World, schedule: str, *, name: str = "Tag everyone", tag: str = "weekly") -> Automation:
    return app.execute(
        CreateAutomation(org_id=w.org.id, actor=w.me, name=name, schedule=schedule, action=TagClients(tag=tag))
    )


def runs_of(app: CoachOS, w: World, automation: Automation) -> list[AutomationRun]:
    return list(app.read(lambda uow: uow.automations.runs(w.org.id, automation.id, limit=10_000)))


def tick(app: CoachOS, clock: FixedClock, start: datetime, end: datetime, step: timedelta = _MINUTE) -> None:
    """Set the clock to every `step` from `start` until before `end`, running the due automations at each."""
    at = start
    while at < end:
        clock.set(at)
        app.execute(RunDueAutomations())
        at += step


def local_utc(w: World, *args: int) -> datetime:
    return datetime(*args, tzinfo=w.org.tz).astimezone(UTC)  # type: ignore[misc]


class TestSimulatedDay:
    def test_hourly_runs_24_times_in_1440_ticks(self, app: CoachOS, clock: FixedClock, world: World) -> None:
        """Ticking every minute of a day runs an hourly automation exactly 24 times, once per hour."""
        day = local_utc(world, 2026, 3, 3, 0, 0)
        clock.set(day - timedelta(seconds=30))
        hourly = create(app, world, "0 * * * *")
        tick(app, clock, day, day + timedelta(days=1))
        due = sorted(r.due_at for r in runs_of(app, world, hourly))
        assert due == [day + timedelta(hours=h) for h in range(24)]
        assert all(r.status is AutomationStatus.DONE for r in runs_of(app, world, hourly))

    def test_a_restart_mid_day_runs_nothing_twice(self, clock: FixedClock) -> None:
        """A new Coach OS on the same storage, started in the same minute as the last tick, repeats no run."""
        store = MemoryStore()
        day = datetime(2026, 3, 3, 5, 0, tzinfo=UTC)
        clock.set(day - timedelta(seconds=30))
        with _app(store, clock) as first:
            world = make_world(first)
            hourly = create(first, world, "*/30 * * * *")
            tick(first, clock, day, day + timedelta(hours=12, minutes=1))
        with _app(store, clock) as second:
            tick(second, clock, day + timedelta(hours=12), day + timedelta(days=1))
            due = [r.due_at for r in runs_of(second, world, hourly)]
        assert len(due) == len(set(due)) == 48

    def test_three_hours_of_downtime_run_a_missed_schedule_once(
        self, app: CoachOS, clock: FixedClock, world: World
    ) -> None:
        """After ticks stop for three hours, the first tick runs the hourly automation once, for the latest hour."""
        start = datetime(2026, 3, 3, 9, 0, 30, tzinfo=UTC)
        clock.set(start)
        hourly = create(app, world, "0 * * * *")
        tick(app, clock, start + _MINUTE, start + timedelta(minutes=5))
        back = datetime(2026, 3, 3, 12, 30, tzinfo=UTC)
        tick(app, clock, back, back + timedelta(minutes=15))
        assert [r.due_at for r in runs_of(app, world, hourly)] == [datetime(2026, 3, 3, 12, 0, tzinfo=UTC)]
        tick(app, clock, back + timedelta(minutes=15), back + timedelta(minutes=35))
        assert len(runs_of(app, world, hourly)) == 2

    def test_an_automation_that_is_not_due_never_runs(self, app: CoachOS, clock: FixedClock, world: World) -> None:
        """A Monday-only automation ticked through a whole Tuesday, and a disabled hourly one, never run."""
        tuesday = local_utc(world, 2026, 3, 3, 0, 0)
        clock.set(tuesday)
        mondays = create(app, world, "0 9 * * 1")
        off = create(app, world, "0 * * * *", name="Off")
        app.execute(SetAutomationEnabled(org_id=world.org.id, automation_id=off.id, actor=world.me, enabled=False))
        tick(app, clock, tuesday, tuesday + timedelta(days=1), step=timedelta(minutes=5))
        assert runs_of(app, world, mondays) == []
        assert runs_of(app, world, off) == []


class TestAcrossDaylightSaving:
    @pytest.mark.parametrize(
        ("first_monday", "expected_utc_hours"),
        [((2026, 3, 2), (14, 13, 13)), ((2026, 10, 26), (13, 14, 14))],
        ids=["march", "november"],
    )
    def test_mondays_at_nine_run_once_a_week_at_nine_local(
        self,
        app: CoachOS,
        clock: FixedClock,
        world: World,
        first_monday: tuple[int, int, int],
        expected_utc_hours: tuple[int, int, int],
    ) -> None:
        """'Mondays 09:00' in New York runs once a week, at 09:00 local time before and after the clocks change."""
        start = local_utc(world, *first_monday, 0, 0)
        clock.set(start)
        mondays = create(app, world, "0 9 * * 1")
        tick(app, clock, start, start + timedelta(days=21), step=timedelta(minutes=10))
        due = sorted(r.due_at for r in runs_of(app, world, mondays))
        assert [d.astimezone(world.org.tz).strftime("%a %H:%M") for d in due] == ["Mon 09:00"] * 3
        assert tuple(d.hour for d in due) == expected_utc_hours


class TestAutomationAction:
    def test_tag_clients_tags_every_client_once(self, app: CoachOS, clock: FixedClock, world: World) -> None:
        """A due tag_clients run tags every client, and its run records how many it changed."""
        other = add_client(app, world)
        start = datetime(2026, 3, 3, 9, 0, 30, tzinfo=UTC)
        clock.set(start)
        create(app, world, "0 5 * * *", tag="VIP")  # 05:00 EST is 10:00 UTC
        tick(app, clock, start, start + timedelta(hours=2), step=timedelta(minutes=15))
        for client_id in (world.client.id, other.id):
            assert "vip" in app.read(lambda uow, c=client_id: uow.clients.get(world.org.id, c)).tags
        [listed] = app.execute(ListAutomations(org_id=world.org.id))
        assert listed.automation.last_due_at == datetime(2026, 3, 3, 10, 0, tzinfo=UTC)
        assert [(r.status, r.affected) for r in listed.runs] == [(AutomationStatus.DONE, 2)]


class TestAutomationSetup:
    def test_a_bad_schedule_is_refused_naming_it(self, app: CoachOS, world: World) -> None:
        """A schedule that is not five cron fields is a ValidationError on 'schedule', and nothing is stored."""
        with pytest.raises(ValidationError) as err:
            create(app, world, "every monday")
        assert err.value.field == "schedule"
        assert app.execute(ListAutomations(org_id=world.org.id)) == []

    def test_another_organisations_automation_is_not_found(self, app: CoachOS, world: World) -> None:
        """Another business cannot see or switch off this one's automation."""
        mine = create(app, world, "0 9 * * *")
        theirs = make_world(app)
        assert app.execute(ListAutomations(org_id=theirs.org.id)) == []
        with pytest.raises(NotFound):
            app.execute(
                SetAutomationEnabled(org_id=theirs.org.id, automation_id=mine.id, actor=theirs.me, enabled=False)
            )
        with pytest.raises(NotFound):
            app.execute(
                SetAutomationEnabled(org_id=world.org.id, automation_id=uuid.uuid4(), actor=world.me, enabled=False)
            )

    def test_switching_back_on_does_not_run_what_was_missed(
        self, app: CoachOS, clock: FixedClock, world: World
    ) -> None:
        """An automation turned off over its due time and back on later does not run for that due time."""
        start = datetime(2026, 3, 3, 9, 30, tzinfo=UTC)
        clock.set(start)
        hourly = create(app, world, "0 * * * *")
        app.execute(SetAutomationEnabled(org_id=world.org.id, automation_id=hourly.id, actor=world.me, enabled=False))
        clock.set(start + timedelta(hours=1))
        app.execute(SetAutomationEnabled(org_id=world.org.id, automation_id=hourly.id, actor=world.me, enabled=True))
        tick(app, clock, start + timedelta(hours=1), start + timedelta(hours=1, minutes=20))
        assert runs_of(app, world, hourly) == []


def _app(store: MemoryStore, clock: FixedClock) -> AbstractContextManager[CoachOS]:
    return bootstrap(Settings(database_url="memory://"), uow=store.unit_of_work, clock=clock, ids=SequentialIds())
