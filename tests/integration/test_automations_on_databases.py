"""Automations on SQLite and PostgreSQL: the unit suite's scenarios, and runners racing for one due time."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from coachos import CoachOS, Settings, bootstrap
from coachos.adapters.clock import FixedClock
from coachos.adapters.sql.tables import automation_runs
from coachos.adapters.sql.uow import SqlUnitOfWork
from coachos.domain.automations import AutomationRun, AutomationStatus
from coachos.domain.usecases import RunDueAutomations
from tests.helpers import World, add_client
from tests.integration.test_concurrency import race
from tests.unit.test_automations import (  # noqa: F401  # collected again with this folder's `app`
    TestAutomationAction,
    TestAutomationSetup,
    create,
    runs_of,
    tick,
)

# The 1,440-tick day and the weeks across DST run on the fakes only (minutes of ticks per database);
# what the database adds (restart on the same rows, racing claims) is tested here.


class TestRestartOnTheDatabase:
    def test_a_new_coachos_on_the_same_database_runs_nothing_twice(
        self, engine: Engine, app: CoachOS, clock: FixedClock, world: World
    ) -> None:
        """A second Coach OS on the same database, ticking again the minute the first last ticked, repeats no run."""
        day = datetime(2026, 3, 3, 5, 0, tzinfo=UTC)
        clock.set(day - timedelta(seconds=30))
        every_ten = create(app, world, "*/10 * * * *")
        tick(app, clock, day, day + timedelta(minutes=31))
        with bootstrap(Settings(database_url="memory://"), uow=lambda: SqlUnitOfWork(engine), clock=clock) as second:
            tick(second, clock, day + timedelta(minutes=30), day + timedelta(minutes=61))
        due = [r.due_at for r in runs_of(app, world, every_ten)]
        assert sorted(due) == [day + timedelta(minutes=m) for m in range(0, 61, 10)]


class TestRunnersRacing:
    def test_two_runners_on_the_same_tick_make_one_run(self, app: CoachOS, clock: FixedClock, world: World) -> None:
        """Runners started together on one tick, each on its own connection, claim the due time once and act once."""
        add_client(app, world)
        clock.set(datetime(2026, 3, 3, 9, 0, 30, tzinfo=UTC))
        automation = create(app, world, "0 5 * * *")  # 05:00 EST is 10:00 UTC
        clock.set(datetime(2026, 3, 3, 10, 0, 5, tzinfo=UTC))
        results = race([lambda: app.execute(RunDueAutomations())] * 2)
        runs = runs_of(app, world, automation)
        assert [(r.status, r.affected) for r in runs] == [(AutomationStatus.DONE, 2)]
        assert all(not isinstance(r, Exception) for r in results)

    @pytest.mark.postgres
    @pytest.mark.parametrize("engine", ["postgres"], indirect=True)
    def test_a_claim_waits_for_the_first_and_is_refused_once_it_commits(
        self, postgres_engine: Engine, app: CoachOS, clock: FixedClock, world: World
    ) -> None:
        """While one transaction holds a claim, a second claim of the same due time waits, then is refused."""
        automation = create(app, world, "0 * * * *")
        run = AutomationRun(
            automation_id=automation.id,
            org_id=world.org.id,
            due_at=datetime(2026, 3, 3, 10, tzinfo=UTC),
            started_at=datetime(2026, 3, 3, 10, tzinfo=UTC),
            status=AutomationStatus.DONE,
        )
        second: list[bool] = []
        with SqlUnitOfWork(postgres_engine) as first:
            assert first.automations.claim_run(run)

            def claim_again() -> None:
                with SqlUnitOfWork(postgres_engine) as uow:
                    second.append(uow.automations.claim_run(run))
                    uow.commit()

            waiter = threading.Thread(target=claim_again)
            waiter.start()
            waiter.join(timeout=1)
            assert waiter.is_alive(), "the second claim should wait for the first transaction"
            first.commit()
        waiter.join(timeout=10)
        assert second == [False]
        with postgres_engine.connect() as conn:
            conn.execute(sa.select(sa.func.set_config("app.org_id", str(world.org.id), False)))
            count = conn.execute(
                sa.select(sa.func.count())
                .select_from(automation_runs)
                .where(automation_runs.c.automation_id == automation.id)
            ).scalar_one()
        assert count == 1
