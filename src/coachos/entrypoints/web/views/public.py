"""Public pages (no account): book a session, the confirmation, the signed manage link, and iCal feeds.

Times are always shown in the organisation's zone with its abbreviation; when the visitor's own
zone is known (public.js adds `?tz=` from the browser) their local time is shown beside it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from itertools import groupby
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import attrs
import icalendar
from itsdangerous import BadData, TimestampSigner, URLSafeTimedSerializer
from quart import Blueprint, Response, current_app, redirect, render_template, request, url_for

from coachos.domain.availability import Slot
from coachos.domain.bookings import Booking, BookingStatus
from coachos.domain.catalog import Service
from coachos.domain.clients import Client
from coachos.domain.errors import CoachOSError, Conflict, NotFound, SlotUnavailable, ValidationError
from coachos.domain.ids import Actor, BookingId, OrgId, ServiceId
from coachos.domain.orgs import Coach, Organization
from coachos.domain.timezones import label, require_utc, zone
from coachos.domain.usecases import (
    BookAsGuest,
    CalendarFeedUrl,
    CancelBooking,
    FindSlots,
    ReadCalendarFeed,
    RescheduleBooking,
    RotateCalendarFeed,
)
from coachos.domain.usecases.public import first_active_coach
from coachos.entrypoints.web.context import core, settings
from coachos.entrypoints.web.errors import status_of
from coachos.entrypoints.web.security import login_required, require_principal
from coachos.ports.storage import UnitOfWork

bp = Blueprint("public", __name__)

#: The words beside the reminders box; stored verbatim with the consent.
SMS_WORDING = "Text me reminders about my bookings"
#: How long a manage link works (bookings are made at most the policy's horizon ahead).
MANAGE_LINK_AGE = timedelta(days=366)
_MANAGE_SALT = "manage-booking"


# --- time labels -------------------------------------------------------------------------------


def viewer_zone(name: str | None) -> ZoneInfo | None:
    """The visitor's zone from `?tz=`, or None when missing or not a real IANA name."""
    if not name:
        return None
    try:
        return zone(name)
    except ValidationError:
        return None


def slot_label(start: datetime, org: Organization, viewer: ZoneInfo | None) -> str:
    """E.g. '14:00 your time (Europe/London) · 09:00 EST at Peak Coaching'; only the org's part without a viewer."""
    at_org = start.astimezone(org.tz)
    org_part = f"{at_org:%H:%M} {at_org.tzname()} at {org.name}"
    if viewer is None or viewer.key == org.timezone:
        return org_part
    return f"{start.astimezone(viewer):%H:%M} your time ({viewer.key}) · {org_part}"


def your_time(start: datetime, org: Organization, viewer: ZoneInfo | None) -> str | None:
    """The visitor's own clock for `start`, when it differs from the organisation's zone."""
    if viewer is None or viewer.key == org.timezone:
        return None
    return f"{label(start, viewer)} your time ({viewer.key})"


@attrs.frozen
class SlotLine:
    """One bookable time as the page shows it."""

    start: datetime
    label: str

    @property
    def iso(self) -> str:
        """The start as ISO 8601 UTC, as forms carry it."""
        return self.start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def by_day(slots: list[Slot], org: Organization, viewer: ZoneInfo | None) -> list[tuple[str, list[SlotLine]]]:
    """Slots grouped under day headings ('Tue 3 Mar') in the visitor's zone if known, else the org's."""
    tz = viewer or org.tz
    lines = [SlotLine(s.start, slot_label(s.start, org, viewer)) for s in slots]
    return [
        (f"{day:%a} {day.day} {day:%b}", list(group))
        for day, group in groupby(lines, key=lambda line: line.start.astimezone(tz).date())
    ]


def parse_start(text: str | None) -> datetime:
    """An ISO 8601 instant from a form or link, as UTC."""
    try:
        parsed = datetime.fromisoformat((text or "").strip())
    except ValueError:
        raise ValidationError("That time is not valid; please pick a slot again.", field="start") from None
    return require_utc(parsed, field="start")


def _week(text: str | None, org: Organization, now: datetime) -> date:
    today = now.astimezone(org.tz).date()
    try:
        return max(date.fromisoformat(text or ""), today)
    except ValueError:
        return today


# --- the manage link ---------------------------------------------------------------------------


class _ClockSigner(TimestampSigner):
    """Signs with the app's clock, so link expiry follows the same time as everything else."""

    def get_timestamp(self) -> int:
        return int(core().clock.now().timestamp())


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["COACHOS_SECRET"], salt=_MANAGE_SALT, signer=_ClockSigner)


def manage_token(booking: Booking) -> str:
    """A signed, URL-safe token naming the booking and its organisation."""
    return _serializer().dumps([str(booking.org_id), str(booking.id)])


def read_manage_token(token: str) -> tuple[OrgId, BookingId]:
    """The organisation and booking a manage token names; NotFound if it is forged or too old."""
    try:
        org_id, booking_id = _serializer().loads(token, max_age=int(MANAGE_LINK_AGE.total_seconds()))
        return OrgId(UUID(org_id)), BookingId(UUID(booking_id))
    except (BadData, ValueError, TypeError):
        raise NotFound("This booking link is not valid or has expired; please contact your coach.") from None


# --- reads -------------------------------------------------------------------------------------


@attrs.frozen
class Held:
    """A booking with what its pages show."""

    org: Organization
    booking: Booking
    service: Service
    client: Client


def _offered_service(uow: UnitOfWork, slug: str, service_id: UUID) -> tuple[Organization, Service]:
    org = uow.orgs.by_slug(slug)
    service = uow.services.get(org.id, ServiceId(service_id))
    if not service.active:
        raise NotFound("This service is no longer offered.")
    return org, service


def _catalogue(uow: UnitOfWork, slug: str) -> tuple[Organization, list[Service]]:
    org = uow.orgs.by_slug(slug)
    return org, [s for s in uow.services.list(org.id) if s.active]


def _with_coach(uow: UnitOfWork, slug: str, service_id: UUID) -> tuple[Organization, Service, Coach]:
    org, service = _offered_service(uow, slug, service_id)
    return org, service, first_active_coach(uow, org.id)


def _held(uow: UnitOfWork, org_id: OrgId, booking_id: BookingId) -> Held:
    booking = uow.bookings.get(org_id, booking_id)
    return Held(
        org=uow.orgs.get(org_id),
        booking=booking,
        service=uow.services.get(org_id, booking.service_id),
        client=uow.clients.get(org_id, booking.client_id),
    )


async def _slots(org: Organization, service: Service, coach_id: Any, week: date) -> list[Slot]:
    start = datetime.combine(week, time(0), tzinfo=org.tz).astimezone(UTC)
    end = datetime.combine(week + timedelta(days=7), time(0), tzinfo=org.tz).astimezone(UTC)
    return await core().execute_async(
        FindSlots(org_id=org.id, coach_id=coach_id, service_id=service.id, start=start, end=end)
    )


def _week_links(org: Organization, week: date, now: datetime) -> dict[str, str | None]:
    today = now.astimezone(org.tz).date()
    before, after = week - timedelta(days=7), week + timedelta(days=7)
    return {
        "previous": max(before, today).isoformat() if week > today else None,
        "next": after.isoformat() if after <= (now + org.policy.horizon).astimezone(org.tz).date() else None,
    }


# --- booking pages -----------------------------------------------------------------------------


@bp.route("/book/<slug>")
async def services(slug: str) -> Any:
    """The business's name and the services it offers, with price and length."""
    org, offered = await core().read_async(lambda uow: _catalogue(uow, slug))
    return await render_template("public/services.html", business=org, services=offered)


@bp.route("/book/<slug>/<uuid:service_id>")
async def slots(slug: str, service_id: UUID) -> Any:
    """A week of bookable times, in the visitor's zone and the business's."""
    app = core()
    now = app.clock.now()
    org, service, coach = await app.read_async(lambda uow: _with_coach(uow, slug, service_id))
    viewer = viewer_zone(request.args.get("tz"))
    week = _week(request.args.get("week"), org, now)
    found = await _slots(org, service, coach.id, week)
    return await render_template(
        "public/slots.html",
        business=org,
        service=service,
        days=by_day(found, org, viewer),
        week=week,
        links=_week_links(org, week, now),
        tz=viewer.key if viewer else "",
        wants_tz=True,
    )


#: Most days one public slots.json request may ask for.
MAX_PUBLIC_DAYS = 31


@bp.route("/book/<slug>/<uuid:service_id>/slots.json")
async def slots_json(slug: str, service_id: UUID) -> Any:
    """Bookable times as JSON for `days` (1-31, default 30) local days from `from` (a local date, default today).

    For booking widgets embedded elsewhere; times are UTC with the business's local label beside.
    """
    app = core()
    org, service, coach = await app.read_async(lambda uow: _with_coach(uow, slug, service_id))
    try:
        days = int(request.args.get("days", "30"))
        first = date.fromisoformat(request.args["from"]) if request.args.get("from") else None
    except ValueError:
        raise ValidationError("Use days=1..31 and from=YYYY-MM-DD.", field="days") from None
    if not 1 <= days <= MAX_PUBLIC_DAYS:
        raise ValidationError(f"Ask for 1 to {MAX_PUBLIC_DAYS} days of slots.", field="days")
    first = first or app.clock.now().astimezone(org.tz).date()
    start = datetime.combine(first, time(0), tzinfo=org.tz).astimezone(UTC)
    end = datetime.combine(first + timedelta(days=days), time(0), tzinfo=org.tz).astimezone(UTC)
    found = await app.execute_async(
        FindSlots(org_id=org.id, coach_id=coach.id, service_id=service.id, start=start, end=end)
    )
    return {
        "timezone": org.timezone,
        "items": [
            {
                "start": s.start.isoformat(),
                "end": s.end.isoformat(),
                "seats_left": s.seats_left,
                "local": label(s.start, org.tz),
            }
            for s in found
        ],
    }


@bp.route("/book/<slug>/<uuid:service_id>/book", methods=["GET", "POST"])
async def book(slug: str, service_id: UUID) -> Any:
    """The booking form for one slot; posting it books (once per form) and shows the confirmation."""
    org, service = await core().read_async(lambda uow: _offered_service(uow, slug, service_id))
    start = parse_start(request.args.get("start"))
    viewer = viewer_zone(request.args.get("tz"))
    form: Mapping[str, str] = {}
    error: CoachOSError | None = None
    key = uuid.uuid4().hex
    if request.method == "POST":
        form = await request.form
        key = form.get("idempotency_key") or key
        try:
            booking = await core().execute_async(
                BookAsGuest(
                    org_id=org.id,
                    service_id=service.id,
                    start=start,
                    name=form.get("name", ""),
                    phone=form.get("phone"),
                    email=form.get("email"),
                    sms_consent=form.get("sms_consent") == "yes",
                    consent_wording=SMS_WORDING,
                    idempotency_key=key,
                    timezone=viewer.key if viewer else None,
                )
            )
        except CoachOSError as exc:
            error = exc
            if isinstance(exc, Conflict) and not isinstance(exc, SlotUnavailable):
                key = uuid.uuid4().hex  # this form's key was spent on another booking
        else:
            token = manage_token(booking)
            return redirect(url_for("public.booked", slug=slug, token=token, tz=viewer.key if viewer else None))
    page = await render_template(
        "public/book.html",
        business=org,
        service=service,
        start=SlotLine(start, label(start, org.tz)),
        yours=your_time(start, org, viewer),
        tz=viewer.key if viewer else "",
        form=form,
        error=error,
        key=key,
        wording=SMS_WORDING,
        wants_tz=request.method == "GET",
    )
    return page, status_of(error) if error else 200


@bp.route("/book/<slug>/booked/<token>")
async def booked(slug: str, token: str) -> Any:
    """The confirmation: what was booked, when (in the business's zone) and the link to manage it."""
    org_id, booking_id = read_manage_token(token)
    held = await core().read_async(lambda uow: _held(uow, org_id, booking_id))
    if held.org.slug != slug:
        raise NotFound("This booking link is not valid or has expired; please contact your coach.")
    viewer = viewer_zone(request.args.get("tz")) or viewer_zone(held.client.timezone)
    return await render_template(
        "public/confirmation.html",
        h=held,
        when=label(held.booking.start, held.org.tz),
        yours=your_time(held.booking.start, held.org, viewer),
        manage_url=f"{settings().public_url}{url_for('public.manage', token=token)}",
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
    viewer = viewer_zone(request.args.get("tz")) or viewer_zone(held.client.timezone)
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
    held = await core().read_async(lambda uow: _held(uow, org_id, booking_id))
    try:
        await core().execute_async(
            CancelBooking(org_id=org_id, booking_id=booking_id, actor=Actor("client", held.client.id))
        )
    except CoachOSError as exc:
        return await _manage_page(token, exc)
    return redirect(url_for("public.manage", token=token))


@bp.route("/manage/<token>/reschedule", methods=["POST"])
async def reschedule(token: str) -> Any:
    """Move the booking to another free time (before the cancellation window); the link changes with it."""
    org_id, booking_id = read_manage_token(token)
    held = await core().read_async(lambda uow: _held(uow, org_id, booking_id))
    form = await request.form
    try:
        moved = await core().execute_async(
            RescheduleBooking(
                org_id=org_id,
                booking_id=booking_id,
                new_start=parse_start(form.get("new_start")),
                actor=Actor("client", held.client.id),
            )
        )
    except CoachOSError as exc:
        return await _manage_page(token, exc)
    return redirect(url_for("public.manage", token=manage_token(moved), moved=1, tz=form.get("tz") or None))


# --- calendar feeds ----------------------------------------------------------------------------


@bp.route("/ical/<token>.ics")
async def ical(token: str) -> Any:
    """A coach's bookings as an iCalendar feed (secret address; no contact details in it)."""
    feed = await core().execute_async(ReadCalendarFeed(token=token))
    cal = icalendar.Calendar()
    cal.add("prodid", "-//Coach OS//Calendar feed//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"{feed.org.name} · {feed.coach.name}")
    for entry in feed.entries:
        event = icalendar.Event()
        event.add("uid", str(entry.booking.id))
        event.add("dtstamp", feed.generated_at)
        event.add("dtstart", entry.booking.start.astimezone(UTC))
        event.add("dtend", entry.booking.end.astimezone(UTC))
        event.add("summary", entry.summary)
        event.add("status", "TENTATIVE" if entry.booking.status is BookingStatus.REQUESTED else "CONFIRMED")
        cal.add_component(event)
    response = Response(cal.to_ical(), mimetype="text/calendar")
    response.headers["Cache-Control"] = "private, max-age=300"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@bp.route("/settings/calendar-feed", methods=["GET", "POST"])
@login_required
async def calendar_feed() -> Any:
    """The coach's calendar feed address (shown when made) and a button to make a new one."""
    who = require_principal()
    app = core()
    if request.method == "POST":
        feed = await app.execute_async(RotateCalendarFeed(org_id=who.org_id, coach_id=who.coach_id))
    else:
        feed = await app.execute_async(CalendarFeedUrl(org_id=who.org_id, coach_id=who.coach_id))
    org = await app.read_async(lambda uow: uow.orgs.get(who.org_id))
    url = f"{settings().public_url}{url_for('public.ical', token=feed.secret)}" if feed.secret else None
    return await render_template(
        "public/calendar_feed.html",
        org=org,
        feed=feed,
        url=url,
        webcal=url.replace("https://", "webcal://").replace("http://", "webcal://") if url else None,
        rotated=request.method == "POST",
    )
