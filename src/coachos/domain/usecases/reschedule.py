"""Moving a booking to another time: cancel the old one and book the new one in one transaction."""

from __future__ import annotations

from datetime import datetime

import attrs

from coachos.domain.bookings import Booking, BookingStatus
from coachos.domain.errors import Conflict, InvalidTransition, NotFound, PolicyViolation, ValidationError
from coachos.domain.events import BookingCancelled, BookingRescheduled
from coachos.domain.ids import Actor, BookingId, OrgId, PackageId
from coachos.domain.timezones import require_utc
from coachos.domain.usecases._base import Command, Deps, handles
from coachos.domain.usecases.booking import BookSession, book_in, booking_event, human_span
from coachos.domain.usecases.lifecycle import return_credit
from coachos.ports.storage import UnitOfWork

#: The reason recorded on the cancelled booking and its returned credit.
RESCHEDULED = "rescheduled"
#: The scope of moves' keys: derived from the booking by the server, so no caller's own key can meet one.
MOVE_SCOPE = "reschedule"


@attrs.frozen(kw_only=True)
class RescheduleBooking(Command[Booking]):
    """Move an open booking to `new_start`; the result is the new booking, the old one is cancelled.

    A client may do it only before the organisation's cancellation window; a coach (or the
    system) at any time. The new time must pass every check a new booking would.
    """

    org_id: OrgId
    booking_id: BookingId
    new_start: datetime
    actor: Actor


@handles(RescheduleBooking)
def reschedule_booking(cmd: RescheduleBooking, deps: Deps) -> Booking:
    """Cancel the old booking (seat freed, credit returned) and book the new time, all or nothing.

    The old seat is released first, so a move that overlaps only the booking's own time (10:00 to
    10:30) is possible. If the new time is refused, nothing changes.
    """
    new_start = require_utc(cmd.new_start, field="new_start")
    # Moving booking X to time T is one thing however often it is asked: a double click or a retry
    # after a timeout gets the booking the first request made.
    key = f"move:{cmd.booking_id}:{new_start.isoformat()}"
    if (done := _moved_already(cmd, key, deps)) is not None:
        return done
    try:
        return _reschedule(cmd, new_start, key, deps)
    except (InvalidTransition, Conflict):
        if (done := _moved_already(cmd, key, deps)) is not None:  # a concurrent twin won the race
            return done
        raise


def _moved_already(cmd: RescheduleBooking, key: str, deps: Deps) -> Booking | None:
    with deps.uow() as uow:
        done = uow.bookings.by_idempotency_key(cmd.org_id, MOVE_SCOPE, key)
    if done is not None and cmd.actor.kind == "client" and cmd.actor.id != done.client_id:
        raise NotFound("There is no such booking.")
    return done


def _reschedule(cmd: RescheduleBooking, new_start: datetime, key: str, deps: Deps) -> Booking:
    now = deps.clock.now()
    with deps.uow() as uow:
        org = uow.orgs.get(cmd.org_id)
        old = uow.bookings.get(cmd.org_id, cmd.booking_id)
        by_client = cmd.actor.kind == "client"
        if by_client and cmd.actor.id != old.client_id:
            raise NotFound("There is no such booking.")
        if not old.status.is_open:
            raise InvalidTransition(f"A {old.status.value.replace('_', '-')} booking cannot be moved.")
        if old.status is BookingStatus.HELD:
            raise InvalidTransition("This booking is waiting for its payment; pay for it first, then move it.")
        if new_start == old.start:
            raise ValidationError("The booking is already at that time.", field="new_start")
        window = org.policy.cancellation_window
        late = now > old.start - window
        if by_client and late:
            raise PolicyViolation(
                f"Sessions can be moved until {human_span(window)} before they start; please contact your coach."
            )
        _cancel_for_move(uow, old, now, cmd.actor, late=late)
        booking = book_in(
            uow,
            BookSession(
                org_id=old.org_id,
                coach_id=old.coach_id,
                service_id=old.service_id,
                client_id=old.client_id,
                start=new_start,
                actor=cmd.actor,
                package_id=_same_package(uow, old, now),
                confirm=old.status is BookingStatus.CONFIRMED,
                note=old.note,
                # A booking made without a credit (to be paid otherwise) stays bookable without one.
                allow_without_credit=old.package_id is None,
                # A public-form booking nobody charged stays uncharged: the visitor proved no identity.
                take_credit=old.guest is None or old.package_id is not None,
                guest=old.guest,
                idempotency_key=key,
                idempotency_scope=MOVE_SCOPE,
                # What was paid and agreed for the old time goes with the booking to the new one.
                carried_from=old,
            ),
            new_start,
            now,
            deps,
        )
        uow.emit(
            booking_event(
                BookingRescheduled, booking, now, cmd.actor, previous_booking_id=old.id, previous_start=old.start
            )
        )
        uow.commit()
    return booking


def _cancel_for_move(uow: UnitOfWork, old: Booking, now: datetime, actor: Actor, *, late: bool) -> None:
    moved = uow.bookings.transition(old.org_id, old.id, BookingStatus.CANCELLED, at=now, actor=actor)
    if moved is None:  # changed by someone else since we read it
        current = uow.bookings.get(old.org_id, old.id)
        raise InvalidTransition(f"A {current.status.value.replace('_', '-')} booking cannot be moved.")
    uow.calendar.release_seat(old.org_id, old.appointment_id)
    uow.emit(booking_event(BookingCancelled, moved, now, actor, late=late, reason=RESCHEDULED))
    return_credit(uow, moved, now, actor, RESCHEDULED)


def _same_package(uow: UnitOfWork, old: Booking, now: datetime) -> PackageId | None:
    """The package that paid for the old booking if it can pay again, so the credit stays where it was."""
    if old.package_id is None:
        return None
    package = uow.packages.get(old.org_id, old.package_id)
    return old.package_id if package.usable(now) else None
