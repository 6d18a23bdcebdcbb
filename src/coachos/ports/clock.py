"""Where the current time comes from."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol
from uuid import UUID


class Clock(Protocol):
    """Tells the time; use cases take `now` from here, never from the system directly."""

    def now(self) -> datetime:
        """The current instant, timezone-aware in UTC."""
        ...


class IdSource(Protocol):
    """Hands out identifiers for new records."""

    def new_id(self) -> UUID:
        """A fresh identifier never handed out before."""
        ...
