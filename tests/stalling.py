"""A database that stops answering, as a fake: the in-memory store whose units of work can be made to hang."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any

from coachos.adapters.memory import MemoryStore, MemoryUnitOfWork

#: However a test ends, a stalled unit of work gives up after this many seconds instead of hanging the run.
LONGEST_STALL = 30.0

#: Set in a context whose units of work go on while the store is stalled (CoachOS copies it to its threads).
_EXEMPT: contextvars.ContextVar[bool] = contextvars.ContextVar("stalling_exempt", default=False)


class StallingStore:
    """A MemoryStore whose new units of work wait, while stalled, as if the database had stopped answering."""

    def __init__(self) -> None:
        self.store = MemoryStore()
        self._open = threading.Event()
        self._open.set()
        self._lock = threading.Lock()
        self.waiting = 0

    def unit_of_work(self) -> Any:
        """A unit of work that waits at its start while the store is stalled."""
        return _StallingUnitOfWork(self)

    def stall(self) -> None:
        """Make units of work started from now on wait until `resume`."""
        self._open.clear()

    def resume(self) -> None:
        """Let every waiting unit of work go on."""
        self._open.set()

    @contextmanager
    def exempt(self) -> Iterator[None]:
        """Units of work started inside this block (on any thread it hands work to) never stall."""
        token = _EXEMPT.set(True)
        try:
            yield
        finally:
            _EXEMPT.reset(token)

    def _wait(self) -> None:
        if _EXEMPT.get():
            return
        with self._lock:
            self.waiting += 1
        try:
            self._open.wait(LONGEST_STALL)
        finally:
            with self._lock:
                self.waiting -= 1


class _StallingUnitOfWork:
    def __init__(self, owner: StallingStore) -> None:
        self._owner = owner
        self._inner: MemoryUnitOfWork | None = None

    def __enter__(self) -> MemoryUnitOfWork:
        self._owner._wait()
        self._inner = self._owner.store.unit_of_work()
        return self._inner.__enter__()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._inner is not None:
            self._inner.__exit__(exc_type, exc, tb)
