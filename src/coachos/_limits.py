"""Bounds on how long async callers wait, and on how much of the worker pool one organisation may hold."""

from __future__ import annotations

import asyncio
from collections.abc import Hashable

import attrs

from coachos.domain.errors import Unavailable


@attrs.frozen
class Limits:
    """How `CoachOS.execute_async` protects the event loop's callers (see `Bulkhead`)."""

    #: Longest an async caller waits for one use case (or read) before `Unavailable`.
    use_case_timeout: float = 15.0
    #: Use cases one organisation may run on worker threads at once.
    tenant_concurrency: int = 4
    #: Longest a use case beyond that waits for one of its organisation's turns.
    tenant_queue_timeout: float = 2.0


@attrs.define
class _Gate:
    semaphore: asyncio.Semaphore
    #: Holders plus waiters; the gate is forgotten when it drops to zero.
    users: int = 0


class Bulkhead:
    """At most `limit` calls per key at once; a call beyond waits up to `wait` seconds, then `Unavailable`.

    One business whose rows are locked (a long transaction, a stuck migration) makes each of its
    use cases wait for the lock timeout. Without a per-business cap, enough of its requests take
    every worker thread and every other business waits behind them. With it, that business can
    hold at most `limit` threads; its excess requests wait on the event loop (costing no thread)
    and are refused after `wait`. Used only from the event loop's thread.
    """

    def __init__(self, limit: int, wait: float) -> None:
        if limit < 1:
            raise ValueError("A bulkhead needs a limit of at least 1.")
        self._limit = limit
        self._wait = wait
        self._gates: dict[Hashable, _Gate] = {}

    def in_use(self, key: Hashable) -> int:
        """Calls for `key` holding or waiting for a turn (for tests and diagnostics)."""
        gate = self._gates.get(key)
        return 0 if gate is None else gate.users

    async def enter(self, key: Hashable) -> None:
        """Take one of `key`'s turns, waiting at most `wait` seconds; `leave(key)` gives it back."""
        gate = self._gates.get(key)
        if gate is None:
            gate = self._gates[key] = _Gate(asyncio.Semaphore(self._limit))
        gate.users += 1
        try:
            async with asyncio.timeout(self._wait):
                await gate.semaphore.acquire()
        except TimeoutError:
            self._forget(key, gate)
            raise Unavailable(reason="tenant_busy", retry_after=2) from None
        except BaseException:
            self._forget(key, gate)
            raise

    def leave(self, key: Hashable) -> None:
        """Give back a turn taken with `enter`."""
        gate = self._gates[key]
        gate.semaphore.release()
        self._forget(key, gate)

    def _forget(self, key: Hashable, gate: _Gate) -> None:
        gate.users -= 1
        # Idle gates are dropped so the map does not grow with every business ever seen, and a
        # semaphore never outlives the event loop it was first awaited on.
        if gate.users == 0:
            del self._gates[key]
