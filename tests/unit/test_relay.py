"""The outbox relay on the in-memory fakes: per-consumer progress, backoff, dead letters, requeueing."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import attrs
import pytest

from coachos import CoachOS
from coachos.adapters.clock import FixedClock
from coachos.domain import events
from coachos.domain.events import (
    ALL_EVENTS,
    EVENT_TYPES,
    MAX_ATTEMPTS,
    BookingEvent,
    BookingRequested,
    ClientCreated,
    Event,
)
from coachos.domain.ids import BookingId, ClientId, CoachId, OrgId, ServiceId
from coachos.domain.usecases import Deps
from coachos.domain.usecases.relay import Relay, RelayReport, backoff
from tests.helpers import MONDAY_NOON_UTC


@pytest.fixture
def app(app: CoachOS) -> CoachOS:
    """Coach OS whose relay has no consumers yet: these tests subscribe their own, and count only theirs."""
    app.relay = Relay(app.deps)
    return app


def booking_requested(org_id: OrgId | None = None) -> BookingRequested:
    """A BookingRequested event of a new booking."""
    return BookingRequested(
        org_id=org_id or OrgId(uuid.uuid4()),
        occurred_at=MONDAY_NOON_UTC,
        actor="client",
        booking_id=BookingId(uuid.uuid4()),
        client_id=ClientId(uuid.uuid4()),
        coach_id=CoachId(uuid.uuid4()),
        service_id=ServiceId(uuid.uuid4()),
        start=MONDAY_NOON_UTC + timedelta(days=1),
    )


def store(app: CoachOS, *events: Event) -> None:
    """Record `events` in the outbox, as a use case's commit does."""
    with app.unit_of_work() as uow:
        for e in events:
            uow.emit(e)
        uow.commit()


@attrs.define
class Recorder:
    """A consumer's handler that records what it got, failing while `failing` is set."""

    seen: list[Event] = attrs.Factory(list)
    failing: bool = False

    def __call__(self, event: Event, deps: Deps) -> None:
        self.seen.append(event)
        if self.failing:
            raise ConnectionError("the provider said no")


class TestTypeNames:
    def test_every_event_has_its_own_dotted_type_name(self) -> None:
        """Each stored event class names its own stable, unique, dotted type name."""
        names = [t.__dict__.get("type_name") for t in ALL_EVENTS]
        assert all(isinstance(n, str) and re.fullmatch(r"[a-z_]+\.[a-z_]+", n) for n in names)
        assert len(set(names)) == len(names) == len(EVENT_TYPES)

    def test_every_concrete_event_is_listed(self) -> None:
        """Every event class but the abstract bases is in ALL_EVENTS, so none is left without a stored name."""

        def subclasses(t: type[Event]) -> set[type[Event]]:
            return {s for c in t.__subclasses__() for s in {c} | subclasses(c)}

        # attrs rebuilds slotted classes; the discarded originals linger among the subclasses.
        defined = {t for t in subclasses(Event) if vars(events).get(t.__name__) is t}
        assert defined - {BookingEvent} == set(ALL_EVENTS)


@pytest.fixture
def relay(app: CoachOS) -> Relay:
    """A relay of its own, without the consumers the composition root subscribes (messaging)."""
    return Relay(app.deps)


class TestRelay:
    def test_two_consumers_one_failing_the_other_is_delivered_once(
        self, relay: Relay, app: CoachOS, clock: FixedClock
    ) -> None:
        """A failing consumer neither blocks nor repeats another consumer of the same event."""
        good, bad = Recorder(), Recorder(failing=True)
        relay.subscribe("messaging", BookingRequested, good)
        relay.subscribe("webhooks", BookingRequested, bad)
        event = booking_requested()
        store(app, event)
        report = relay.relay_once(limit=100)
        assert report.delivered == 1
        assert report.retrying == 1
        for _ in range(3):
            clock.advance(timedelta(hours=2))
            relay.relay_once(limit=100)
        assert good.seen == [event]
        assert len(bad.seen) == 4

    def test_a_failure_is_retried_after_an_exponential_backoff(
        self, relay: Relay, app: CoachOS, clock: FixedClock
    ) -> None:
        """After failing, a delivery waits 30 s, then 60 s, then 120 s before it is tried again."""
        bad = Recorder(failing=True)
        relay.subscribe("webhooks", BookingRequested, bad)
        store(app, booking_requested())
        relay.relay_once()
        for wait in (30, 60, 120):
            clock.advance(timedelta(seconds=wait - 1))
            relay.relay_once()
            tried = len(bad.seen)
            clock.advance(timedelta(seconds=1))
            relay.relay_once()
            assert len(bad.seen) == tried + 1

    def test_backoff_doubles_and_is_capped(self) -> None:
        """The wait doubles from 30 seconds and never exceeds an hour."""
        assert [backoff(n).total_seconds() for n in (1, 2, 3, 8, 100)] == [30, 60, 120, 3600, 3600]

    def test_a_delivery_goes_dead_after_max_attempts_and_is_listed(
        self, relay: Relay, app: CoachOS, clock: FixedClock
    ) -> None:
        """After MAX_ATTEMPTS failures the delivery is a dead letter naming the event, consumer and error kind."""
        bad = Recorder(failing=True)
        relay.subscribe("webhooks", BookingRequested, bad)
        store(app, booking_requested())
        reports = []
        for _ in range(MAX_ATTEMPTS + 3):
            reports.append(relay.relay_once())
            clock.advance(timedelta(hours=2))
        assert len(bad.seen) == MAX_ATTEMPTS
        assert sum(r.dead for r in reports) == 1
        [dead] = relay.dead_letters()
        assert (dead.event_type, dead.consumer, dead.attempts, dead.last_error) == (
            "booking.requested",
            "webhooks",
            MAX_ATTEMPTS,
            "ConnectionError",
        )

    def test_retry_requeues_a_dead_letter_with_fresh_attempts(
        self, relay: Relay, app: CoachOS, clock: FixedClock
    ) -> None:
        """Requeueing a dead delivery runs it again at the next pass, and it is no longer listed as dead."""
        bad = Recorder(failing=True)
        relay.subscribe("webhooks", BookingRequested, bad)
        store(app, booking_requested())
        for _ in range(MAX_ATTEMPTS):
            relay.relay_once()
            clock.advance(timedelta(hours=2))
        [dead] = relay.dead_letters()
        bad.failing = False
        assert relay.retry(dead.event_id, consumer="webhooks") == 1
        assert relay.relay_once() == RelayReport(delivered=1)
        assert relay.dead_letters() == []
        assert relay.retry(dead.event_id) == 0

    def test_retry_of_one_consumer_leaves_the_others_dead(self, relay: Relay, app: CoachOS, clock: FixedClock) -> None:
        """`retry --consumer` requeues only that consumer's dead delivery."""
        relay.subscribe("a", BookingRequested, Recorder(failing=True))
        relay.subscribe("b", BookingRequested, Recorder(failing=True))
        store(app, booking_requested())
        for _ in range(MAX_ATTEMPTS):
            relay.relay_once()
            clock.advance(timedelta(hours=2))
        letters = relay.dead_letters()
        assert {d.consumer for d in letters} == {"a", "b"}
        assert relay.retry(letters[0].event_id, consumer="a") == 1
        assert [d.consumer for d in relay.dead_letters()] == ["b"]

    def test_only_subscribed_types_reach_a_consumer(self, relay: Relay, app: CoachOS) -> None:
        """A consumer gets the event types it subscribed to and no others."""
        got = Recorder()
        relay.subscribe("messaging", ClientCreated, got)
        store(app, booking_requested())
        assert relay.relay_once() == RelayReport(fanned_out=1)
        assert got.seen == []

    def test_a_consumer_cannot_subscribe_twice_to_one_type(self, relay: Relay, app: CoachOS) -> None:
        """Subscribing the same consumer to the same event type twice is refused."""
        relay.subscribe("messaging", BookingRequested, Recorder())
        with pytest.raises(ValueError, match=r"already handles booking\.requested"):
            relay.subscribe("messaging", BookingRequested, Recorder())

    def test_the_handler_gets_the_apps_deps(self, relay: Relay, app: CoachOS) -> None:
        """Handlers are called with the ports the use cases get, so they can open their own unit of work."""
        got: list[Deps] = []
        relay.subscribe("insights", BookingRequested, lambda _e, deps: got.append(deps))
        store(app, booking_requested())
        relay.relay_once()
        assert got == [app.deps]
