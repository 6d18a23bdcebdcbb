"""The transactional outbox and its deliveries: events stored as JSON rows in the same transaction
as the change, then handed to each consumer with its own progress (see `domain/usecases/relay.py`).

Work is claimed with `SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL, so relays running side by
side take different rows instead of waiting on each other; SQLite serializes writers already
(every transaction is `BEGIN IMMEDIATE`). A claim is a lease (`claimed_until`), so the work of a
relay that died mid-delivery is taken up again once the lease runs out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import cattrs
import sqlalchemy as sa

from coachos.adapters.sql.tables import outbox, outbox_deliveries
from coachos.adapters.sql.tenancy import read_outbox_across_orgs
from coachos.domain.events import EVENT_TYPES, DeadLetter, Delivery, Event

_converter = cattrs.Converter()
_converter.register_unstructure_hook(UUID, str)
_converter.register_structure_hook(UUID, lambda v, _: UUID(v))
_converter.register_unstructure_hook(datetime, datetime.isoformat)
_converter.register_structure_hook(datetime, lambda v, _: datetime.fromisoformat(v))


def event_row(event: Event) -> dict[str, Any]:
    """The outbox row for `event`, under a new event id."""
    return {
        "event_id": uuid4(),
        "org_id": event.org_id,
        "event_type": event.type_name,
        "payload": _converter.unstructure(event),
        "occurred_at": event.occurred_at,
    }


def event_from(event_type: str, payload: dict[str, Any]) -> Event:
    """The event stored as `payload` under `event_type`."""
    return _converter.structure(payload, EVENT_TYPES[event_type])


class SqlOutbox:
    """The outbox and each consumer's progress with it."""

    def __init__(self, conn: sa.Connection) -> None:
        self._c = conn

    def _skip_locked(self, q: sa.Select[Any]) -> sa.Select[Any]:
        if self._c.dialect.name == "postgresql":
            return q.with_for_update(skip_locked=True)
        return q

    def pending(self, limit: int = 100) -> Sequence[Event]:
        """Events not yet handed to their consumers, oldest first."""
        # Every organisation's events: the one read that row-level security lets span the outbox.
        read_outbox_across_orgs(self._c)
        q = (
            sa.select(outbox.c.event_type, outbox.c.payload)
            .where(outbox.c.published_at.is_(None))
            .order_by(outbox.c.id)
            .limit(limit)
        )
        return [event_from(r.event_type, r.payload) for r in self._c.execute(q)]

    def fan_out(self, consumers: Mapping[str, Sequence[str]], now: datetime, limit: int) -> int:
        """Give up to `limit` new events a pending delivery per consumer of their type name; events taken."""
        read_outbox_across_orgs(self._c)
        q = self._skip_locked(
            sa.select(outbox.c.id, outbox.c.event_id, outbox.c.event_type)
            .where(outbox.c.published_at.is_(None))
            .order_by(outbox.c.id)
            .limit(limit)
        )
        rows = self._c.execute(q).all()
        if not rows:
            return 0
        deliveries = [
            {"event_id": r.event_id, "consumer": c, "status": "pending", "attempts": 0, "next_attempt_at": now}
            for r in rows
            for c in consumers.get(r.event_type, ())
        ]
        if deliveries:
            self._c.execute(outbox_deliveries.insert(), deliveries)
        self._c.execute(outbox.update().where(outbox.c.id.in_([r.id for r in rows])).values(published_at=now))
        return len(rows)

    def claim(self, now: datetime, until: datetime, limit: int) -> Sequence[Delivery]:
        """Up to `limit` deliveries due at `now` that no one holds, held by the caller until `until`."""
        d = outbox_deliveries.c
        read_outbox_across_orgs(self._c)
        q = (
            sa.select(d.event_id, d.consumer, d.attempts, outbox.c.event_type, outbox.c.payload)
            .join(outbox, outbox.c.event_id == d.event_id)
            .where(
                d.status == "pending",
                d.next_attempt_at <= now,
                sa.or_(d.claimed_until.is_(None), d.claimed_until <= now),
            )
            # Oldest event first, so a consumer sees one business's events in the order they happened.
            .order_by(d.next_attempt_at, outbox.c.id, d.consumer)
            .limit(limit)
        )
        if self._c.dialect.name == "postgresql":
            q = q.with_for_update(of=outbox_deliveries, skip_locked=True)
        claimed = self._c.execute(q).all()
        found: list[Delivery] = []
        for r in claimed:
            if r.event_type not in EVENT_TYPES:
                # Stored by code that knew a type this code does not: no consumer here can take it.
                self.failed(r.event_id, r.consumer, "UnknownEventType", None)
                continue
            self._c.execute(
                outbox_deliveries.update()
                .where(d.event_id == r.event_id, d.consumer == r.consumer)
                .values(claimed_until=until)
            )
            event = event_from(r.event_type, r.payload)
            found.append(Delivery(event_id=r.event_id, consumer=r.consumer, attempts=r.attempts, event=event))
        return found

    def delivered(self, event_id: UUID, consumer: str) -> None:
        """Mark the consumer's delivery of the event done."""
        d = outbox_deliveries.c
        self._c.execute(
            outbox_deliveries.update()
            .where(d.event_id == event_id, d.consumer == consumer)
            .values(status="done", claimed_until=None)
        )

    def failed(self, event_id: UUID, consumer: str, error: str, retry_at: datetime | None) -> None:
        """Count a failed attempt: try again at `retry_at`, or dead-letter it when that is None."""
        d = outbox_deliveries.c
        values: dict[str, Any] = {"attempts": d.attempts + 1, "last_error": error[:200], "claimed_until": None}
        values |= {"status": "dead"} if retry_at is None else {"next_attempt_at": retry_at}
        self._c.execute(outbox_deliveries.update().where(d.event_id == event_id, d.consumer == consumer).values(values))

    def dead_letters(self, limit: int) -> Sequence[DeadLetter]:
        """Deliveries given up on, oldest event first."""
        d = outbox_deliveries.c
        read_outbox_across_orgs(self._c)
        q = (
            sa.select(d.event_id, outbox.c.event_type, d.consumer, d.attempts, d.last_error)
            .join(outbox, outbox.c.event_id == d.event_id)
            .where(d.status == "dead")
            .order_by(outbox.c.id, d.consumer)
            .limit(limit)
        )
        return [
            DeadLetter(
                event_id=r.event_id,
                event_type=r.event_type,
                consumer=r.consumer,
                attempts=r.attempts,
                last_error=r.last_error or "",
            )
            for r in self._c.execute(q)
        ]

    def requeue(self, event_id: UUID, consumer: str | None, now: datetime) -> int:
        """Make the event's dead deliveries (one consumer's, or all) due at `now` with fresh attempts; how many."""
        d = outbox_deliveries.c
        q = outbox_deliveries.update().where(d.event_id == event_id, d.status == "dead")
        if consumer is not None:
            q = q.where(d.consumer == consumer)
        done = self._c.execute(q.values(status="pending", attempts=0, next_attempt_at=now, claimed_until=None))
        return done.rowcount
