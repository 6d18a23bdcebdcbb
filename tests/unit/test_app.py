"""The CoachOS front door: one implementation for sync and async callers."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from datetime import datetime

import attrs
import pytest

from coachos import CoachOS, FindSlots, Settings, bootstrap
from coachos.adapters.clock import FixedClock, SequentialIds
from coachos.adapters.memory import MemoryStore
from coachos.domain.usecases import Command
from tests.helpers import MONDAY_NOON_UTC, World, local, make_world

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="none")


@attrs.define
class WitnessClock(FixedClock):
    """A fixed clock that notes which thread asked it the time, and the request id it saw."""

    seen: list[tuple[int, str]] = attrs.Factory(list)

    def now(self) -> datetime:
        self.seen.append((threading.get_ident(), request_id.get()))
        return super().now()


class TestExecuteAsync:
    def test_runs_off_the_event_loop_thread_with_context(self) -> None:
        """Awaiting a use case runs it on a worker thread, keeping the caller's context variables."""
        clock = WitnessClock(MONDAY_NOON_UTC)
        with bootstrap(
            Settings(database_url="memory://"), uow=MemoryStore().unit_of_work, clock=clock, ids=SequentialIds()
        ) as app:
            w = make_world(app)
            clock.seen.clear()

            async def call() -> tuple[int, int]:
                request_id.set("req-42")
                query = FindSlots(
                    org_id=w.org.id,
                    coach_id=w.coach.id,
                    service_id=w.pt.id,
                    start=local(w, 3, 0),
                    end=local(w, 4, 0),
                )
                slots = await app.execute_async(query)
                return threading.get_ident(), len(slots)

            loop_thread, count = asyncio.run(call())
        assert count > 0
        ((thread, seen_request),) = clock.seen
        assert thread != loop_thread
        assert seen_request == "req-42"

    def test_concurrent_awaits_do_not_serialise_the_loop(self, app: CoachOS, world: World) -> None:
        """Many awaited use cases complete together and agree with the synchronous call."""
        query = FindSlots(
            org_id=world.org.id,
            coach_id=world.coach.id,
            service_id=world.pt.id,
            start=local(world, 3, 0),
            end=local(world, 10, 0),
        )

        async def many() -> list[int]:
            return [len(s) for s in await asyncio.gather(*(app.execute_async(query) for _ in range(20)))]

        assert asyncio.run(many()) == [len(app.execute(query))] * 20


class TestExecute:
    def test_unknown_command_is_a_type_error(self, app: CoachOS) -> None:
        """A command no use case handles is refused with its name."""

        class Stray(Command[int]):
            pass

        with pytest.raises(TypeError, match="Stray"):
            app.execute(Stray())
