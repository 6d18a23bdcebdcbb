"""How long async callers wait, and how much of the worker pool one organisation may hold."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest

from coachos import CoachOS, ListBookings, Settings, Unavailable, bootstrap
from coachos._app import act_for
from coachos._limits import Bulkhead
from coachos.domain.ids import OrgId
from tests.helpers import MONDAY_NOON_UTC
from tests.stalling import StallingStore

ORG_A, ORG_B = OrgId(uuid.uuid4()), OrgId(uuid.uuid4())


def _listing(org_id: OrgId) -> ListBookings:
    return ListBookings(org_id=org_id, start=MONDAY_NOON_UTC, end=MONDAY_NOON_UTC + timedelta(days=1))


class TestBulkhead:
    """Turns per key, with a bounded wait for one."""

    async def test_turns_beyond_the_limit_wait_then_are_refused(self) -> None:
        """With two turns taken, a third caller for the same key waits `wait` seconds and is refused as busy."""
        bulkhead = Bulkhead(2, 0.05)
        await bulkhead.enter("a")
        await bulkhead.enter("a")
        started = time.monotonic()
        with pytest.raises(Unavailable) as refused:
            await bulkhead.enter("a")
        assert 0.04 <= time.monotonic() - started < 1
        assert refused.value.reason == "tenant_busy"
        assert refused.value.retry_after > 0

    async def test_other_keys_are_not_held_up(self) -> None:
        """A key whose turns are all taken does not delay another key."""
        bulkhead = Bulkhead(1, 5)
        await bulkhead.enter("a")
        await asyncio.wait_for(bulkhead.enter("b"), 0.5)

    async def test_a_turn_given_back_goes_to_the_next_waiter(self) -> None:
        """A waiting caller gets the turn as soon as a holder leaves."""
        bulkhead = Bulkhead(1, 5)
        await bulkhead.enter("a")
        waiter = asyncio.create_task(bulkhead.enter("a"))
        await asyncio.sleep(0.01)
        assert not waiter.done()
        bulkhead.leave("a")
        await asyncio.wait_for(waiter, 0.5)
        assert bulkhead.in_use("a") == 1

    async def test_idle_keys_are_forgotten(self) -> None:
        """Once every turn is back and nobody waits, nothing is kept for the key."""
        bulkhead = Bulkhead(1, 0.01)
        await bulkhead.enter("a")
        with pytest.raises(Unavailable):
            await bulkhead.enter("a")
        bulkhead.leave("a")
        assert bulkhead.in_use("a") == 0
        assert not bulkhead._gates

    def test_a_limit_below_one_is_refused(self) -> None:
        """A bulkhead that could never let anyone in is a configuration error."""
        with pytest.raises(ValueError, match="at least 1"):
            Bulkhead(0, 1)


@pytest.fixture
def stalling() -> Iterator[StallingStore]:
    """An in-memory store that can be made to hang; always let go at the end."""
    store = StallingStore()
    yield store
    store.resume()


@contextmanager
def _limited(stalling: StallingStore, **settings: float) -> Iterator[CoachOS]:
    """Coach OS on `stalling` with eight threads and two per business; stuck threads are let go before it closes."""
    values = {"database_url": "memory://", "worker_threads": 8, "tenant_concurrency": 2, **settings}
    app = bootstrap(Settings(**values), uow=stalling.unit_of_work)  # type: ignore[arg-type]
    try:
        yield app
    finally:
        stalling.resume()
        app.close()


class TestCoachOSLimits:
    """`execute_async` and `read_async` under a database that stopped answering for one business."""

    async def test_one_business_holds_at_most_its_share_of_threads(self, stalling: StallingStore) -> None:
        """Six stuck use cases of one business take two threads; the other four are refused within the queue wait."""
        with _limited(stalling, tenant_queue_timeout=0.2, use_case_timeout=10) as app:
            stalling.stall()
            calls = [asyncio.create_task(app.execute_async(_listing(ORG_A))) for _ in range(6)]
            done, pending = await asyncio.wait(calls, timeout=1.5)
            assert len(done) == 4
            assert all(isinstance(call.exception(), Unavailable) for call in done)
            assert stalling.waiting == 2
            stalling.resume()
            await asyncio.wait_for(asyncio.gather(*pending), 3)

    async def test_another_business_is_served_meanwhile(self, stalling: StallingStore) -> None:
        """While one business's use cases hang, another business's read runs on a free thread at once."""
        with _limited(stalling, tenant_queue_timeout=0.2, use_case_timeout=10) as app:
            stalling.stall()
            act_for(ORG_A)
            stuck = [asyncio.create_task(app.read_async(lambda _uow: None)) for _ in range(6)]
            await asyncio.sleep(0.05)
            act_for(ORG_B)
            started = time.monotonic()
            with stalling.exempt():
                assert await asyncio.wait_for(app.read_async(lambda _uow: "answered"), 2) == "answered"
            assert time.monotonic() - started < 1
            assert stalling.waiting == 2
            stalling.resume()
            await asyncio.gather(*stuck, return_exceptions=True)

    async def test_a_use_case_that_outlives_its_timeout_is_unavailable(self, stalling: StallingStore) -> None:
        """A use case still waiting on the database after `use_case_timeout` answers Unavailable, promptly."""
        with _limited(stalling, use_case_timeout=0.2) as app:
            stalling.stall()
            started = time.monotonic()
            with pytest.raises(Unavailable) as refused:
                await app.execute_async(_listing(ORG_A))
            assert time.monotonic() - started < 1
            assert refused.value.reason == "use_case_timeout"

    async def test_a_timed_out_thread_keeps_its_turn_until_it_ends(self, stalling: StallingStore) -> None:
        """The caller stops waiting, but the business's turn is given back only when the thread is free again."""
        with _limited(stalling, use_case_timeout=0.1, tenant_queue_timeout=0.1) as app:
            stalling.stall()
            for _ in range(2):
                with pytest.raises(Unavailable):
                    await app.execute_async(_listing(ORG_A))
            with pytest.raises(Unavailable) as refused:
                await app.execute_async(_listing(ORG_A))
            assert refused.value.reason == "tenant_busy"
            stalling.resume()
            for _ in range(50):
                if app._bulkhead.in_use(ORG_A) == 0:
                    break
                await asyncio.sleep(0.02)
            assert await app.execute_async(_listing(ORG_A)) == []

    async def test_the_default_share_is_a_quarter_of_the_threads(self) -> None:
        """Without a setting, one business may use a quarter of the worker threads, and never fewer than two."""
        assert Settings(worker_threads=16).tenant_limit == 4
        assert Settings(worker_threads=4).tenant_limit == 2
        assert Settings(worker_threads=16, tenant_concurrency=7).tenant_limit == 7
