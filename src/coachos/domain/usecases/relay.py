"""The outbox relay: hands each stored event to every consumer subscribed to its type.

Consumers (messaging, billing, outgoing webhooks, insights) subscribe in one place, the
composition root, with a handler `(event, deps) -> None`. Each (event, consumer) pair has its own
progress, so a failing consumer neither blocks nor repeats the others: it is retried with
exponential backoff and dead-lettered after `MAX_ATTEMPTS` failures, until someone requeues it.

Delivery is at least once: a handler that succeeds but whose relay dies before recording it runs
again once the claim's lease runs out, so handlers key their side effects on the event id where
repeating them would matter. Events are handed only to the consumers subscribed when the relay
first takes them from the outbox; a consumer added later does not receive older events.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import timedelta
from uuid import UUID

import attrs

from coachos.domain.events import MAX_ATTEMPTS, DeadLetter, Delivery, Event
from coachos.domain.usecases._base import Deps

#: What a consumer runs for each event of a type it subscribed to; raising means "try again later".
Handler = Callable[[Event, Deps], None]

#: The longest a consumer's name may be (the deliveries table's column).
CONSUMER_NAME_MAX = 64

log = logging.getLogger("coachos.relay")


@attrs.frozen(kw_only=True)
class RelayReport:
    """What one pass of the relay did."""

    #: Events taken from the outbox and given their deliveries.
    fanned_out: int = 0
    #: Deliveries whose handler succeeded.
    delivered: int = 0
    #: Deliveries whose handler failed and that will be tried again.
    retrying: int = 0
    #: Deliveries whose handler failed for the last time.
    dead: int = 0


#: The wait after a first failure, doubled after each further one, up to BACKOFF_CAP.
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=1)


def backoff(failures: int) -> timedelta:
    """How long to wait after the `failures`-th failure: 30 s, 1 min, 2 min, … at most an hour."""
    return min(BACKOFF_BASE * (1 << min(max(failures - 1, 0), 16)), BACKOFF_CAP)


class Relay:
    """The registry of consumers, and the pass that delivers the outbox to them."""

    def __init__(
        self,
        deps: Deps,
        *,
        lease: timedelta = timedelta(minutes=5),
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self._deps = deps
        # A claim outlives any sane handler run; past it, another relay may take the work over.
        self._lease = lease
        self._max_attempts = max_attempts
        self._handlers: dict[tuple[str, str], Handler] = {}

    def subscribe(self, consumer: str, event_type: type[Event], handler: Handler) -> None:
        """Run `handler` for every later event of `event_type`, with `consumer`'s own progress."""
        if not consumer or len(consumer) > CONSUMER_NAME_MAX:
            raise ValueError(f"A consumer's name has 1 to {CONSUMER_NAME_MAX} characters.")
        name = event_type.__dict__.get("type_name")
        if not isinstance(name, str):
            raise ValueError(f"{event_type.__name__} is not an event that is stored (it has no type_name).")
        if (consumer, name) in self._handlers:
            raise ValueError(f"{consumer} already handles {name}.")
        self._handlers[(consumer, name)] = handler

    def consumers(self) -> dict[str, list[str]]:
        """The consumers subscribed to each event type name."""
        found: dict[str, list[str]] = {}
        for consumer, name in self._handlers:
            found.setdefault(name, []).append(consumer)
        return found

    def relay_once(self, limit: int = 100) -> RelayReport:
        """Fan out up to `limit` new events, then run up to `limit` due deliveries (the worker's tick)."""
        now = self._deps.clock.now()
        with self._deps.uow() as uow:
            fanned_out = uow.outbox.fan_out(self.consumers(), now, limit)
            uow.commit()
        with self._deps.uow() as uow:
            claimed = uow.outbox.claim(now, now + self._lease, limit)
            uow.commit()
        delivered = retrying = dead = 0
        for delivery in claimed:
            error = self._run(delivery)
            if error is None:
                with self._deps.uow() as uow:
                    uow.outbox.delivered(delivery.event_id, delivery.consumer)
                    uow.commit()
                delivered += 1
                continue
            failures = delivery.attempts + 1
            retry_at = None if failures >= self._max_attempts else self._deps.clock.now() + backoff(failures)
            with self._deps.uow() as uow:
                uow.outbox.failed(delivery.event_id, delivery.consumer, error, retry_at)
                uow.commit()
            # Ids, counts and an exception's class name only: messages may quote personal data.
            log.warning(
                "outbox delivery failed: event_id=%s consumer=%s attempts=%d error=%s dead=%s",
                delivery.event_id,
                delivery.consumer,
                failures,
                error,
                retry_at is None,
            )
            if retry_at is None:
                dead += 1
            else:
                retrying += 1
        return RelayReport(fanned_out=fanned_out, delivered=delivered, retrying=retrying, dead=dead)

    def _run(self, delivery: Delivery) -> str | None:
        """Run the delivery's handler; the failure's exception class name, or None on success."""
        handler = self._handlers.get((delivery.consumer, delivery.event.type_name))
        if handler is None:
            # Subscribed in another release (a rolling deploy): failing lets a relay that knows it retry.
            return "NoHandler"
        try:
            handler(delivery.event, self._deps)
        except Exception as exc:
            return type(exc).__name__
        return None

    def dead_letters(self, limit: int = 100) -> Sequence[DeadLetter]:
        """Deliveries given up on, oldest event first."""
        with self._deps.uow() as uow:
            return uow.outbox.dead_letters(limit)

    def retry(self, event_id: UUID, consumer: str | None = None) -> int:
        """Requeue the event's dead deliveries (one consumer's, or all) with fresh attempts; how many."""
        with self._deps.uow() as uow:
            count = uow.outbox.requeue(event_id, consumer, self._deps.clock.now())
            uow.commit()
        return count
