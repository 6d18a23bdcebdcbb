"""Moving a booking to another time. Runs on the fakes here and on SQLite and PostgreSQL in tests/integration."""

from __future__ import annotations

import pytest

from coachos import (
    Actor,
    Booking,
    BookingStatus,
    BookSession,
    CancelBooking,
    CoachOS,
    CompleteBooking,
    InvalidTransition,
    NotFound,
    PolicyViolation,
    RescheduleBooking,
    SlotUnavailable,
    ValidationError,
)
from coachos.adapters.clock import FixedClock
from coachos.domain import events
from coachos.domain.events import Event
from tests.helpers import World, add_client, local, make_world


def book(app: CoachOS, w: World, day: int = 4, hour: int = 10, minute: int = 0, **kw: object) -> Booking:
    cmd = {
        "org_id": w.org.id,
        "coach_id": w.coach.id,
        "service_id": w.pt.id,
        "client_id": w.client.id,
        "start": local(w, day, hour, minute),
        "actor": w.me,
        "confirm": True,
    } | kw
    return app.execute(BookSession(**cmd))  # type: ignore[arg-type]


def move(app: CoachOS, w: World, booking: Booking, day: int, hour: int, minute: int = 0, **kw: object) -> Booking:
    cmd = {
        "org_id": w.org.id,
        "booking_id": booking.id,
        "new_start": local(w, day, hour, minute),
        "actor": w.me,
    } | kw
    return app.execute(RescheduleBooking(**cmd))  # type: ignore[arg-type]


def stored(app: CoachOS, w: World, booking: Booking) -> Booking:
    return app.read(lambda uow: uow.bookings.get(w.org.id, booking.id))


def used(app: CoachOS, w: World) -> int:
    return app.read(lambda uow: uow.packages.get(w.org.id, w.package.id).used)


def org_events(app: CoachOS, w: World) -> list[Event]:
    """The organisation's stored events, oldest first."""
    return [e for e in app.read(lambda uow: uow.outbox.pending(limit=100_000)) if e.org_id == w.org.id]


def snapshot(app: CoachOS, w: World) -> tuple[object, ...]:
    """Everything a refused reschedule must leave as it was."""

    def read(uow: object) -> tuple[object, ...]:
        return (
            tuple(uow.bookings.between(w.org.id, local(w, 1, 0), local(w, 31, 0))),  # type: ignore[attr-defined]
            uow.packages.get(w.org.id, w.package.id).used,  # type: ignore[attr-defined]
            tuple(uow.calendar.busy(w.org.id, w.coach.id, local(w, 1, 0), local(w, 31, 0))),  # type: ignore[attr-defined]
        )

    return (*app.read(read), len(org_events(app, w)))


class TestRescheduleBooking:
    def test_coach_moves_a_confirmed_booking(self, app: CoachOS, world: World) -> None:
        """The old booking is cancelled as rescheduled, the new one is confirmed at the new time on the same credit."""
        old = book(app, world)
        before = len(org_events(app, world))
        new = move(app, world, old, 5, 14)
        assert new.id != old.id
        assert (new.start, new.end) == (local(world, 5, 14), local(world, 5, 15))
        assert new.status is BookingStatus.CONFIRMED
        assert (new.client_id, new.service_id, new.coach_id) == (old.client_id, old.service_id, old.coach_id)
        assert new.package_id == world.package.id
        assert stored(app, world, old).status is BookingStatus.CANCELLED
        assert stored(app, world, new) == new
        assert used(app, world) == 1
        added = org_events(app, world)[before:]
        assert [type(e).__name__ for e in added] == [
            "BookingCancelled",
            "CreditReturned",
            "BookingConfirmed",
            "CreditUsed",
            "BookingRescheduled",
        ]
        cancelled = added[0]
        assert isinstance(cancelled, events.BookingCancelled)
        assert (cancelled.booking_id, cancelled.reason, cancelled.late) == (old.id, "rescheduled", False)

    def test_requested_stays_requested(self, app: CoachOS, world: World) -> None:
        """A booking awaiting confirmation is still awaiting it at its new time."""
        new = move(app, world, book(app, world, confirm=False), 5, 9)
        assert new.status is BookingStatus.REQUESTED

    def test_move_overlapping_its_own_time(self, app: CoachOS, world: World) -> None:
        """10:00 can move to 10:30 the same day: the booking's own seat is released before the new one is taken."""
        new = move(app, world, book(app, world), 4, 10, 30)
        assert new.start == local(world, 4, 10, 30)
        busy = app.read(
            lambda uow: uow.calendar.busy(world.org.id, world.coach.id, local(world, 4, 0), local(world, 5, 0))
        )
        assert [(b.start, b.end) for b in busy] == [(local(world, 4, 10, 30), local(world, 4, 11, 30))]

    def test_old_time_is_free_afterwards(self, app: CoachOS, world: World) -> None:
        """After a move another client can book the time the booking left."""
        move(app, world, book(app, world), 4, 12)
        other = add_client(app, world, sessions=1)
        taken = book(app, world, client_id=other.id)
        assert taken.start == local(world, 4, 10)

    def test_last_credit_moves_with_the_booking(self, app: CoachOS) -> None:
        """A client whose only credit paid for the booking can still move it: the credit comes back first."""
        w = make_world(app, sessions=1)
        new = move(app, w, book(app, w), 6, 11)
        assert new.package_id == w.package.id
        assert used(app, w) == 1

    def test_group_class_seat_moves_and_leaves_the_others(self, app: CoachOS, world: World) -> None:
        """Moving one seat of a class leaves the other seats where they were."""
        staying = book(app, world, service_id=world.group.id)
        other = add_client(app, world)
        leaving = book(app, world, service_id=world.group.id, client_id=other.id)
        new = move(app, world, leaving, 4, 15)
        assert new.package_id is None
        assert stored(app, world, staying).status is BookingStatus.CONFIRMED
        busy = app.read(
            lambda uow: uow.calendar.busy(world.org.id, world.coach.id, local(world, 4, 0), local(world, 5, 0))
        )
        assert [(b.start, b.seats_left) for b in busy] == [(local(world, 4, 10), 2), (local(world, 4, 15), 2)]


class TestRescheduleRefusals:
    def test_taken_time_changes_nothing(self, app: CoachOS, world: World) -> None:
        """Moving onto another client's session is refused and nothing at all changes."""
        old = book(app, world)
        other = add_client(app, world, sessions=1)
        book(app, world, hour=14, client_id=other.id)
        before = snapshot(app, world)
        with pytest.raises(SlotUnavailable):
            move(app, world, old, 4, 14, 30)
        assert snapshot(app, world) == before
        assert stored(app, world, old).status is BookingStatus.CONFIRMED

    def test_outside_hours_and_past_change_nothing(self, app: CoachOS, world: World) -> None:
        """A time outside the hours is unavailable, a past time breaks the policy, and nothing changes."""
        old = book(app, world)
        before = snapshot(app, world)
        with pytest.raises(SlotUnavailable):
            move(app, world, old, 4, 20)
        with pytest.raises(PolicyViolation, match="passed"):
            move(app, world, old, 1, 10)
        assert snapshot(app, world) == before

    def test_closed_bookings_cannot_move(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """Cancelled and completed bookings are refused as invalid transitions."""
        cancelled = book(app, world)
        app.execute(CancelBooking(org_id=world.org.id, booking_id=cancelled.id, actor=world.me))
        with pytest.raises(InvalidTransition, match="cancelled"):
            move(app, world, cancelled, 6, 10)
        done = book(app, world, day=3)
        clock.set(local(world, 3, 11))
        app.execute(CompleteBooking(org_id=world.org.id, booking_id=done.id, actor=world.me))
        with pytest.raises(InvalidTransition, match="completed"):
            move(app, world, done, 6, 12)

    def test_asking_twice_moves_once(self, app: CoachOS, world: World) -> None:
        """Repeating a move (double click, retry) returns the first move's booking and changes nothing more."""
        first = book(app, world)
        moved = move(app, world, first, 6, 10)
        again = move(app, world, first, 6, 10)
        assert again == moved
        assert used(app, world) == 1
        with pytest.raises(InvalidTransition, match="cancelled"):
            move(app, world, first, 6, 14)  # a different time for the old booking is a new request, and refused

    def test_same_time_is_refused(self, app: CoachOS, world: World) -> None:
        """Moving a booking to the time it already has is refused naming the field."""
        old = book(app, world)
        with pytest.raises(ValidationError, match="already at that time") as info:
            move(app, world, old, 4, 10)
        assert info.value.field == "new_start"

    def test_naive_time_is_refused(self, app: CoachOS, world: World) -> None:
        """A new start with no zone is refused."""
        old = book(app, world)
        with pytest.raises(ValidationError):
            move(app, world, old, 5, 10, new_start=local(world, 5, 10).replace(tzinfo=None))

    def test_other_orgs_booking_is_not_found(self, app: CoachOS, world: World) -> None:
        """Another organisation's booking id behaves like one that does not exist."""
        theirs = book(app, make_world(app))
        with pytest.raises(NotFound):
            move(app, world, theirs, 5, 10)


class TestRescheduleByClient:
    def test_client_moves_before_the_window(self, app: CoachOS, world: World) -> None:
        """A client may move their own booking while the session is more than the cancellation window away."""
        old = book(app, world, day=5)
        new = move(app, world, old, 6, 10, actor=Actor("client", world.client.id))
        assert new.start == local(world, 6, 10)
        assert new.created_by == Actor("client", world.client.id)

    def test_client_inside_the_window_is_refused(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """Inside the cancellation window a client is refused and nothing changes, but the coach may still move it."""
        old = book(app, world, day=3, hour=10)
        clock.set(local(world, 2, 11))
        before = snapshot(app, world)
        with pytest.raises(PolicyViolation, match="1 day before"):
            move(app, world, old, 6, 10, actor=Actor("client", world.client.id))
        assert snapshot(app, world) == before
        new = move(app, world, old, 6, 10)
        assert new.start == local(world, 6, 10)
        cancelled = next(e for e in org_events(app, world) if isinstance(e, events.BookingCancelled))
        assert cancelled.late is True

    def test_client_cannot_move_someone_elses_booking(self, app: CoachOS, world: World) -> None:
        """A client acting on another client's booking is told it does not exist."""
        other = add_client(app, world, sessions=1)
        theirs = book(app, world, day=6, client_id=other.id)
        with pytest.raises(NotFound):
            move(app, world, theirs, 6, 14, actor=Actor("client", world.client.id))

    def test_credit_stays_with_the_booking_when_moved_late(self, app: CoachOS, world: World, clock: FixedClock) -> None:
        """A late move by the coach still returns the old credit and uses it again, so the count is unchanged."""
        old = book(app, world, day=3)
        clock.set(local(world, 3, 8))
        new = move(app, world, old, 3, 15)
        assert used(app, world) == 1
        assert new.package_id == world.package.id
        kinds = [e.kind for e in app.read(lambda uow: uow.packages.credit_events(world.org.id, world.package.id))]
        assert [k.value for k in kinds] == ["use", "return", "use"]
