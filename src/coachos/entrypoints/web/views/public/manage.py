"""The client's signed link: see, cancel or move a booking by policy."""

from __future__ import annotations

from typing import Any

from quart import redirect, render_template, request, url_for

from coachos.domain.bookings import BookingStatus
from coachos.domain.errors import CoachOSError, Fault
from coachos.domain.ids import Actor
from coachos.domain.timezones import label
from coachos.domain.usecases import (
    CancelBooking,
    RescheduleBooking,
)
from coachos.entrypoints.web.context import core
from coachos.entrypoints.web.errors import status_of
from coachos.entrypoints.web.views.public._blueprint import bp
from coachos.entrypoints.web.views.public._shared import (
    SlotLine,
    _held,
    _slots,
    _week,
    _week_links,
    by_day,
    manage_token,
    parse_start,
    read_manage_token,
    viewer_zone,
    your_time,
)

# --- manage ------------------------------------------------------------------------------------


@bp.route("/manage/<token>")
async def manage(token: str) -> Any:
    """A client's own booking: see it, cancel it, or move it to another time."""
    return await _manage_page(token)


async def _manage_page(token: str, error: CoachOSError | None = None) -> Any:
    org_id, booking_id = read_manage_token(token)
    app = core()
    now = app.clock.now()
    held = await app.read_async(lambda uow: _held(uow, org_id, booking_id))
    org, booking = held.org, held.booking
    viewer = viewer_zone(request.args.get("tz")) or viewer_zone(held.timezone)
    window = org.policy.cancellation_window
    is_open = booking.status.is_open and now < booking.start
    late = now > booking.start - window
    days: list[tuple[str, list[SlotLine]]] = []
    week = _week(request.args.get("week"), org, now)
    if is_open and not late:
        found = await _slots(org, held.service, booking.coach_id, week)
        days = by_day([s for s in found if s.start != booking.start], org, viewer)
    cancelled_late = booking.status is BookingStatus.CANCELLED and booking.updated_at > booking.start - window
    page = await render_template(
        "public/manage.html",
        h=held,
        token=token,
        when=label(booking.start, org.tz),
        yours=your_time(booking.start, org, viewer),
        is_open=is_open,
        late=late,
        cancelled_late=cancelled_late,
        window_hours=int(window.total_seconds() // 3600),
        days=days,
        week=week,
        links=_week_links(org, week, now),
        tz=viewer.key if viewer else "",
        moved=request.args.get("moved") == "1",
        error=error,
        wants_tz=request.method == "GET",
    )
    return page, status_of(error) if error else 200


@bp.route("/manage/<token>/cancel", methods=["POST"])
async def cancel(token: str) -> Any:
    """Cancel as the client; inside the cancellation window the credit is kept, as the policy says."""
    org_id, booking_id = read_manage_token(token)
    booking = await core().read_async(lambda uow: uow.bookings.get(org_id, booking_id))
    try:
        await core().execute_async(
            CancelBooking(org_id=org_id, booking_id=booking_id, actor=Actor("client", booking.client_id))
        )
    except Fault:
        raise  # ours, not the caller's: answered and logged by the error handler
    except CoachOSError as exc:
        return await _manage_page(token, exc)
    return redirect(url_for("public.manage", token=token))


@bp.route("/manage/<token>/reschedule", methods=["POST"])
async def reschedule(token: str) -> Any:
    """Move the booking to another free time (before the cancellation window); the link changes with it."""
    org_id, booking_id = read_manage_token(token)
    booking = await core().read_async(lambda uow: uow.bookings.get(org_id, booking_id))
    form = await request.form
    try:
        moved = await core().execute_async(
            RescheduleBooking(
                org_id=org_id,
                booking_id=booking_id,
                new_start=parse_start(form.get("new_start")),
                actor=Actor("client", booking.client_id),
            )
        )
    except Fault:
        raise  # ours, not the caller's: answered and logged by the error handler
    except CoachOSError as exc:
        return await _manage_page(token, exc)
    return redirect(url_for("public.manage", token=manage_token(moved), moved=1, tz=form.get("tz") or None))
