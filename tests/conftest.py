"""Fixtures shared by every test: a controllable clock and Coach OS built on the in-memory fakes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from coachos import CoachOS, Settings, bootstrap
from coachos.adapters.clock import FixedClock, SequentialIds
from coachos.adapters.memory import MemoryStore
from tests.helpers import MONDAY_NOON_UTC, World, make_world


@pytest.fixture
def clock() -> FixedClock:
    """A clock stopped at Monday 2 March 2026, 12:00 UTC."""
    return FixedClock(MONDAY_NOON_UTC)


@pytest.fixture
def app(clock: FixedClock) -> Iterator[CoachOS]:
    """Coach OS on the in-memory fakes (integration tests override this with real databases)."""
    store = MemoryStore()
    with bootstrap(
        Settings(database_url="memory://"), uow=store.unit_of_work, clock=clock, ids=SequentialIds()
    ) as built:
        yield built


@pytest.fixture
def world(app: CoachOS) -> World:
    """A business in New York ready to take bookings."""
    return make_world(app)
