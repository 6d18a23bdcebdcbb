"""Inbound texts and phone numbers on SQLite and PostgreSQL: the unit tests again, racing webhooks, tenant isolation."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from coachos import CoachOS, Conflict
from coachos.adapters.sql.tables import clients, messages, phone_numbers
from coachos.adapters.sql.tenancy import ORG_SETTING
from coachos.adapters.sql.uow import SqlUnitOfWork
from coachos.domain.numbers import NUMBER_TAKEN, PhoneNumber
from coachos.domain.usecases import AddPhoneNumber, ReceiveSms, SmsReceived
from tests.helpers import World, make_world
from tests.integration.test_concurrency import race
from tests.unit.test_inbound import (  # noqa: F401  # collected again with this folder's `app`
    TestKeywords,
    TestMessageReceivedEvent,
    TestPhoneNumbers,
    TestReceiveSms,
    add_number,
    fresh_number,
    fresh_sid,
)


def count(engine: Engine, table: sa.Table, *where: sa.ColumnElement[bool]) -> int:
    """Rows of `table` as the owner sees them (past row-level security)."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SET LOCAL ROLE NONE"))
        return int(conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one())


class TestRacingWebhooks:
    def test_twenty_deliveries_of_one_text_store_one_message_and_one_lead(
        self, engine: Engine, app: CoachOS, world: World
    ) -> None:
        """The same webhook from an unknown sender 20 times at once, each on its own connection: one text, one lead."""
        ours = add_number(app, world).number
        sid, stranger = fresh_sid(), fresh_number()
        command = ReceiveSms(message_sid=sid, to=ours, sender=stranger, body="STOP")
        results = race([lambda: app.execute(command) for _ in range(20)])
        assert all(isinstance(r, SmsReceived) for r in results), results
        received = [r for r in results if isinstance(r, SmsReceived)]
        assert sum(not r.duplicate for r in received) == 1
        assert len({r.message.id for r in received}) == 1
        assert count(engine, messages, messages.c.provider_id == sid) == 1
        assert count(engine, messages, messages.c.key == f"inbound:{sid}:reply") == 1
        assert count(engine, clients, clients.c.org_id == world.org.id, clients.c.phone == stranger) == 1

    def test_twenty_texts_from_one_new_sender_at_once_make_one_lead(
        self, engine: Engine, app: CoachOS, world: World
    ) -> None:
        """Twenty different texts from a stranger arriving together are twenty messages in one new lead's thread."""
        ours = add_number(app, world).number
        stranger = fresh_number()
        commands = [ReceiveSms(message_sid=fresh_sid(), to=ours, sender=stranger, body=f"part {i}") for i in range(20)]
        results = race([lambda c=c: app.execute(c) for c in commands])
        received = [r for r in results if isinstance(r, SmsReceived)]
        assert len(received) == 20, results
        assert sum(r.new_lead for r in received) == 1
        assert len({r.message.client_id for r in received}) == 1
        assert count(engine, clients, clients.c.org_id == world.org.id, clients.c.phone == stranger) == 1
        assert count(engine, messages, messages.c.from_address == stranger) == 20

    def test_twenty_businesses_adding_one_number_at_once_give_it_to_one(
        self, engine: Engine, app: CoachOS, world: World
    ) -> None:
        """Twenty businesses claiming the same number at the same moment: one has it, nineteen hear it is taken."""
        worlds = [world, *(make_world(app) for _ in range(19))]
        number = fresh_number()
        results = race(
            [lambda w=w: app.execute(AddPhoneNumber(org_id=w.org.id, number=number, actor=w.me)) for w in worlds]
        )
        assert sum(isinstance(r, PhoneNumber) for r in results) == 1
        refusals = [r for r in results if isinstance(r, Conflict)]
        assert len(refusals) == 19
        assert {r.message for r in refusals} == {NUMBER_TAKEN}
        assert count(engine, phone_numbers, phone_numbers.c.number == number) == 1


@pytest.mark.postgres
@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
class TestNumbersTenancy:
    def test_a_business_sees_only_its_own_numbers_and_cannot_write_anothers(
        self, engine: Engine, app: CoachOS, world: World
    ) -> None:
        """Scoped to one business, a careless query sees its numbers only, and inserting for another is refused."""
        other = make_world(app)
        mine, theirs = add_number(app, world), add_number(app, other)
        with engine.connect() as conn, conn.begin():
            conn.execute(sa.select(sa.func.set_config(ORG_SETTING, str(world.org.id), True)))
            seen = set(conn.execute(sa.select(phone_numbers.c.id)).scalars())
            assert mine.id in seen
            assert theirs.id not in seen
        with engine.connect() as conn, conn.begin():
            conn.execute(sa.select(sa.func.set_config(ORG_SETTING, str(world.org.id), True)))
            with pytest.raises(sa.exc.ProgrammingError, match="row-level security"):
                conn.execute(
                    phone_numbers.insert().values(
                        id=uuid.uuid4(),
                        org_id=other.org.id,
                        number=fresh_number(),
                        label="",
                        created_at=mine.created_at,
                    )
                )

    def test_the_lookup_by_number_spans_businesses_and_only_reads(
        self, engine: Engine, app: CoachOS, world: World
    ) -> None:
        """`owner` finds any business's number; afterwards the same transaction sees only its own business again."""
        other = make_world(app)
        theirs = add_number(app, other)
        with SqlUnitOfWork(engine) as uow:
            assert uow.phone_numbers.owner(theirs.number) == theirs
            assert list(uow.phone_numbers.list(world.org.id)) == []
            unscoped = uow.connection.execute(sa.select(phone_numbers.c.id)).scalars().all()
            assert theirs.id not in unscoped

    def test_unscoped_reads_see_no_numbers(self, engine: Engine, app: CoachOS, world: World) -> None:
        """A transaction that names no business and sets no lookup flag sees no numbers at all."""
        add_number(app, world)
        with engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(phone_numbers)).scalar_one() == 0
