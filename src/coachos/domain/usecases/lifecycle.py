"""A booking's life after it is made: confirmed, completed, no-show, or cancelled with its credit returned by policy."""

from __future__ import annotations

from datetime import datetime

import attrs

from coachos.domain.bookings import (
    Booking,
    BookingStatus,
    FeeKind,
)
from coachos.domain.checks import text
from coachos.domain.errors import (
    InvalidTransition,
    PolicyViolation,
)
from coachos.domain.events import (
    BookingCancelled,
    BookingCompleted,
    BookingConfirmed,
    BookingEvent,
    BookingNoShow,
    CreditReturned,
)
from coachos.domain.ids import (
    Actor,
    BookingId,
    OrgId,
)
from coachos.domain.onboarding import hold_reason
from coachos.domain.usecases._base import Command, Deps, handles
from coachos.domain.usecases.booking import booking_event
from coachos.domain.usecases.booking_fees import owe_fee
from coachos.domain.usecases.onboarding import holding
from coachos.ports.storage import UnitOfWork


@attrs.frozen(kw_only=True)
class CancelBooking(Command[Booking]):
    """Cancel a booking. Within the policy the credit comes back; a coach may decide either way."""

    org_id: OrgId
    booking_id: BookingId
    actor: Actor
    #: Kept with the returned credit (up to 200 characters).
    reason: str = attrs.field(default="", validator=text(200, multiline=True))
    #: Coach's choice to return the credit (True) or keep it (False); None follows the policy.
    return_credit: bool | None = None


@handles(CancelBooking)
def cancel_booking(cmd: CancelBooking, deps: Deps) -> Booking:
    """Cancel once (a repeat returns the cancelled booking), free the seat and return the credit by policy."""
    now = deps.clock.now()
    with deps.uow() as uow:
        org = uow.orgs.get(cmd.org_id)
        booking = uow.bookings.get(cmd.org_id, cmd.booking_id)
        by_coach = cmd.actor.kind != "client"
        if cmd.return_credit is not None and not by_coach:
            raise PolicyViolation("Only the coach can decide to return or keep a credit.")
        if not by_coach and booking.status.is_open and now >= booking.start:
            raise PolicyViolation("This session has already started; please contact your coach.")
        moved = uow.bookings.transition(cmd.org_id, cmd.booking_id, BookingStatus.CANCELLED, at=now, actor=cmd.actor)
        if moved is None:
            current = uow.bookings.get(cmd.org_id, cmd.booking_id)
            if current.status is BookingStatus.CANCELLED:
                return current
            raise InvalidTransition(f"A {current.status.value} booking cannot be cancelled.")
        late = org.policy.is_late(booking.start, now)
        refund = cmd.return_credit if cmd.return_credit is not None else (by_coach or not late)
        uow.calendar.release_seat(cmd.org_id, booking.appointment_id)
        uow.emit(booking_event(BookingCancelled, moved, now, cmd.actor, late=late, reason=cmd.reason))
        if refund:
            return_credit(uow, moved, now, cmd.actor, cmd.reason or "cancelled")
        if late and not by_coach and booking.status is not BookingStatus.HELD:
            owe_fee(uow, moved, FeeKind.LATE_CANCEL, now)
        uow.commit()
    return moved


def return_credit(uow: UnitOfWork, booking: Booking, now: datetime, actor: Actor, reason: str) -> None:
    """Give back the credit the booking used (once, in the database) and record the event if it moved."""
    change = uow.packages.return_credit(booking.org_id, booking.id, at=now, actor=actor, reason=reason)
    if change is not None and change.applied:
        uow.emit(
            CreditReturned(
                org_id=booking.org_id,
                occurred_at=now,
                actor=str(actor),
                package_id=change.package_id,
                booking_id=booking.id,
                used=change.used,
                total=change.total,
            )
        )


@attrs.frozen(kw_only=True)
class ConfirmBooking(Command[Booking]):
    """Confirm a requested booking."""

    org_id: OrgId
    booking_id: BookingId
    actor: Actor


@attrs.frozen(kw_only=True)
class CompleteBooking(Command[Booking]):
    """Record that the session took place."""

    org_id: OrgId
    booking_id: BookingId
    actor: Actor


@attrs.frozen(kw_only=True)
class MarkNoShow(Command[Booking]):
    """Record that the client did not come (the credit stays used)."""

    org_id: OrgId
    booking_id: BookingId
    actor: Actor


_MOVES: dict[type, tuple[BookingStatus, type[BookingEvent], bool]] = {
    ConfirmBooking: (BookingStatus.CONFIRMED, BookingConfirmed, False),
    CompleteBooking: (BookingStatus.COMPLETED, BookingCompleted, True),
    MarkNoShow: (BookingStatus.NO_SHOW, BookingNoShow, True),
}


@handles(ConfirmBooking, CompleteBooking, MarkNoShow)
def move_booking(cmd: ConfirmBooking | CompleteBooking | MarkNoShow, deps: Deps) -> Booking:
    """Move the booking to the command's status once; a repeat returns it unchanged."""
    target, event_type, after_start = _MOVES[type(cmd)]
    now = deps.clock.now()
    with deps.uow() as uow:
        booking = uow.bookings.get(cmd.org_id, cmd.booking_id)
        if after_start and now < booking.start:
            raise PolicyViolation("This session has not started yet.")
        if (
            target is BookingStatus.CONFIRMED
            and booking.status is BookingStatus.REQUESTED
            and (held := holding(uow, deps, cmd.org_id, booking.client_id, booking.service_id))
        ):
            raise PolicyViolation(f"{hold_reason(held)}. Confirm once the client has done every step.")
        moved = uow.bookings.transition(cmd.org_id, cmd.booking_id, target, at=now, actor=cmd.actor)
        if moved is None:
            current = uow.bookings.get(cmd.org_id, cmd.booking_id)
            if current.status is target:
                return current
            raise InvalidTransition(f"A {current.status.value} booking cannot become {target.value.replace('_', '-')}.")
        uow.emit(booking_event(event_type, moved, now, cmd.actor))
        if target is BookingStatus.NO_SHOW:
            owe_fee(uow, moved, FeeKind.NO_SHOW, now)
        uow.commit()
    return moved
