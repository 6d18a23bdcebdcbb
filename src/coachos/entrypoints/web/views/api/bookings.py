"""Slots and bookings, with their status changes."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from quart_schema import (
    tag,
    validate_headers,
    validate_querystring,
    validate_request,
    validate_response,
)

from coachos.domain.bookings import Booking
from coachos.domain.errors import ValidationError
from coachos.domain.ids import BookingId, ClientId, CoachId, PackageId, ServiceId
from coachos.domain.usecases import (
    BookSession,
    CancelBooking,
    CompleteBooking,
    ConfirmBooking,
    FindSlots,
    ListBookings,
    MarkNoShow,
)
from coachos.entrypoints.web.context import core
from coachos.entrypoints.web.security import require_principal
from coachos.entrypoints.web.unreadable import report
from coachos.entrypoints.web.views import api_schemas as s
from coachos.entrypoints.web.views.api._blueprint import (
    _created,
    _me,
    _optional_body,
    _optional_request,
    _problems,
    bp,
)

# --- slots and bookings ---------------------------------------------------------------------------


@bp.get("/slots")
@tag(["bookings"])
@_problems(404)
@validate_querystring(s.SlotQuery)
@validate_response(s.SlotList)
async def find_slots(query_args: s.SlotQuery) -> s.SlotList:
    """Bookable start times of a service with a coach (yourself by default) in [start, end)."""
    who = require_principal()
    slots = await core().execute_async(
        FindSlots(
            org_id=who.org_id,
            coach_id=CoachId(query_args.coach_id or who.coach_id),
            service_id=ServiceId(query_args.service_id),
            start=query_args.start,
            end=query_args.end,
        )
    )
    return s.SlotList(items=[s.Slot.of(x) for x in slots])


@bp.get("/bookings")
@tag(["bookings"])
@_problems()
@validate_querystring(s.BookingQuery)
@validate_response(s.BookingList)
async def list_bookings(query_args: s.BookingQuery) -> s.BookingList:
    """Bookings starting in [start, end), by start time, optionally of one coach."""
    who = require_principal()
    found = await core().execute_async(
        ListBookings(
            org_id=who.org_id,
            start=query_args.start,
            end=query_args.end,
            coach_id=None if query_args.coach_id is None else CoachId(query_args.coach_id),
        )
    )
    return s.BookingList(items=[s.Booking.of(b) for b in found], unreadable=s.Unreadable.of(report(found)))


@bp.post("/bookings")
@tag(["bookings"])
@_problems(404, 409, 422)
@validate_headers(s.BookingHeaders)
@validate_request(s.BookingInput)
@validate_response(s.Booking, 201)
async def book_session(data: s.BookingInput, headers: s.BookingHeaders) -> Any:
    """Book a client into a service at `start`, as the coach.

    Send an idempotency key (the `idempotency_key` field or the `Idempotency-Key` header) to make
    retries safe: a repeat with the same key and details answers the first booking again, and the
    same key with different details is refused with 409.
    """
    who, actor = _me()
    key = data.idempotency_key or headers.idempotency_key
    if data.idempotency_key and headers.idempotency_key and data.idempotency_key != headers.idempotency_key:
        raise ValidationError(
            "The Idempotency-Key header and the idempotency_key field differ; send one of them.",
            field="idempotency_key",
        )
    booking = await core().execute_async(
        BookSession(
            org_id=who.org_id,
            coach_id=CoachId(data.coach_id or who.coach_id),
            service_id=ServiceId(data.service_id),
            client_id=ClientId(data.client_id),
            start=data.start,
            actor=actor,
            package_id=None if data.package_id is None else PackageId(data.package_id),
            confirm=data.confirm,
            idempotency_key=key,
            note=data.note,
        )
    )
    return _created(s.Booking.of(booking), "api.get_booking", booking_id=booking.id)


@bp.get("/bookings/<uuid:booking_id>")
@tag(["bookings"])
@_problems()
@validate_response(s.Booking)
async def get_booking(booking_id: UUID) -> s.Booking:
    """One booking."""
    org_id = require_principal().org_id
    booking = await core().read_async(lambda uow: uow.bookings.get(org_id, BookingId(booking_id)))
    return s.Booking.of(booking)


@bp.post("/bookings/<uuid:booking_id>/cancel")
@tag(["bookings"])
@_problems(409, 422)
@_optional_request(s.CancelInput)
@validate_response(s.Booking)
async def cancel_booking(booking_id: UUID) -> s.Booking:
    """Cancel a booking; the body is optional. A repeat answers the cancelled booking."""
    data = await _optional_body(s.CancelInput)
    who, actor = _me()
    booking = await core().execute_async(
        CancelBooking(
            org_id=who.org_id,
            booking_id=BookingId(booking_id),
            actor=actor,
            reason=data.reason,
            return_credit=data.return_credit,
        )
    )
    return s.Booking.of(booking)


async def _move(command: type[ConfirmBooking | CompleteBooking | MarkNoShow], booking_id: UUID) -> s.Booking:
    who, actor = _me()
    moved: Booking = await core().execute_async(
        command(org_id=who.org_id, booking_id=BookingId(booking_id), actor=actor)
    )
    return s.Booking.of(moved)


@bp.post("/bookings/<uuid:booking_id>/confirm")
@tag(["bookings"])
@_problems(409)
@validate_response(s.Booking)
async def confirm_booking(booking_id: UUID) -> s.Booking:
    """Confirm a requested booking (a repeat changes nothing)."""
    return await _move(ConfirmBooking, booking_id)


@bp.post("/bookings/<uuid:booking_id>/complete")
@tag(["bookings"])
@_problems(409, 422)
@validate_response(s.Booking)
async def complete_booking(booking_id: UUID) -> s.Booking:
    """Record that the session took place (only once it has started)."""
    return await _move(CompleteBooking, booking_id)


@bp.post("/bookings/<uuid:booking_id>/no-show")
@tag(["bookings"])
@_problems(409, 422)
@validate_response(s.Booking)
async def mark_no_show(booking_id: UUID) -> s.Booking:
    """Record that the client did not come; the credit stays used."""
    return await _move(MarkNoShow, booking_id)
