"""The worker: the task queue behind slow work, the every-minute tick and the daily prune."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from huey import MemoryHuey

from coachos import CoachOS, Money, SellPackage, Settings, bootstrap
from coachos.adapters.clock import FixedClock, SequentialIds
from coachos.adapters.huey_tasks import HueyTaskQueue, make_huey, queue_path
from coachos.adapters.memory import ImmediateTasks, MemoryStore
from coachos.adapters.security import MemoryEmail, fast_test_hasher
from coachos.domain.automations import TagClients
from coachos.domain.events import OrganizationCreated
from coachos.domain.ids import Actor
from coachos.domain.ledger import Account
from coachos.domain.usecases import (
    CreateAutomation,
    ListAutomations,
    LogIn,
    PruneExpired,
    RequestPasswordReset,
    SignUp,
)
from coachos.entrypoints.worker import EVERY_MINUTE, Worker, make_worker, tick
from tests.helpers import add_client, make_world

PASSWORD = "correct horse battery"


def _sign_up(app: CoachOS) -> None:
    app.execute(
        SignUp(
            business_name="Peak",
            slug="peak",
            timezone="Europe/London",
            currency="GBP",
            name="Alex",
            email="alex@peak.test",
            password=PASSWORD,
        )
    )


def _request_reset(app: CoachOS) -> None:
    app.execute(RequestPasswordReset(email="alex@peak.test", link_base="https://x.test/reset/", address="10.0.0.1"))


@pytest.fixture
def mail() -> MemoryEmail:
    return MemoryEmail()


class TestPasswordResetEmail:
    def test_reset_request_only_queues_the_email(self, clock: FixedClock, mail: MemoryEmail) -> None:
        """Asking for a reset queues the email and returns; the worker sends it when it runs the task."""
        huey = MemoryHuey("test", immediate=False)
        with bootstrap(
            Settings(database_url="memory://"),
            uow=MemoryStore().unit_of_work,
            clock=clock,
            ids=SequentialIds(),
            hasher=fast_test_hasher(),
            email=mail,
            huey=huey,
        ) as app:
            _sign_up(app)
            _request_reset(app)
            assert mail.sent == []
            assert huey.pending_count() == 1
            huey.execute(huey.dequeue())
        ((to, subject, text),) = [(m.to, m.subject, m.text) for m in mail.sent]
        assert (to, subject) == ("alex@peak.test", "Reset your Coach OS password")
        assert "https://x.test/reset/" in text

    def test_memory_setup_sends_at_once(self, clock: FixedClock, mail: MemoryEmail) -> None:
        """With a memory:// database and no queue configured, tasks run in the caller, so the email is sent."""
        with bootstrap(
            Settings(database_url="memory://"),
            uow=MemoryStore().unit_of_work,
            clock=clock,
            ids=SequentialIds(),
            hasher=fast_test_hasher(),
            email=mail,
        ) as app:
            assert isinstance(app.deps.tasks, ImmediateTasks)
            _sign_up(app)
            _request_reset(app)
        assert [m.to for m in mail.sent] == ["alex@peak.test"]


class TestHueyTaskQueue:
    def test_immediate_huey_sends_in_the_caller(self, mail: MemoryEmail) -> None:
        """On an immediate huey the queued email is sent before enqueue returns."""
        HueyTaskQueue.on(MemoryHuey("test", immediate=True), mail).enqueue_email("a@b.test", "Hi", "Body")
        assert [(m.to, m.subject, m.text) for m in mail.sent] == [("a@b.test", "Hi", "Body")]

    def test_email_task_runs_locally(self, mail: MemoryEmail) -> None:
        """The registered email task, called locally, sends through the queue's email sender."""
        queue = HueyTaskQueue.on(MemoryHuey("test", immediate=False), mail)
        queue._send_email.call_local("a@b.test", "Hi", "Body")
        assert [m.to for m in mail.sent] == ["a@b.test"]


class TestQueueChoice:
    def test_sqlite_queue_sits_beside_the_database(self, tmp_path: Path) -> None:
        """The embedded default keeps the queue in coachos-queue.db next to the SQLite database."""
        settings = Settings(database_url=f"sqlite:///{tmp_path / 'app.db'}")
        assert queue_path(settings) == tmp_path / "coachos-queue.db"

    def test_queue_path_setting_wins(self, tmp_path: Path) -> None:
        """COACHOS_QUEUE_PATH names the queue file whatever the database is."""
        env = {"COACHOS_DATABASE_URL": "memory://", "COACHOS_QUEUE_PATH": str(tmp_path / "q.db")}
        assert queue_path(Settings.from_env(env)) == tmp_path / "q.db"

    def test_memory_database_has_no_queue(self) -> None:
        """memory:// without a queue setting means no huey: tasks run at once."""
        assert make_huey(Settings(database_url="memory://")) is None

    def test_postgres_database_has_no_file_queue(self) -> None:
        """A PostgreSQL database gets no local queue file by default (its processes may be on several machines)."""
        assert make_huey(Settings(database_url="postgresql+psycopg://u@db.test/coachos")) is None

    def test_redis_url_chooses_redis(self) -> None:
        """COACHOS_REDIS_URL picks Redis (and connecting waits until the queue is used)."""
        huey = make_huey(Settings.from_env({"COACHOS_REDIS_URL": "redis://127.0.0.1:1/0"}))
        assert type(huey).__name__ == "RedisHuey"

    def test_worker_refuses_without_a_queue(self) -> None:
        """A worker on memory:// with no queue configured says what to set instead of idling."""
        with pytest.raises(ValueError, match="COACHOS_QUEUE_PATH"):
            make_worker(Settings(database_url="memory://"))


class TestTick:
    def test_runs_every_job_in_order(self, clock: FixedClock) -> None:
        """A tick runs each registered job once, in order, with the app."""
        ran: list[str] = []
        with bootstrap(Settings(database_url="memory://"), clock=clock) as app:
            failed = tick(app, [lambda a: ran.append("one"), lambda a: ran.append("two")])
        assert (ran, failed) == (["one", "two"], 0)

    def test_a_failing_job_does_not_stop_the_others(self, clock: FixedClock) -> None:
        """When one job raises, the tick still runs the rest and reports one failure."""
        ran: list[str] = []

        def broken(app: CoachOS) -> None:
            raise RuntimeError("boom")

        with bootstrap(Settings(database_url="memory://"), clock=clock) as app:
            failed = tick(app, [broken, lambda a: ran.append("after")])
        assert (ran, failed) == (["after"], 1)

    def test_the_tick_relays_events_and_runs_due_automations(self, clock: FixedClock) -> None:
        """One tick hands stored events to consumers and runs each due automation once; a second repeats nothing."""
        with bootstrap(Settings(database_url="memory://"), clock=clock, hasher=fast_test_hasher()) as app:
            seen: list[OrganizationCreated] = []
            app.relay.subscribe("test", OrganizationCreated, lambda event, _deps: seen.append(event))
            _sign_up(app)
            org = app.read(lambda uow: uow.orgs.by_slug("peak"))
            (coach,) = app.read(lambda uow: uow.coaches.list(org.id))
            hourly = CreateAutomation(
                org_id=org.id,
                actor=Actor("coach", coach.id),
                name="Hourly tag",
                schedule="0 * * * *",
                action=TagClients(tag="hourly"),
            )
            app.execute(hourly)
            clock.advance(timedelta(hours=1))
            assert tick(app) == 0
            assert tick(app) == 0
            (listed,) = app.execute(ListAutomations(org_id=org.id))
        assert len(seen) == 1
        assert len(listed.runs) == 1
        assert PruneExpired not in EVERY_MINUTE


@pytest.fixture
def worker(tmp_path: Path, clock: FixedClock, mail: MemoryEmail) -> Iterator[Worker]:
    store = MemoryStore()
    built = make_worker(
        Settings(database_url="memory://", queue_path=str(tmp_path / "queue.db")),
        uow=store.unit_of_work,
        clock=clock,
        ids=SequentialIds(),
        hasher=fast_test_hasher(),
        email=mail,
    )
    with built.app:
        yield built


def _minutes_of(day: datetime) -> Iterator[datetime]:
    start = day.replace(hour=0, minute=0, second=0, microsecond=0)
    return (start + timedelta(minutes=m) for m in range(24 * 60))


class TestSchedules:
    def test_tick_is_due_every_minute(self, worker: Worker) -> None:
        """The tick's schedule accepts every minute of a day."""
        day = datetime(2026, 11, 28, tzinfo=UTC)
        assert all(worker.tick_task.s().validate_datetime(m) for m in _minutes_of(day))

    def test_prune_is_due_once_a_day_at_0317_utc(self, worker: Worker) -> None:
        """The prune's schedule accepts exactly one minute a day, 03:17 UTC."""
        day = datetime(2026, 11, 28, tzinfo=UTC)
        due = [m for m in _minutes_of(day) if worker.prune_task.s().validate_datetime(m)]
        assert due == [datetime(2026, 11, 28, 3, 17, tzinfo=UTC)]

    def test_scheduler_finds_prune_only_at_its_minute(self, worker: Worker) -> None:
        """The consumer's scheduler enqueues the tick and the prune at 03:17 UTC and only the tick a minute later."""
        at_0317, at_0318 = datetime(2026, 11, 28, 3, 17, tzinfo=UTC), datetime(2026, 11, 28, 3, 18, tzinfo=UTC)
        assert sorted(task.name for task in worker.huey.read_periodic(at_0317)) == ["prune", "tick"]
        assert [task.name for task in worker.huey.read_periodic(at_0318)] == ["tick"]

    def test_the_daily_task_recognises_expired_packages(self, worker: Worker, clock: FixedClock) -> None:
        """Run locally, the daily task moves an expired cash package's unused credits to revenue, once."""
        world = make_world(worker.app)
        client = add_client(worker.app, world)
        worker.app.execute(
            SellPackage(
                org_id=world.org.id,
                client_id=client.id,
                name="Short",
                sessions=4,
                price=Money(10000, "USD"),
                actor=world.me,
                paid_by="cash",
                expires_at=clock.now() + timedelta(days=1),
            )
        )
        clock.advance(timedelta(days=2))
        worker.prune_task.call_local()
        worker.prune_task.call_local()
        with worker.app.unit_of_work() as uow:
            assert uow.ledger.balances(world.org.id, "USD").get(Account.REVENUE) == -10000

    def test_prune_task_runs_the_use_case(self, worker: Worker, clock: FixedClock) -> None:
        """Run locally, the daily prune deletes expired sessions, so nothing is left for another prune."""
        _sign_up(worker.app)
        worker.app.execute(LogIn(email="alex@peak.test", password=PASSWORD, address="10.0.0.1"))
        clock.advance(timedelta(days=400))
        worker.prune_task.call_local()
        assert worker.app.execute(PruneExpired()) == 0
