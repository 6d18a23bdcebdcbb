"""The library's front door: one object that runs use cases, for sync and async callers alike."""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any, Self, TypeVar

from coachos.domain.usecases import HANDLERS, Command, Deps
from coachos.ports.clock import Clock, IdSource
from coachos.ports.storage import UnitOfWork

R = TypeVar("R")


class CoachOS:
    """Runs Coach OS use cases against the adapters it was built with (see `bootstrap`).

    Use cases are plain synchronous functions doing blocking database I/O. Synchronous callers
    (scripts, huey tasks, the CLI) call `execute`. Async callers (the Quart web app) await
    `execute_async`, which runs the same function on a bounded thread pool, so the event loop
    never waits on the database and both worlds share one implementation.
    """

    def __init__(self, deps: Deps, *, worker_threads: int = 16, on_close: Callable[[], None] | None = None) -> None:
        self.deps = deps
        self._executor = ThreadPoolExecutor(max_workers=worker_threads, thread_name_prefix="coachos")
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
        loop = asyncio.get_running_loop()
        call: Callable[[], Any] = functools.partial(contextvars.copy_context().run, self.execute, command)
        result: R = await loop.run_in_executor(self._executor, call)
        return result

    def read(self, query: Callable[[UnitOfWork], R]) -> R:
        """`query(uow)` in a fresh unit of work that is rolled back afterwards (reads only)."""
        with self.deps.uow() as uow:
            return query(uow)

    async def read_async(self, query: Callable[[UnitOfWork], R]) -> R:
        """`read` on a worker thread, for async callers."""
        loop = asyncio.get_running_loop()
        call: Callable[[], Any] = functools.partial(contextvars.copy_context().run, self.read, query)
        result: R = await loop.run_in_executor(self._executor, call)
        return result

    def close(self) -> None:
        """Stop the worker threads and release database connections."""
        self._executor.shutdown(wait=True)
        if self._on_close is not None:
            self._on_close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
