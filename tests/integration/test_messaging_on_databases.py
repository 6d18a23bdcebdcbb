"""Messaging on SQLite and PostgreSQL: the template store and what the messaging consumer queues, as on the fakes.

Also: the new events (a move, an incoming message) survive the outbox's storage and come back equal.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from coachos import CoachOS, Settings, bootstrap
from coachos.adapters.clock import FixedClock, RandomIds
from coachos.adapters.sql.uow import SqlUnitOfWork
from coachos.domain.events import BookingRescheduled, Event, MessageReceived
from coachos.domain.ids import BookingId, ClientId, CoachId, ServiceId
from coachos.domain.usecases import Deps
from coachos.domain.usecases.relay import Relay, RelayReport
from coachos.ports.storage import UnitOfWork
from tests.helpers import MONDAY_NOON_UTC, World, make_world
from tests.unit.test_notifications import (  # noqa: F401  # collected again with this folder's `app`
    PUBLIC_URL,
    TestCancellation,
    TestClientReply,
    TestConfirmation,
    TestConsent,
    TestPublicBooking,
    TestReschedule,
    client,
)
from tests.unit.test_template_usecases import TestPreview, TestTemplateStore  # noqa: F401  # collected again


@pytest.fixture
def app(engine: Engine, clock: FixedClock) -> Iterator[CoachOS]:
    """Coach OS on a real database, with a known public address and secret for manage links."""

    def uow() -> UnitOfWork:
        return SqlUnitOfWork(engine)

    settings = Settings(database_url="memory://", secret_key="test-secret-key", public_url=PUBLIC_URL)
    with bootstrap(settings, uow=uow, clock=clock, ids=RandomIds()) as built:
        yield built


@pytest.fixture
def world(app: CoachOS) -> World:
    """A business in New York taking bookings."""
    return make_world(app)


class TestNewEventsRoundTrip:
    def test_a_move_and_an_incoming_message_come_back_from_the_outbox_equal(self, app: CoachOS, world: World) -> None:
        """BookingRescheduled and MessageReceived (with and without a client) are stored and read back unchanged."""
        ids = [app.ids.new_id() for _ in range(4)]
        sent: list[Event] = [
            BookingRescheduled(
                org_id=world.org.id,
                occurred_at=MONDAY_NOON_UTC,
                actor="system",
                booking_id=BookingId(ids[0]),
                client_id=ClientId(ids[1]),
                coach_id=CoachId(ids[2]),
                service_id=ServiceId(ids[3]),
                start=MONDAY_NOON_UTC,
                previous_booking_id=BookingId(ids[1]),
                previous_start=MONDAY_NOON_UTC,
            ),
            MessageReceived(
                org_id=world.org.id, occurred_at=MONDAY_NOON_UTC, actor="system", message_id=ids[0], client_id=None
            ),
            MessageReceived(
                org_id=world.org.id,
                occurred_at=MONDAY_NOON_UTC,
                actor="system",
                message_id=ids[1],
                client_id=ClientId(ids[2]),
            ),
        ]
        got: list[Event] = []

        def keep(event: Event, _deps: Deps) -> None:
            if event.org_id == world.org.id:
                got.append(event)

        relay = Relay(app.deps)
        relay.subscribe("roundtrip", BookingRescheduled, keep)
        relay.subscribe("roundtrip", MessageReceived, keep)
        with app.unit_of_work() as uow:
            for e in sent:
                uow.emit(e)
            uow.commit()
        while relay.relay_once() != RelayReport():
            pass
        assert got == sent
