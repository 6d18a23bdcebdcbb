"""The transactional outbox: events stored as JSON rows in the same transaction as the change."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import cattrs
import sqlalchemy as sa

from coachos.adapters.sql.tables import outbox
from coachos.adapters.sql.tenancy import read_outbox_across_orgs
from coachos.domain.events import ALL_EVENTS, Event

_converter = cattrs.Converter()
_converter.register_unstructure_hook(UUID, str)
_converter.register_structure_hook(UUID, lambda v, _: UUID(v))
_converter.register_unstructure_hook(datetime, datetime.isoformat)
_converter.register_structure_hook(datetime, lambda v, _: datetime.fromisoformat(v))

_TYPES: dict[str, type[Event]] = {t.type_name(): t for t in ALL_EVENTS}


def event_row(event: Event) -> dict[str, Any]:
    """The outbox row for `event`."""
    return {
        "org_id": event.org_id,
        "event_type": event.type_name(),
        "payload": _converter.unstructure(event),
        "occurred_at": event.occurred_at,
    }


def event_from(event_type: str, payload: dict[str, Any]) -> Event:
    """The event stored as `payload` under `event_type`."""
    return _converter.structure(payload, _TYPES[event_type])


class SqlOutbox:
    """Reads the outbox."""

    def __init__(self, conn: sa.Connection) -> None:
        self._c = conn

    def pending(self, limit: int = 100) -> Sequence[Event]:
        """Events not yet marked delivered, oldest first."""
        # Every organisation's events: the one read that row-level security lets span the outbox.
        read_outbox_across_orgs(self._c)
        q = (
            sa.select(outbox.c.event_type, outbox.c.payload)
            .where(outbox.c.published_at.is_(None))
            .order_by(outbox.c.id)
            .limit(limit)
        )
        return [event_from(r.event_type, r.payload) for r in self._c.execute(q)]
