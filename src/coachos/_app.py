"""The library's front door: one object that runs use cases, for sync and async callers alike."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Any, Self, TypeVar

from coachos._limits import Bulkhead, Limits
from coachos.domain.errors import Unavailable
from coachos.domain.ids import OrgId
from coachos.domain.usecases import HANDLERS, Command, Deps
from coachos.domain.usecases.relay import Relay
from coachos.ports.clock import Clock, IdSource
from coachos.ports.storage import UnitOfWork

R = TypeVar("R")

#: The organisation the current async caller acts for (the web app sets it per request), so reads,
#: which name no organisation, count against its share of the worker threads too.
_TENANT: contextvars.ContextVar[OrgId | None] = contextvars.ContextVar("coachos_tenant", default=None)


def act_for(org_id: OrgId | None) -> None:
    """Count this context's later async calls against `org_id`'s share of the worker threads."""
    _TENANT.set(org_id)


class CoachOS:
    """Runs Coach OS use cases against the adapters it was built with (see `bootstrap`).

    Use cases are plain synchronous functions doing blocking database I/O. Synchronous callers
    (scripts, huey tasks, the CLI) call `execute`. Async callers (the Quart web app) await
    `execute_async`, which runs the same function on a bounded thread pool, so the event loop
    never waits on the database and both worlds share one implementation.

    Async callers wait a bounded time (`Limits`): past `use_case_timeout` they get `Unavailable`
    (the thread finishes on its own), and one organisation runs at most `tenant_concurrency` use
    cases at once, so a business whose rows are locked cannot take every thread.
    """

    def __init__(
        self,
        deps: Deps,
        *,
        worker_threads: int = 16,
        limits: Limits | None = None,
        probe: Callable[[], None] | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.deps = deps
        #: Delivers the outbox to consumers; the composition root subscribes them, the worker's tick runs it.
        self.relay = Relay(deps)
        self.limits = limits or Limits(tenant_concurrency=max(2, worker_threads // 4))
        self._executor = ThreadPoolExecutor(max_workers=worker_threads, thread_name_prefix="coachos")
        self._bulkhead = Bulkhead(self.limits.tenant_concurrency, self.limits.tenant_queue_timeout)
        self._probe = probe
        # Readiness checks get their own thread, one at a time: a hung check never holds a
        # worker thread, and checks arriving meanwhile wait for it instead of piling up.
        self._probe_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="coachos-probe")
        self._probing: Future[None] | None = None
        self._on_close = on_close

    @property
    def clock(self) -> Clock:
        """The clock use cases read."""
        return self.deps.clock

    @property
    def ids(self) -> IdSource:
        """Where new ids come from."""
        return self.deps.ids

    def unit_of_work(self) -> UnitOfWork:
        """A new unit of work, for reads the use cases do not cover."""
        return self.deps.uow()

    def execute(self, command: Command[R]) -> R:
        """Run the use case for `command` and return its result."""
        try:
            handler = HANDLERS[type(command)]
        except KeyError:
            raise TypeError(f"No use case handles {type(command).__name__}.") from None
        result: R = handler(command, self.deps)
        return result

    async def execute_async(self, command: Command[R]) -> R:
        """`execute` on a worker thread, keeping the caller's context (request id, log fields)."""
        key = getattr(command, "org_id", None) or _TENANT.get()
        return await self._on_worker(key, functools.partial(self.execute, command))

    def read(self, query: Callable[[UnitOfWork], R]) -> R:
        """`query(uow)` in a fresh unit of work that is rolled back afterwards (reads only)."""
        with self.deps.uow() as uow:
            return query(uow)

    async def read_async(self, query: Callable[[UnitOfWork], R]) -> R:
        """`read` on a worker thread, for async callers."""
        return await self._on_worker(_TENANT.get(), functools.partial(self.read, query))

    async def check_ready(self, timeout: float = 2.0) -> None:
        """Raise `Unavailable` unless the database answers within `timeout` seconds.

        Uses neither the worker threads nor the connection pool, so it answers even when both
        are busy; without a database (the in-memory fakes) there is nothing to check.
        """
        if self._probe is None:
            return
        if self._probing is None or self._probing.done():
            self._probing = self._probe_executor.submit(self._probe)
        try:
            async with asyncio.timeout(timeout):
                # Shielded: a check that outlives one caller's patience still answers the next.
                await asyncio.shield(asyncio.wrap_future(self._probing))
        except TimeoutError:
            raise Unavailable(reason="probe_timeout") from None

    async def _on_worker(self, key: Hashable | None, work: Callable[[], R]) -> R:
        """`work()` on a worker thread within `key`'s share of them, waiting at most `use_case_timeout`."""
        loop = asyncio.get_running_loop()
        if key is not None:
            await self._bulkhead.enter(key)
        try:
            running = self._executor.submit(contextvars.copy_context().run, work)
        except BaseException:
            if key is not None:
                self._bulkhead.leave(key)
            raise
        if key is not None:
            # The turn is given back when the thread is done, not when the caller stops waiting:
            # a timed-out call's thread is still busy, and it still counts against its business.
            running.add_done_callback(functools.partial(_call_soon, loop, self._bulkhead.leave, key))
        try:
            async with asyncio.timeout(self.limits.use_case_timeout):
                result: R = await asyncio.wrap_future(running)
        except TimeoutError:
            raise Unavailable(reason="use_case_timeout") from None
        return result

    def close(self) -> None:
        """Stop the worker threads and release database connections."""
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._probe_executor.shutdown(wait=False, cancel_futures=True)
        if self._on_close is not None:
            self._on_close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[[Hashable], None], key: Hashable, _: Any) -> None:
    """Run `callback(key)` on `loop` from a worker thread, unless the loop has already closed."""
    with contextlib.suppress(RuntimeError):  # the loop is gone, and its bulkhead with it
        loop.call_soon_threadsafe(callback, key)
