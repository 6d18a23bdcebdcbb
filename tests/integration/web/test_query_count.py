"""A slots request issues the same number of SQL statements with no bookings as with hundreds."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from coachos import BookSession, CoachOS, FindSlots, Settings, bootstrap
from coachos.adapters.clock import FixedClock, RandomIds
from coachos.adapters.security import MemoryEmail, fast_test_hasher
from coachos.adapters.sql.uow import SqlUnitOfWork
from coachos.domain.usecases import CreateApiToken
from tests.helpers import MONDAY_NOON_UTC, add_client, make_world
from tests.integration.conftest import PostgresDatabases, app_engine
from tests.web.support import serving

pytestmark = pytest.mark.postgres


@pytest.fixture
def engine(pg_databases: PostgresDatabases) -> Iterator[sa.Engine]:
    """A fresh migrated PostgreSQL database, used as the app role."""
    built = app_engine(pg_databases.create(), pool_size=5)
    yield built
    built.dispose()


class TestSlotsQueryCount:
    async def test_statements_do_not_grow_with_bookings(self, engine: sa.Engine) -> None:
        """GET /api/v1/slots for 30 days costs the same number of statements at 0 and at 300 bookings."""
        clock = FixedClock(MONDAY_NOON_UTC)
        with bootstrap(
            Settings(database_url="memory://"),
            uow=lambda: SqlUnitOfWork(engine),
            clock=clock,
            ids=RandomIds(),
            hasher=fast_test_hasher(),
            email=MemoryEmail(),
        ) as core:
            w = make_world(core, sessions=1000)
            token = core.execute(CreateApiToken(org_id=w.org.id, coach_id=w.coach.id, name="bench")).secret
            query = urlencode(
                {
                    "service_id": str(w.pt.id),
                    "start": MONDAY_NOON_UTC.isoformat(),
                    "end": (MONDAY_NOON_UTC + timedelta(days=30)).isoformat(),
                }
            )
            empty_count, empty_slots = await _count(core, engine, f"/api/v1/slots?{query}", token)
            _book_many(core, w, 300)
            busy_count, busy_slots = await _count(core, engine, f"/api/v1/slots?{query}", token)
        assert empty_slots > busy_slots > 0
        assert busy_count == empty_count


def _book_many(core: CoachOS, w: Any, n: int) -> None:
    client = add_client(core, w, "Busy client", sessions=1000)
    slots = core.execute(
        FindSlots(
            org_id=w.org.id,
            coach_id=w.coach.id,
            service_id=w.pt.id,
            start=MONDAY_NOON_UTC,
            end=MONDAY_NOON_UTC + timedelta(days=90),
        )
    )
    taken = 0
    for slot in slots[::4]:  # every other hour across 90 days, so free slots remain everywhere
        if taken == n:
            break
        try:
            core.execute(
                BookSession(
                    org_id=w.org.id,
                    coach_id=w.coach.id,
                    service_id=w.pt.id,
                    client_id=client.id,
                    start=slot.start,
                    actor=w.me,
                )
            )
        except Exception:  # noqa: S112  # slots next to a new booking are taken by its buffer-free overlap
            continue
        taken += 1
    assert taken == n


async def _count(core: CoachOS, engine: sa.Engine, path: str, token: str) -> tuple[int, int]:
    statements = [0]

    def count(*_: Any) -> None:
        statements[0] += 1

    async with serving(core) as app:
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}
        await client.get(path, headers=headers)  # warm-up: first-use queries don't count
        event.listen(engine, "before_cursor_execute", count)
        try:
            response = await client.get(path, headers=headers)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert response.status_code == 200, await response.get_data(as_text=True)
        body = await response.get_json()
    return statements[0], len(body["items"])
