"""Sending on SQLite and PostgreSQL: the unit tests again, then workers and token takers racing on real connections."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from uuid import uuid4

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from coachos import CoachOS, Settings, bootstrap
from coachos.adapters.clock import FixedClock, RandomIds
from coachos.adapters.email import MemoryEmail
from coachos.adapters.security import fast_test_hasher
from coachos.adapters.sms import MemorySms
from coachos.adapters.sql.tables import messages, send_rates
from coachos.adapters.sql.uow import SqlUnitOfWork
from coachos.domain.clients import Channel
from coachos.domain.messages import MessageStatus
from coachos.domain.sending import SendingOptions
from coachos.domain.usecases import SendDueMessages, SendReport
from coachos.ports.storage import UnitOfWork
from tests.helpers import World
from tests.integration.test_concurrency import race
from tests.unit.test_sending import (  # noqa: F401  # collected again with this folder's `app`
    CALLBACK,
    DAYTIME,
    FROM,
    TestConsent,
    TestDeliveryReports,
    TestPermanentFailures,
    TestQuietHours,
    TestRate,
    TestRetries,
    TestUnknownOutcome,
    consent,
    queue,
)


def as_owner(engine: Engine, *statements: sa.Executable) -> None:
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SET LOCAL ROLE NONE"))
        for statement in statements:
            conn.execute(statement)


@pytest.fixture
def sms() -> MemorySms:
    """The SMS provider, recording what it was asked."""
    return MemorySms()


@pytest.fixture
def mailbox() -> MemoryEmail:
    """The email provider, recording what it was asked."""
    return MemoryEmail()


@pytest.fixture
def app(engine: Engine, clock: FixedClock, sms: MemorySms, mailbox: MemoryEmail) -> Iterator[CoachOS]:
    """Coach OS on a real database with no other test's messages or buckets, sending through the fakes."""
    # The database is shared by the session; earlier tests' due messages would be claimed here too.
    as_owner(engine, messages.delete(), send_rates.delete())
    clock.set(DAYTIME)

    def uow() -> UnitOfWork:
        return SqlUnitOfWork(engine)

    options = SendingOptions(default_sms_from=FROM, status_callback_url=CALLBACK, rate_per_second=1, burst=1)
    with bootstrap(
        Settings(database_url="memory://"),
        uow=uow,
        clock=clock,
        ids=RandomIds(),
        hasher=fast_test_hasher(),
        email=mailbox,
        sms=sms,
        sending=options,
    ) as built:
        yield built


class TestRacingWorkers:
    def test_workers_claiming_at_once_never_share_a_message(self, app: CoachOS, world: World) -> None:
        """Four workers claiming 120 due messages at once, each on its own connection, claim each exactly once."""
        queued = {queue(app, world, sender=f"+1500555{n:04d}").id for n in range(120)}
        now = app.clock.now()

        def claim_all() -> list[object]:
            mine: list[object] = []
            while True:
                with app.deps.uow() as uow:
                    claims = uow.messages.claim_due(now, now + timedelta(minutes=5), 7)
                    uow.commit()
                if not claims:
                    return mine
                mine.extend(c.message.id for c in claims)

        results = race([claim_all] * 4)
        claimed = [m for r in results if isinstance(r, list) for m in r]
        assert Counter(claimed) == Counter(queued)

    def test_two_workers_sending_at_once_send_each_message_once(
        self, app: CoachOS, world: World, sms: MemorySms
    ) -> None:
        """Two SendDueMessages runs racing over 60 texts (30 numbers) hand each text to the provider exactly once."""
        consent(app, world, Channel.SMS)
        queued = [queue(app, world, sender=f"+1500556{n % 30:04d}", body=f"Reminder {n}") for n in range(60)]
        results = race([lambda: app.execute(SendDueMessages(budget_seconds=5))] * 2)
        reports = [r for r in results if isinstance(r, SendReport)]
        assert len(reports) == 2
        assert sum(r.sent for r in reports) == 30  # one per number this second; the rest wait a second
        app.clock.advance(timedelta(seconds=1))  # type: ignore[attr-defined]
        race([lambda: app.execute(SendDueMessages(budget_seconds=5))] * 2)
        assert Counter(r.body for r in sms.requests) == Counter(m.body for m in queued)
        with app.deps.uow() as uow:
            statuses = {uow.messages.get(m.org_id, m.id).status for m in queued}
        assert statuses == {MessageStatus.SENT}


class TestUnreadableRows:
    def test_a_due_row_no_code_can_read_is_failed_once_not_claimed_every_tick(
        self, app: CoachOS, world: World, engine: Engine, sms: MemorySms
    ) -> None:
        """A due message whose stored channel is unknown is marked failed with a reason; the others still go."""
        consent(app, world, Channel.SMS)
        bad = queue(app, world)
        good = queue(app, world)
        as_owner(engine, messages.update().where(messages.c.id == bad.id).values(channel="pigeon"))
        assert app.execute(SendDueMessages()) == SendReport(claimed=1, sent=1)
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SET LOCAL ROLE NONE"))
            row = conn.execute(sa.select(messages).where(messages.c.id == bad.id)).one()
        assert (row.status, row.channel) == ("failed", "pigeon")
        assert [r.body for r in sms.sent] == [good.body]
        assert app.execute(SendDueMessages()) == SendReport()


class TestRacingTokenTakers:
    def test_twenty_takers_at_one_instant_get_only_the_bucket(self, app: CoachOS) -> None:
        """Twenty transactions taking from a full bucket of 3 at the same instant: exactly 3 succeed."""
        number = f"+1999{uuid4().int % 10**7:07d}"

        def take() -> bool:
            with app.deps.uow() as uow:
                taken = uow.messages.take_send_token(number, DAYTIME, 1, 3)
                uow.commit()
            return taken

        assert Counter(race([take] * 20)) == Counter({True: 3, False: 17})

    def test_takers_racing_second_after_second_never_exceed_the_rate(self, app: CoachOS) -> None:
        """Ten racing takers a second for ten seconds at 2 per second (bucket of 2) get 2 a second, never more."""
        number = f"+1999{uuid4().int % 10**7:07d}"
        per_second = []
        for second in range(10):
            at = DAYTIME + timedelta(seconds=second)

            def take(at: object = at) -> bool:
                with app.deps.uow() as uow:
                    taken = uow.messages.take_send_token(number, at, 2, 2)  # type: ignore[arg-type]
                    uow.commit()
                return taken

            per_second.append(sum(1 for r in race([take] * 10) if r is True))
        assert per_second == [2] * 10


@pytest.mark.postgres
@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
class TestClaimsHoldOnPostgres:
    def test_a_claim_being_made_is_skipped_not_waited_for(self, app: CoachOS, world: World, engine: Engine) -> None:
        """While one worker's claim transaction is open, another claims the other rows instead of blocking."""
        first = queue(app, world)
        second = queue(app, world)
        now = app.clock.now()
        with app.deps.uow() as holder:
            [held] = holder.messages.claim_due(now, now + timedelta(minutes=5), 1)
            with app.deps.uow() as other:
                taken = other.messages.claim_due(now, now + timedelta(minutes=5), 10)
                other.commit()
            holder.commit()
        assert {held.message.id, *(c.message.id for c in taken)} == {first.id, second.id}
        assert len(taken) == 1
