"""The inbox's reads and writes on SQLite and PostgreSQL, and one statement per read whatever the size."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

from coachos import CoachOS
from coachos.adapters.clock import FixedClock
from coachos.adapters.sql.tables import messages
from tests.helpers import World, add_client
from tests.unit.test_inbox import (  # noqa: F401  # collected again with this folder's `app`
    TestInboxStore,
    TestListConversations,
    TestReadConversation,
    TestSendReply,
    texted,
)


class Statements:
    """Counts the SQL statements an engine runs while counting."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, *_: Any) -> None:
        self.count += 1


@pytest.fixture
def statements(engine: Engine) -> Iterator[Statements]:
    counter = Statements()
    event.listen(engine, "before_cursor_execute", counter)
    yield counter
    event.remove(engine, "before_cursor_execute", counter)


class TestInboxStatements:
    def test_the_conversation_list_is_one_statement_however_many_clients(
        self, app: CoachOS, world: World, clock: FixedClock, engine: Engine
    ) -> None:
        """Listing 2 or 12 conversations runs the same number of statements (no query per client)."""

        def count() -> int:
            counter = Statements()
            event.listen(engine, "before_cursor_execute", counter)
            try:
                found = app.read(lambda uow: uow.messages.conversations(world.org.id, 50))
            finally:
                event.remove(engine, "before_cursor_execute", counter)
            assert not found.unreadable
            return counter.count

        for i in range(2):
            texted(app, world, add_client(app, world, f"Client {i}"), clock.now() + timedelta(minutes=i))
        few = count()
        for i in range(2, 12):
            texted(app, world, add_client(app, world, f"Client {i}"), clock.now() + timedelta(minutes=i))
        assert count() == few


@pytest.mark.postgres
@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
class TestUnreadIndex:
    def test_the_unread_count_can_use_the_partial_index(self, engine: Engine, app: CoachOS, world: World) -> None:
        """With sequential scans off, PostgreSQL counts unread messages from ix_messages_unread."""
        with engine.connect() as conn:
            conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
            q = (
                sa.select(sa.func.count())
                .select_from(messages)
                .where(
                    messages.c.org_id == world.org.id,
                    messages.c.client_id.is_not(None),
                    messages.c.direction == "in",
                    messages.c.read_at.is_(None),
                )
            )
            compiled = q.compile(conn, compile_kwargs={"literal_binds": True})
            plan = "\n".join(r[0] for r in conn.execute(sa.text(f"EXPLAIN {compiled}")))
        assert "ix_messages_unread" in plan


#: A stored time that is no date Python can hold, per database (PostgreSQL refuses text that is no timestamp).
BAD_TIME = {"postgresql": "infinity", "sqlite": "2026-02-30 12:00:00"}


def spoil(engine: Engine, message_id: object, column: str, value: str) -> None:
    """Overwrite one column of a stored message with raw SQL, as a manual fix gone wrong might."""
    sql = f"UPDATE messages SET {column} = '{value}' WHERE id = :id"  # noqa: S608  # the test's own constants
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL ROLE NONE")
        done = conn.execute(sa.text(sql).bindparams(sa.bindparam("id", message_id, type_=sa.Uuid())))
        assert done.rowcount == 1


class TestUnreadableMessages:
    def test_a_conversation_whose_last_message_has_an_unknown_status_is_named_not_fatal(
        self, app: CoachOS, world: World, clock: FixedClock, engine: Engine
    ) -> None:
        """The other conversations are listed; the unreadable one is named by table and id."""
        sam = add_client(app, world, "Sam Patel")
        texted(app, world, world.client, clock.now())
        bad = texted(app, world, sam, clock.now() + timedelta(minutes=1))
        spoil(engine, bad.id, "status", "vip")
        found = app.read(lambda uow: uow.messages.conversations(world.org.id, 50))
        assert [c.client_name for c in found] == ["Jordan Lee"]
        assert [(r.table, r.row_id) for r in found.unreadable] == [("messages", str(bad.id))]

    def test_a_time_the_driver_cannot_load_is_named_not_fatal(
        self, app: CoachOS, world: World, clock: FixedClock, engine: Engine
    ) -> None:
        """A message time Python cannot hold breaks the fetch; the list is read again message by message."""
        sam = add_client(app, world, "Sam Patel")
        texted(app, world, world.client, clock.now())
        bad = texted(app, world, sam, clock.now() + timedelta(minutes=1))
        spoil(engine, bad.id, "created_at", BAD_TIME[engine.dialect.name])
        found = app.read(lambda uow: uow.messages.conversations(world.org.id, 50))
        assert [c.client_name for c in found] == ["Jordan Lee"]
        assert [(r.table, r.row_id) for r in found.unreadable] == [("messages", str(bad.id))]
        thread = app.read(lambda uow: uow.messages.for_client(world.org.id, sam.id))
        assert list(thread) == []
        assert [r.row_id for r in thread.unreadable] == [str(bad.id)]
