"""The coach's calendar: day, week and month views in the organisation's zone, with book, move and cancel forms.

The page is rendered whole by the server and works without JavaScript (every form posts and
redirects back). `static/calendar.js` refreshes the bookings every 30 seconds from
`/calendar/events`, asking for exactly the range the server wrote into the page.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

import attrs
from quart import Blueprint, jsonify, redirect, render_template, request, url_for

from coachos.domain.bookings import Booking, BookingStatus
from coachos.domain.calendar import (
    MAX_VIEW_DAYS,
    VIEWS,
    CalendarView,
    VisibleRange,
    check_view,
    local_start,
    next_anchor,
    prev_anchor,
    visible_range,
)
from coachos.domain.catalog import Service
from coachos.domain.clients import Client
from coachos.domain.errors import CoachOSError, CorruptRecord, Fault, NotFound, ValidationError
from coachos.domain.ids import Actor, BookingId, ClientId, OrgId, ServiceId
from coachos.domain.orgs import Organization
from coachos.domain.rows import unreadable_in
from coachos.domain.timezones import check_date, require_utc
from coachos.domain.usecases import BookSession, CancelBooking, RescheduleBooking
from coachos.entrypoints.web.context import core
from coachos.entrypoints.web.errors import problem, status_of
from coachos.entrypoints.web.security import login_required, require_principal
from coachos.entrypoints.web.unreadable import report
from coachos.ports.storage import UnitOfWork

bp = Blueprint("calendar", __name__)

#: Longest range the events endpoint serves: a six-week month grid plus the hour a clock change adds.
MAX_EVENTS_RANGE = timedelta(days=MAX_VIEW_DAYS + 1)
#: Clients offered in the new-booking form.
CLIENT_CHOICES = 500
#: Between the two ends of a span of time.
DASH = "\u2013"
#: Messages shown after a form succeeded (the redirect carries only the key).
DONE = {"booked": "Booked.", "moved": "Moved to the new time.", "cancelled": "Cancelled."}


def iso_utc(instant: datetime) -> str:
    """`instant` as an ISO 8601 UTC string ending in Z, e.g. '2026-03-02T05:00:00Z'."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _clock(instant: datetime, tz: Any) -> tuple[str, str]:
    local = instant.astimezone(tz)
    return local.strftime("%H:%M"), local.tzname() or ""


@attrs.frozen
class CalendarEvent:
    """One booking as the calendar shows it; the page and the JSON poller use the same fields."""

    id: str
    start: str
    end: str
    #: The booking's local date and start time in the org's zone (YYYY-MM-DD, HH:MM).
    local_date: str
    local_time: str
    #: e.g. '09:00-10:00 EST' (with an en dash).
    time_label: str
    #: e.g. 'Mon 9 Mar, 09:00 EDT'.
    label: str
    client_id: str
    #: The client's name, or 'maybe <name>' for a public booking matched only by typed contact details.
    client_name: str
    #: For such a booking, what the visitor typed ('booked online as “…”, email, phone'); else empty.
    guest_note: str
    service_name: str
    status: str
    status_label: str
    #: Whether it can still be moved or cancelled.
    open: bool
    client_url: str
    move_url: str
    cancel_url: str

    @classmethod
    def of(cls, booking: Booking, client: Client, service: Service, org: Organization) -> CalendarEvent:
        """The event for `booking`, with times in the org's zone and its abbreviation."""
        tz = org.tz
        start_clock, start_zone = _clock(booking.start, tz)
        end_clock, end_zone = _clock(booking.end, tz)
        span = (
            f"{start_clock}{DASH}{end_clock} {end_zone}"
            if start_zone == end_zone
            else f"{start_clock} {start_zone}{DASH}{end_clock} {end_zone}"
        )
        local = booking.start.astimezone(tz)
        return cls(
            id=str(booking.id),
            start=iso_utc(booking.start),
            end=iso_utc(booking.end),
            local_date=local.date().isoformat(),
            local_time=start_clock,
            time_label=span,
            label=f"{local:%a} {local.day} {local:%b}, {start_clock} {start_zone}",
            client_id=str(client.id),
            client_name=f"maybe {client.name}" if booking.identity_unconfirmed else client.name,
            guest_note=booking.guest.summary if booking.guest and booking.identity_unconfirmed else "",
            service_name=service.name,
            status=booking.status.value,
            status_label=booking.status.value.replace("_", "-"),
            open=booking.status.is_open,
            client_url=f"/clients/{client.id}",
            move_url=f"/calendar/bookings/{booking.id}/move",
            cancel_url=f"/calendar/bookings/{booking.id}/cancel",
        )


#: The blank event rendered into the page's <template> for the script to fill in.
BLANK_EVENT = CalendarEvent(**{f.name: "" for f in attrs.fields(CalendarEvent) if f.name != "open"}, open=True)


def _events(
    uow: UnitOfWork, org: Organization, start: datetime, end: datetime
) -> tuple[list[CalendarEvent], tuple[CorruptRecord, ...]]:
    """The org's bookings starting in [start, end), cancelled ones left out, by start time.

    Also the stored rows that could not be read: a booking whose own row, client or service is
    one of them is left out.
    """
    found = uow.bookings.between(org.id, start, end)
    listed = uow.services.list(org.id)
    services = {s.id: s for s in listed}
    clients: dict[ClientId, Client | None] = {}
    broken: list[CorruptRecord] = []
    events = []
    for b in found:
        if b.status is BookingStatus.CANCELLED:
            continue
        if b.client_id not in clients:
            try:
                clients[b.client_id] = uow.clients.get(org.id, b.client_id)
            except CorruptRecord as exc:
                broken.append(exc)
                clients[b.client_id] = None
        client, service = clients[b.client_id], services.get(b.service_id)
        if client is not None and service is not None:
            events.append(CalendarEvent.of(b, client, service, org))
    return events, unreadable_in(found, listed, broken)


@attrs.frozen
class CalendarPage:
    """Everything the calendar page shows."""

    org: Organization
    range: VisibleRange
    anchor: date
    today: date
    #: Events by local date (every shown day has an entry).
    days: dict[date, list[CalendarEvent]]
    clients: list[Client]
    services: list[Service]
    #: Stored rows that could not be read (bookings, clients, services), left out of the above.
    unreadable: tuple[CorruptRecord, ...] = ()

    @property
    def title(self) -> str:
        """The heading: the day, the week's dates or the month."""
        first, last = self.range.first_day, self.range.last_day
        if self.range.view == "day":
            return f"{first:%A} {first.day} {first:%B %Y}"
        if self.range.view == "week":
            return f"{first.day} {first:%b} {DASH} {last.day} {last:%b %Y}"
        return f"{self.anchor:%B %Y}"

    @property
    def zone_label(self) -> str:
        """The zone's name with the abbreviations in force over the range, e.g. 'America/New_York (EST/EDT)'."""
        abbreviations = dict.fromkeys(
            (self.range.start.astimezone(self.org.tz).tzname(), self.range.end.astimezone(self.org.tz).tzname())
        )
        return f"{self.org.timezone} ({'/'.join(a for a in abbreviations if a)})"


def _page(uow: UnitOfWork, org_id: OrgId, view: CalendarView, anchor: date | None, now: datetime) -> CalendarPage:
    org = uow.orgs.get(org_id)
    today = now.astimezone(org.tz).date()
    anchor = anchor or today
    shown = visible_range(view, anchor, org.tz)
    days: dict[date, list[CalendarEvent]] = {d: [] for d in shown.days}
    events, unreadable = _events(uow, org, shown.start, shown.end)
    for event in events:
        days[date.fromisoformat(event.local_date)].append(event)
    clients, services = uow.clients.list(org_id, limit=CLIENT_CHOICES), uow.services.list(org_id)
    return CalendarPage(
        org=org,
        range=shown,
        anchor=anchor,
        today=today,
        days=days,
        clients=list(clients),
        services=[s for s in services if s.active],
        unreadable=unreadable_in(unreadable, clients, services),
    )


def _parse_date(text: str, field: str = "date") -> date:
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(f"'{text}' is not a date; use YYYY-MM-DD.", field=field) from None
    return check_date(day, field=field)


def _parse_time(text: str) -> time:
    try:
        return time.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(f"'{text}' is not a time of day; use HH:MM.", field="time") from None


def _parse_id(text: str, field: str, what: str) -> UUID:
    try:
        return UUID(text.strip())
    except ValueError:
        raise ValidationError(f"Pick a {what}.", field=field) from None


async def _render(
    view: CalendarView,
    anchor: date | None,
    *,
    error: CoachOSError | None = None,
    form: Mapping[str, str] | None = None,
    status: int = 200,
) -> Any:
    who = require_principal()
    app = core()
    now = app.clock.now()
    page = await app.read_async(lambda uow: _page(uow, who.org_id, view, anchor, now))
    return (
        await render_template(
            "calendar.html",
            p=page,
            org=page.org,
            views=VIEWS,
            prev=prev_anchor(view, page.anchor),
            next=next_anchor(view, page.anchor),
            range_start=iso_utc(page.range.start),
            range_end=iso_utc(page.range.end),
            error=error,
            form=form or {},
            done=DONE.get(request.args.get("done", "")),
            booking_key=uuid.uuid4().hex,
            blank_event=BLANK_EVENT,
            unreadable=report(page.unreadable),
        ),
        status,
    )


@bp.route("/calendar")
@login_required
async def page() -> Any:
    """The calendar for a day, week or month (default: this week in the organisation's zone)."""
    view = check_view(request.args.get("view") or "week")
    anchor = _parse_date(request.args["date"]) if request.args.get("date") else None
    return await _render(view, anchor)


@bp.route("/calendar/events")
async def events() -> Any:
    """The organisation's bookings starting in [start, end) as JSON, for the calendar's poller."""
    who = require_principal()
    try:
        start, end = _range_param("start"), _range_param("end")
        if end <= start:
            raise ValidationError("The end of the range must be after its start.", field="end")
        if end - start > MAX_EVENTS_RANGE:
            raise ValidationError(f"Ask for at most {MAX_EVENTS_RANGE.days} days of events at a time.", field="end")
    except ValidationError as exc:
        return problem(400, exc.code, exc.message, code=exc.code, errors=[{"field": exc.field, "message": exc.message}])

    def read(uow: UnitOfWork) -> tuple[list[CalendarEvent], tuple[CorruptRecord, ...]]:
        return _events(uow, uow.orgs.get(who.org_id), start, end)

    found, unreadable = await core().read_async(read)
    body: dict[str, Any] = {"start": iso_utc(start), "end": iso_utc(end), "events": [attrs.asdict(e) for e in found]}
    if (marker := report(unreadable)) is not None:
        body["unreadable"] = {"count": marker.count, "error_id": marker.error_id, "message": marker.message}
    return jsonify(body)


def _range_param(name: str) -> datetime:
    # A '+' in an unencoded query string arrives as a space.
    text = request.args.get(name, "").strip().replace(" ", "+")
    if not text:
        raise ValidationError(f"Give '{name}' as an ISO 8601 UTC time.", field=name)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"'{text}' is not an ISO 8601 time.", field=name) from None
    return require_utc(parsed, field=name)


def _back(form: Mapping[str, str]) -> tuple[CalendarView, date | None]:
    """The view and date the form was posted from (anything unusable falls back to this week)."""
    view: CalendarView = "week"
    anchor = None
    try:
        view = check_view(form.get("back_view") or "week")
        anchor = _parse_date(form["back_date"]) if form.get("back_date") else None
    except ValidationError:
        pass
    return view, anchor


def _to(view: CalendarView, anchor: date | None, done: str) -> Any:
    date_arg = None if anchor is None else anchor.isoformat()
    return redirect(url_for("calendar.page", view=view, done=done, date=date_arg), 303)


async def _org(org_id: OrgId) -> Organization:
    return await core().read_async(lambda uow: uow.orgs.get(org_id))


async def _typed_start(org_id: OrgId, form: Mapping[str, str]) -> tuple[datetime, Organization]:
    """The instant the coach typed as a local date and time in the org's zone."""
    org = await _org(org_id)
    on = _parse_date(form.get("date", ""))
    at = _parse_time(form.get("time", ""))
    return local_start(on, at, org.tz), org


@bp.route("/calendar/bookings", methods=["POST"])
@login_required
async def create() -> Any:
    """Book a client at a local date and time, confirmed, with the signed-in coach."""
    who = require_principal()
    form = dict(await request.form)
    view, anchor = _back(form)
    try:
        start, org = await _typed_start(who.org_id, form)
        booking = await core().execute_async(
            BookSession(
                org_id=who.org_id,
                coach_id=who.coach_id,
                client_id=ClientId(_parse_id(form.get("client_id", ""), "client_id", "client")),
                service_id=ServiceId(_parse_id(form.get("service_id", ""), "service_id", "service")),
                start=start,
                actor=Actor("coach", who.coach_id),
                confirm=True,
                idempotency_key=form.get("idempotency_key") or None,
            )
        )
    except Fault:
        raise  # ours, not the caller's: answered and logged by the error handler
    except CoachOSError as exc:
        return await _render(view, anchor, error=exc, form=form, status=status_of(exc))
    return _to(view, booking.start.astimezone(org.tz).date(), "booked")


def _booking_id(text: str) -> BookingId:
    try:
        return BookingId(UUID(text))
    except ValueError:
        raise NotFound("There is no such booking.") from None


@bp.route("/calendar/bookings/<booking_id>/move", methods=["POST"])
@login_required
async def move(booking_id: str) -> Any:
    """Move a booking to a new local date and time (the old one is cancelled as rescheduled)."""
    who = require_principal()
    form = dict(await request.form)
    view, anchor = _back(form)
    try:
        wanted = _booking_id(booking_id)
        start, org = await _typed_start(who.org_id, form)
        booking = await core().execute_async(
            RescheduleBooking(org_id=who.org_id, booking_id=wanted, new_start=start, actor=Actor("coach", who.coach_id))
        )
    except Fault:
        raise  # ours, not the caller's: answered and logged by the error handler
    except CoachOSError as exc:
        return await _render(view, anchor, error=exc, status=status_of(exc))
    return _to(view, booking.start.astimezone(org.tz).date(), "moved")


@bp.route("/calendar/bookings/<booking_id>/cancel", methods=["POST"])
@login_required
async def cancel(booking_id: str) -> Any:
    """Cancel a booking as the coach (the credit comes back)."""
    who = require_principal()
    form = dict(await request.form)
    view, anchor = _back(form)
    try:
        await core().execute_async(
            CancelBooking(org_id=who.org_id, booking_id=_booking_id(booking_id), actor=Actor("coach", who.coach_id))
        )
    except Fault:
        raise  # ours, not the caller's: answered and logged by the error handler
    except CoachOSError as exc:
        return await _render(view, anchor, error=exc, status=status_of(exc))
    return _to(view, anchor, "cancelled")
