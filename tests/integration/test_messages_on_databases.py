"""The message store on SQLite and PostgreSQL, and writers racing one key or one provider id."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from coachos import CoachOS
from coachos.adapters.clock import FixedClock
from coachos.adapters.sql.tables import messages
from coachos.domain.messages import Message
from tests.helpers import World
from tests.integration.test_concurrency import race
from tests.unit.test_message_store import (  # noqa: F401  # collected again with this folder's `app`
    TestMessageStore,
    incoming,
    reminder,
)


def stored(engine: Engine) -> int:
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SET LOCAL ROLE NONE"))
        return int(conn.execute(sa.select(sa.func.count()).select_from(messages)).scalar_one())


def add(app: CoachOS, message: Message) -> Message:
    with app.deps.uow() as uow:
        kept = uow.messages.add(message)
        uow.commit()
    return kept


@pytest.mark.postgres
@pytest.mark.parametrize("engine", ["postgres"], indirect=True)
class TestRacingWriters:
    def test_twenty_writers_of_one_key_store_one_message(
        self, engine: Engine, app: CoachOS, world: World, clock: FixedClock
    ) -> None:
        """Twenty transactions queueing the same key at once, each on its own connection: one row, all get it back."""
        before = stored(engine)
        candidates = [reminder(app, world, clock, "booking:race:reminder-24h") for _ in range(20)]
        results = race([lambda m=m: add(app, m) for m in candidates])
        assert stored(engine) == before + 1
        assert len({r.id for r in results if isinstance(r, Message)}) == 1
        assert all(isinstance(r, Message) for r in results)

    def test_twenty_deliveries_of_one_message_sid_store_one_message(
        self, engine: Engine, app: CoachOS, world: World, clock: FixedClock
    ) -> None:
        before = stored(engine)
        candidates = [incoming(world, clock, "SMrace") for _ in range(20)]
        results = race([lambda m=m: add(app, m) for m in candidates])
        assert stored(engine) == before + 1
        assert len({r.id for r in results if isinstance(r, Message)}) == 1
