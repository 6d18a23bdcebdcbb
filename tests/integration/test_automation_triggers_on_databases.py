"""Event and daily automations on SQLite and PostgreSQL: the unit scenarios, racing relays, and the
migration that re-keys stored runs."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from coachos import CoachOS, Settings, bootstrap
from coachos.adapters.clock import FixedClock, RandomIds
from coachos.adapters.sql import migrate
from coachos.adapters.sql.engine import make_engine
from coachos.adapters.sql.tables import automation_runs
from coachos.adapters.sql.uow import SqlUnitOfWork
from coachos.domain.automations import CreateTodo, SendMessage, TriggerKind
from coachos.domain.usecases import RunDueAutomations, subscribe_automations
from coachos.domain.usecases.automation_events import run_event_automations
from coachos.domain.usecases.relay import Relay
from tests.helpers import MONDAY_NOON_UTC, World, local, make_world
from tests.integration.conftest import PostgresDatabases, fresh_sqlite
from tests.integration.test_concurrency import race
from tests.unit.test_automation_triggers import (  # noqa: F401  # collected again with this folder's `app`
    TestActions,
    TestBookingTriggers,
    TestConditions,
    TestCreditsLow,
    TestSetupRefusesBadInput,
    automate,
    book,
    messages_of,
    relay,
    runs,
    set_birthday,
    todos,
)

# The birthday and inactive-client weeks tick hour by hour on the fakes; here a few ticks around
# the check show what the database adds (the month-and-day query, the last-activity query).


class TestDailyChecksOnTheDatabase:
    def test_a_birthday_runs_once_at_nine_in_tokyo(self, app: CoachOS, clock: FixedClock) -> None:
        """A Tokyo client born on 3 March runs at 09:00 JST (00:00 UTC) that day, once, however often ticked."""
        w = make_world(app, timezone="Asia/Tokyo")
        set_birthday(app, w, w.client, date(1990, 3, 3))
        automation = automate(app, w, TriggerKind.BIRTHDAY)
        for at in (
            datetime(2026, 3, 2, 23, 59, tzinfo=UTC),
            datetime(2026, 3, 3, 0, 0, tzinfo=UTC),
            datetime(2026, 3, 3, 0, 1, tzinfo=UTC),
            datetime(2026, 3, 3, 14, 0, tzinfo=UTC),
            datetime(2026, 3, 4, 0, 0, tzinfo=UTC),
        ):
            clock.set(at)
            app.execute(RunDueAutomations())
        assert [(r.due_at, r.client_id) for r in runs(app, w, automation)] == [
            (datetime(2026, 3, 3, 0, 0, tzinfo=UTC), w.client.id)
        ]

    def test_a_leap_day_birthday_on_28_february(self, app: CoachOS, clock: FixedClock, world: World) -> None:
        """In 2027, a 29 February birthday runs on 28 February at 09:00 New York time."""
        set_birthday(app, world, world.client, date(2000, 2, 29))
        automation = automate(app, world, TriggerKind.BIRTHDAY)
        for at in (datetime(2027, 2, 27, 14, tzinfo=UTC), datetime(2027, 2, 28, 14, tzinfo=UTC)):
            clock.set(at)
            app.execute(RunDueAutomations())
        assert [r.key for r in runs(app, world, automation)] == [f"birthday:{world.client.id}:2027-02-28"]

    def test_an_inactive_client_runs_once_per_spell(self, app: CoachOS, clock: FixedClock, world: World) -> None:
        """A client whose last booking was 30 days before the check runs once; the next day's check repeats nothing."""
        booking = book(app, world, local(world, 3, 10))
        automation = automate(app, world, TriggerKind.CLIENT_INACTIVE, threshold=30)
        for day in (2, 3, 4):  # 09:00 EDT on 2, 3 and 4 April
            clock.set(datetime(2026, 4, day, 13, tzinfo=UTC))
            app.execute(RunDueAutomations())
        [run] = runs(app, world, automation)
        assert (run.client_id, run.due_at) == (world.client.id, datetime(2026, 4, 3, 13, tzinfo=UTC))
        assert run.key == f"inactive:{world.client.id}:{booking.start:%Y%m%dT%H%M%SZ}"


@pytest.mark.postgres
@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
class TestRacing:
    def test_one_event_handled_by_eight_racing_consumers_runs_once(self, app: CoachOS, world: World) -> None:
        """Eight deliveries of one event at once, each on its own connection: one run, one text, one to-do."""
        texting = automate(app, world, TriggerKind.BOOKING_CREATED, SendMessage(channel="sms", body="Hi"), name="Text")
        noting = automate(app, world, TriggerKind.BOOKING_CREATED, CreateTodo(title="Call"), name="Note")
        book(app, world, local(world, 3, 10))
        [event] = [
            e
            for e in app.read(lambda uow: uow.outbox.pending(1000))
            if e.org_id == world.org.id and e.type_name == "booking.requested"
        ]
        results = race([lambda: run_event_automations(event, app.deps)] * 8)
        assert all(r is None for r in results)
        assert len(runs(app, world, texting)) == len(runs(app, world, noting)) == 1
        assert len(messages_of(app, world, world.client)) == 1
        assert len(todos(app, world)) == 1

    def test_two_relays_racing_run_each_event_once(self, app: CoachOS, world: World) -> None:
        """Two relays, each with the automations consumer, passing over the outbox at once run the automation once."""
        automation = automate(app, world, TriggerKind.BOOKING_CREATED)
        booking = book(app, world, local(world, 3, 10))
        relays = [Relay(app.deps), Relay(app.deps)]
        for r in relays:
            subscribe_automations(r)
        for _ in range(3):
            race([lambda r=r: r.relay_once(limit=1000) for r in relays])
        assert [r.key for r in runs(app, world, automation)] == [f"booking_created:{booking.id}"]
        assert len(todos(app, world)) == 1

    def test_racing_daily_checks_run_a_birthday_once(self, app: CoachOS, clock: FixedClock, world: World) -> None:
        """Four workers ticking at 09:00 on a birthday make one run and one to-do."""
        set_birthday(app, world, world.client, date(1990, 3, 3))
        automation = automate(app, world, TriggerKind.BIRTHDAY)
        clock.set(local(world, 3, 9))
        race([lambda: app.execute(RunDueAutomations())] * 4)
        assert len(runs(app, world, automation)) == 1
        assert len(todos(app, world)) == 1


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a new, empty database."""
    if request.param == "sqlite":
        return fresh_sqlite(tmp_path)
    dbs: PostgresDatabases = request.getfixturevalue("pg_databases")
    return dbs.create()


class TestMigration:
    def test_stored_schedule_runs_keep_their_due_time_as_key(self, empty_url: str) -> None:
        """Runs stored before the migration get the key of their due time, so they are still not run again."""
        engine = make_engine(empty_url)
        try:
            migrate.upgrade(engine)
            clock = FixedClock(MONDAY_NOON_UTC)
            with bootstrap(
                Settings(database_url="memory://"), uow=lambda: SqlUnitOfWork(engine), clock=clock, ids=RandomIds()
            ) as app:
                w = make_world(app)
            migrate.downgrade(engine, "0010")
            automation_id, due = uuid.uuid4(), datetime(2026, 3, 2, 12, tzinfo=UTC)
            with engine.begin() as conn:
                conn.execute(
                    sa.text(
                        "INSERT INTO automations (id, org_id, name, enabled, schedule, action, created_at) "
                        "VALUES (:id, :org, 'Hourly', true, '0 * * * *', :action, :at)"
                    ),
                    {
                        "id": automation_id if engine.dialect.name == "postgresql" else automation_id.hex,
                        "org": w.org.id if engine.dialect.name == "postgresql" else w.org.id.hex,
                        "action": '{"kind": "tag_clients", "tag": "x", "status": null}',
                        "at": due - timedelta(hours=1)
                        if engine.dialect.name == "postgresql"
                        else "2026-03-02 11:00:00.000000",
                    },
                )
                conn.execute(
                    sa.text(
                        "INSERT INTO automation_runs (automation_id, due_at, org_id, started_at, status, affected) "
                        "VALUES (:id, :due, :org, :due, 'done', 1)"
                    ),
                    {
                        "id": automation_id if engine.dialect.name == "postgresql" else automation_id.hex,
                        "org": w.org.id if engine.dialect.name == "postgresql" else w.org.id.hex,
                        "due": due if engine.dialect.name == "postgresql" else "2026-03-02 12:00:00.000000",
                    },
                )
            migrate.upgrade(engine)
            with engine.connect() as conn:
                rows = conn.execute(sa.select(automation_runs.c.run_key, automation_runs.c.due_at)).all()
            assert [(r.run_key, r.due_at) for r in rows] == [("at:2026-03-02T12:00:00Z", due)]
        finally:
            engine.dispose()
