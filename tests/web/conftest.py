"""Fixtures for route tests on the in-memory fakes (tests/integration/web repeats key ones on PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from coachos import CoachOS, Settings, bootstrap
from coachos.adapters.clock import FixedClock, RandomIds
from coachos.adapters.memory import MemoryStore
from coachos.adapters.security import MemoryEmail, fast_test_hasher
from tests.web.support import serving


@pytest.fixture
def mail() -> MemoryEmail:
    """Emails the app sends."""
    return MemoryEmail()


@pytest.fixture
def core(clock: FixedClock, mail: MemoryEmail) -> Iterator[CoachOS]:
    """Coach OS on fakes, with cheap password hashing."""
    with bootstrap(
        Settings(database_url="memory://"),
        uow=MemoryStore().unit_of_work,
        clock=clock,
        ids=RandomIds(),
        hasher=fast_test_hasher(),
        email=mail,
    ) as built:
        yield built


@pytest.fixture
async def web(core: CoachOS) -> AsyncIterator[Quart]:
    """The web app, serving."""
    async with serving(core) as app:
        yield app


@pytest.fixture
def client(web: Quart) -> Client:
    """A browser-like client with its own cookie jar."""
    return web.test_client()
