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
