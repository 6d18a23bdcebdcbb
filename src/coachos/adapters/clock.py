"""Clocks and id sources: the real ones and controllable ones for tests and demos."""

from __future__ import annotations

import itertools
import threading
import uuid
from datetime import UTC, datetime, timedelta

import attrs

from coachos.domain.timezones import require_utc


class SystemClock:
    """The machine's clock, in UTC."""

    def now(self) -> datetime:
        """The current instant."""
        return datetime.now(UTC)


@attrs.define
class FixedClock:
    """A clock that shows what it is told; `advance` moves it on."""

    at: datetime = attrs.field(converter=require_utc)

    def now(self) -> datetime:
        """The instant the clock was set to."""
        return self.at

    def advance(self, by: timedelta) -> None:
        """Move the clock forward."""
        self.at = self.at + by

    def set(self, at: datetime) -> None:
        """Move the clock to `at`."""
        self.at = require_utc(at)


class RandomIds:
    """Random UUIDs (version 4)."""

    def new_id(self) -> uuid.UUID:
        """A fresh random id."""
        return uuid.uuid4()


class SequentialIds:
    """Predictable UUIDs 00000000-…-000000000001, …-000000000002 and so on, safe across threads."""

    def __init__(self, start: int = 1) -> None:
        self._counter = itertools.count(start)
        self._lock = threading.Lock()

    def new_id(self) -> uuid.UUID:
        """The next id in sequence."""
        with self._lock:
            return uuid.UUID(int=next(self._counter))
