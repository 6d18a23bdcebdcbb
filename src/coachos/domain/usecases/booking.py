"""Use cases around the calendar: finding slots, booking, moving a booking through its life, credits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

import attrs

from coachos.domain.availability import Slot, compute_slots, is_offered
from coachos.domain.bookings import (
    Appointment,
    Booking,
    BookingStatus,
    CreditChange,
    CreditEvent,
    CreditEventKind,
    FeeAgreement,
    GuestDetails,
)
from coachos.domain.catalog import Service
from coachos.domain.checks import text
from coachos.domain.errors import (
    Conflict,
    InvalidTransition,
    NoCreditsLeft,
    PackageExpired,
    PolicyViolation,
    SlotUnavailable,
    ValidationError,
)
from coachos.domain.events import (
    BookingConfirmed,
    BookingEvent,
    BookingRequested,
    CreditUsed,
)
from coachos.domain.ids import (
    Actor,
    AppointmentId,
    BookingId,
    ClientId,
    CoachId,
    OrgId,
    PackageId,
    ServiceId,
)
from coachos.domain.orgs import Coach, Organization
from coachos.domain.rows import Rows
from coachos.domain.timezones import require_utc
from coachos.domain.usecases._base import Command, Deps, handles
from coachos.domain.usecases._holds import hold_until, require_chargeable
from coachos.domain.usecases.forms import check_screening
from coachos.domain.usecases.onboarding import holding, start_for_booking
from coachos.domain.usecases.package_sales import recognise_use
from coachos.domain.usecases.waivers import check_waivers
from coachos.ports.storage import UnitOfWork

BE = TypeVar("BE", bound=BookingEvent)

#: Longest range one slot query may cover; keeps a public page from asking for years of slots.
MAX_SLOT_RANGE = timedelta(days=92)


@attrs.frozen(kw_only=True)
class FindSlots(Command[list[Slot]]):
    """Bookable start times of a service with a coach in [start, end)."""

    org_id: OrgId
    coach_id: CoachId
    service_id: ServiceId
    start: datetime
    end: datetime


@handles(FindSlots)
def find_slots(cmd: FindSlots, deps: Deps) -> list[Slot]:
    """The slots the coach's rules, overrides, bookings and the org's policy leave open."""
    start, end = require_utc(cmd.start, field="start"), require_utc(cmd.end, field="end")
    if end <= start:
        raise ValidationError("The end of the range must be after its start.", field="end")
    if end - start > MAX_SLOT_RANGE:
        raise ValidationError("Ask for at most 92 days of slots at a time.", field="end")
    with deps.uow() as uow:
        org = uow.orgs.get(cmd.org_id)
        coach = _active_coach(uow, cmd.org_id, cmd.coach_id)
        service = _active_service(uow, cmd.org_id, cmd.service_id)
        return _slots(uow, org, coach, service, start, end, deps.clock.now())


def _slots(
    uow: UnitOfWork,
    org: Organization,
    coach: Coach,
    service: Service,
    start: datetime,
    end: datetime,
    now: datetime,
) -> list[Slot]:
    tz = org.tz
    # Local dates around the range: a UTC range can touch the day before or after in the org's zone.
    first, last = (start.astimezone(tz) - timedelta(days=1)).date(), (end.astimezone(tz) + timedelta(days=1)).date()
    reach = service.duration + org.policy.buffer
    return compute_slots(
        coach_id=coach.id,
        service_id=service.id,
        duration=service.duration,
        capacity=service.capacity,
        # Hours that cannot be read must not turn into time offered (or withheld) by guesswork.
        rules=uow.availability.weekly(org.id, coach.id).complete(),
        overrides=uow.availability.overrides(org.id, coach.id, first, last).complete(),
        busy=uow.calendar.busy(org.id, coach.id, start - reach, end + reach),
        policy=org.policy,
        tz=tz,
        now=now,
        start=start,
        end=end,
    )


def _active_coach(uow: UnitOfWork, org_id: OrgId, coach_id: CoachId) -> Coach:
    coach = uow.coaches.get(org_id, coach_id)
    if not coach.active:
        raise ValidationError("This coach no longer takes bookings.", field="coach_id")
    return coach


def _active_service(uow: UnitOfWork, org_id: OrgId, service_id: ServiceId) -> Service:
    service = uow.services.get(org_id, service_id)
    if not service.active:
        raise ValidationError("This service is no longer offered.", field="service_id")
    return service


@attrs.frozen(kw_only=True)
class BookSession(Command[Booking]):
    """Book a client into a service with a coach at `start`.

    With an `idempotency_key`, repeating the request (a double click, a retry after a timeout)
    returns the first booking instead of making another. Keys belong to their scope (by default
    the actor): the same key sent by another caller is a different key, so it can neither answer
    with nor be refused because of somebody else's booking.
    """

    org_id: OrgId
    coach_id: CoachId
    service_id: ServiceId
    client_id: ClientId
    start: datetime
    actor: Actor
    #: Which package pays; None picks the client's usable package that expires soonest.
    package_id: PackageId | None = None
    confirm: bool = False
    idempotency_key: str | None = attrs.field(default=None, validator=text(200, optional=True))
    note: str = attrs.field(default="", validator=text(2000, multiline=True))
    #: For a credit-using service, book anyway when the client has no usable credit (paid later).
    allow_without_credit: bool = False
    #: Whose `idempotency_key` it is; None means the actor's. Scopes never share keys.
    idempotency_scope: str | None = None
    #: False books a credit-using service without touching the client's credits at all.
    take_credit: bool = True
    #: What a visitor typed on the public form, stored on the booking (never on the client).
    guest: GuestDetails | None = None
    #: Booked online by the client: a service paid when booked is HELD until the payment succeeds.
    hold_for_payment: bool = False
    #: The client's answer to the fee policy's "I agree" box (None: not asked, e.g. the coach books).
    agree_to_fees: bool | None = None
    #: A booking being moved: its payment, fee agreement and kept card carry over to the new one.
    carried_from: Booking | None = None


#: Longest scope a key can be stored under.
MAX_SCOPE = 100


def key_scope(cmd: BookSession) -> str:
    """The scope `cmd`'s idempotency key lives in: the one given, else the actor's."""
    scope = cmd.idempotency_scope if cmd.idempotency_scope is not None else str(cmd.actor)
    if not 1 <= len(scope) <= MAX_SCOPE:
        raise ValidationError(f"Idempotency scopes are 1 to {MAX_SCOPE} characters.", field="idempotency_scope")
    return scope


@handles(BookSession)
def book_session(cmd: BookSession, deps: Deps) -> Booking:
    """Check the time is offered, take a seat, record the booking and use a credit — all or nothing."""
    start = require_utc(cmd.start, field="start")
    if cmd.idempotency_key is not None and not 1 <= len(cmd.idempotency_key) <= 200:
        raise ValidationError("Idempotency keys are 1 to 200 characters.", field="idempotency_key")
    if (earlier := _by_key(cmd, deps)) is not None:
        return earlier
    try:
        return _book(cmd, start, deps)
    except Conflict:
        # A concurrent twin of this request may have won the race; then its booking is the answer.
        if (earlier := _by_key(cmd, deps)) is not None:
            return earlier
        raise


def _by_key(cmd: BookSession, deps: Deps) -> Booking | None:
    """The booking this caller already made with this key; another caller's use of the same key is not seen."""
    if cmd.idempotency_key is None:
        return None
    with deps.uow() as uow:
        earlier = uow.bookings.by_idempotency_key(cmd.org_id, key_scope(cmd), cmd.idempotency_key)
    if earlier is not None and (earlier.client_id, earlier.service_id, earlier.coach_id, earlier.start) != (
        cmd.client_id,
        cmd.service_id,
        cmd.coach_id,
        require_utc(cmd.start, field="start"),
    ):
        raise Conflict("This request key was already used for a different booking; send a new key.")
    return earlier


def _book(cmd: BookSession, start: datetime, deps: Deps) -> Booking:
    now = deps.clock.now()
    with deps.uow() as uow:
        # A "yes" on the health screening without clearance, or a stale screening, holds booking back.
        check_screening(uow, cmd.org_id, cmd.client_id, now)
        # So does a waiver the client signed whose terms changed materially since.
        check_waivers(uow, cmd.org_id, cmd.client_id)
        booking = book_in(uow, cmd, start, now, deps)
        uow.commit()
    return booking


def book_in(uow: UnitOfWork, cmd: BookSession, start: datetime, now: datetime, deps: Deps) -> Booking:
    """Book inside the caller's unit of work (which commits): the core of `book_session`, reused by reschedule."""
    org = uow.orgs.get(cmd.org_id)
    coach = _active_coach(uow, cmd.org_id, cmd.coach_id)
    service = _active_service(uow, cmd.org_id, cmd.service_id)
    uow.clients.get(cmd.org_id, cmd.client_id)
    _check_policy(org, start, now)
    agreement = fee_agreement(org, cmd.agree_to_fees, now)
    held = cmd.hold_for_payment and service.pay_at_booking
    if held:
        require_chargeable(uow, deps, org.id)  # refused before a seat is taken
    end = start + service.duration
    slot = is_offered(_slots(uow, org, coach, service, start, start + timedelta(minutes=1), now), start)
    if slot is None:
        raise SlotUnavailable(_why_unavailable(uow, org.id, coach.id, service, start))
    appointment = uow.calendar.take_seat(
        org.id,
        Appointment(
            id=AppointmentId(deps.ids.new_id()),
            org_id=org.id,
            coach_id=coach.id,
            service_id=service.id,
            start=start,
            end=end,
            blocks_until=end + org.policy.buffer,
            capacity=service.capacity,
        ),
    )
    # A service some flow applies to waits for the client's onboarding: requested, not confirmed.
    confirm = cmd.confirm and not holding(uow, deps, org.id, cmd.client_id, service.id)
    status = BookingStatus.CONFIRMED if confirm else BookingStatus.REQUESTED
    if held:
        # Paid when booked: not confirmed (and no confirmation sent) until the payment succeeds.
        status, confirm = BookingStatus.HELD, False
    booking = Booking(
        id=BookingId(deps.ids.new_id()),
        org_id=org.id,
        appointment_id=appointment.id,
        coach_id=coach.id,
        service_id=service.id,
        client_id=cmd.client_id,
        start=start,
        end=end,
        status=status,
        created_at=now,
        created_by=cmd.actor,
        updated_at=now,
        updated_by=cmd.actor,
        idempotency_key=cmd.idempotency_key,
        idempotency_scope=None if cmd.idempotency_key is None else key_scope(cmd),
        note=cmd.note,
        guest=cmd.guest,
        hold_expires_at=hold_until(now) if held else None,
        fee_agreement=agreement,
    )
    if (old := cmd.carried_from) is not None:
        booking = attrs.evolve(
            booking,
            payment_ref=old.payment_ref,
            paid_at=old.paid_at,
            fee_agreement=old.fee_agreement,
            saved_card=old.saved_card,
        )
    uow.bookings.add(booking)
    start_for_booking(uow, deps, booking, now)
    if not held:  # a held booking says nothing yet: its payment confirms it, or its release ends it
        event_type = BookingConfirmed if confirm else BookingRequested
        uow.emit(booking_event(event_type, booking, now, cmd.actor))
    if service.uses_credit and cmd.take_credit:
        try:
            change = _use_credit(uow, deps, booking, cmd.package_id, now, cmd.actor, "booked")
        except (NoCreditsLeft, PackageExpired):
            if not cmd.allow_without_credit:
                raise
        else:
            booking = attrs.evolve(booking, package_id=change.package_id)
    return booking


def fee_agreement(org: Organization, agreed: bool | None, now: datetime) -> FeeAgreement | None:
    """What a client booking online agreed to: refused unless they ticked "I agree" to the business's fee policy."""
    policy = org.policy
    if agreed is None or not policy.has_fees:
        return None
    if not agreed:
        raise ValidationError(
            "Please read the cancellation and no-show fees and tick \u201cI agree\u201d to book.", field="agree_to_fees"
        )
    return FeeAgreement(
        late_cancel=policy.late_cancel_fee, no_show=policy.no_show_fee, agreed_at=now, wording=policy.fee_text()
    )


def _why_unavailable(uow: UnitOfWork, org_id: OrgId, coach_id: CoachId, service: Service, start: datetime) -> str:
    if service.capacity > 1 and any(
        b.start == start and b.service_id == service.id and b.seats_left < 1
        for b in uow.calendar.busy(org_id, coach_id, start, start + service.duration)
    ):
        return "That class is full; please pick another time."
    return "That time is not available any more; please pick another slot."


def _check_policy(org: Organization, start: datetime, now: datetime) -> None:
    policy = org.policy
    if start < now:
        raise PolicyViolation("That time has already passed.")
    if start < now + policy.min_notice:
        raise PolicyViolation(f"Bookings need at least {human_span(policy.min_notice)} notice.")
    if start > now + policy.horizon:
        raise PolicyViolation(f"Bookings can be made at most {human_span(policy.horizon)} ahead.")


def human_span(span: timedelta) -> str:
    """A policy length in words a client reads in a refusal: '2 days', '12 hours', '90 minutes'."""
    minutes = int(span.total_seconds() // 60)
    if minutes % (60 * 24) == 0 and minutes:
        days = minutes // (60 * 24)
        return f"{days} day{'s' * (days != 1)}"
    if minutes % 60 == 0 and minutes:
        hours = minutes // 60
        return f"{hours} hour{'s' * (hours != 1)}"
    return f"{minutes} minute{'s' * (minutes != 1)}"


def booking_event(cls: type[BE], booking: Booking, now: datetime, actor: Actor, **extra: Any) -> BE:
    """An event of type `cls` about `booking`, with the fields every booking event carries."""
    return cls(
        org_id=booking.org_id,
        occurred_at=now,
        actor=str(actor),
        booking_id=booking.id,
        client_id=booking.client_id,
        coach_id=booking.coach_id,
        service_id=booking.service_id,
        start=booking.start,
        **extra,
    )


def _use_credit(
    uow: UnitOfWork,
    deps: Deps,
    booking: Booking,
    package_id: PackageId | None,
    now: datetime,
    actor: Actor,
    reason: str,
) -> CreditChange:
    if package_id is not None:
        package = uow.packages.get(booking.org_id, package_id)
        if package.client_id != booking.client_id:
            raise ValidationError("That package belongs to another client.", field="package_id")
        candidates: Sequence[PackageId] = [package_id]
    else:
        # Soonest-expiring first, so credits are not lost to expiry; the database decides each try.
        candidates = [p.id for p in uow.packages.for_client(booking.org_id, booking.client_id) if p.usable(now)]
        if not candidates:
            raise NoCreditsLeft("This client has no session credits left; sell them a package first.")
    last_error: NoCreditsLeft | PackageExpired | None = None
    for candidate in candidates:
        event = CreditEvent(
            package_id=candidate, booking_id=booking.id, kind=CreditEventKind.USE, at=now, actor=actor, reason=reason
        )
        try:
            change = uow.packages.use_credit(booking.org_id, event)
        except (NoCreditsLeft, PackageExpired) as exc:
            last_error = exc
            continue
        if change.applied:
            uow.bookings.set_package(booking.org_id, booking.id, change.package_id)
            recognise_use(uow, deps, booking.org_id, change.package_id, change.used, now)
            uow.emit(
                CreditUsed(
                    org_id=booking.org_id,
                    occurred_at=now,
                    actor=str(actor),
                    package_id=change.package_id,
                    booking_id=booking.id,
                    used=change.used,
                    total=change.total,
                )
            )
        return change
    assert last_error is not None  # noqa: S101  # the loop ran at least once
    raise last_error


@attrs.frozen(kw_only=True)
class UseCredit(Command[CreditChange]):
    """Pay for an existing booking with a package credit; repeating it never uses a second one."""

    org_id: OrgId
    booking_id: BookingId
    actor: Actor
    package_id: PackageId | None = None
    reason: str = attrs.field(default="charged to package", validator=text(200, multiline=True))


@handles(UseCredit)
def use_credit(cmd: UseCredit, deps: Deps) -> CreditChange:
    """Use one credit for the booking, once, atomically in the database."""
    now = deps.clock.now()
    with deps.uow() as uow:
        booking = uow.bookings.get(cmd.org_id, cmd.booking_id)
        if not booking.status.is_open and booking.status is not BookingStatus.COMPLETED:
            raise InvalidTransition(f"A {booking.status.value} booking cannot use a credit.")
        change = _use_credit(uow, deps, booking, cmd.package_id, now, cmd.actor, cmd.reason)
        uow.commit()
    return change


@attrs.frozen(kw_only=True)
class ListBookings(Command[Rows[Booking]]):
    """Bookings starting in [start, end), optionally of one coach."""

    org_id: OrgId
    start: datetime
    end: datetime
    coach_id: CoachId | None = None


@handles(ListBookings)
def list_bookings(cmd: ListBookings, deps: Deps) -> Rows[Booking]:
    """The bookings in the range, by start time (with any that could not be read named in `unreadable`)."""
    start, end = require_utc(cmd.start, field="start"), require_utc(cmd.end, field="end")
    if end <= start:
        raise ValidationError("The end of the range must be after its start.", field="end")
    with deps.uow() as uow:
        return uow.bookings.between(cmd.org_id, start, end, coach_id=cmd.coach_id)
