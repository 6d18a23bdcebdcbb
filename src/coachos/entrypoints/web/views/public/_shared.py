"""Time labels, signed manage links and the reads the public pages share."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from itertools import groupby
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import attrs
from itsdangerous import BadData, URLSafeTimedSerializer
from quart import current_app

from coachos.adapters.links import manage_serializer
from coachos.domain.availability import Slot
from coachos.domain.bookings import Booking
from coachos.domain.catalog import Service
from coachos.domain.clients import Channel
from coachos.domain.errors import NotFound, ValidationError
from coachos.domain.ids import BookingId, OrgId, ServiceId
from coachos.domain.orgs import Coach, Organization
from coachos.domain.timezones import check_date, day_start, label, require_utc, zone
from coachos.domain.usecases import (
    FindSlots,
)
from coachos.domain.usecases.public import first_active_coach
from coachos.entrypoints.web.context import core
from coachos.ports.storage import UnitOfWork

#: The words beside the reminders box; stored verbatim with the consent.
SMS_WORDING = "Text me reminders about my bookings"
#: The words beside the marketing boxes (each its own, never ticked in advance), stored verbatim with the consent.
MARKETING_WORDING: Mapping[Channel, str] = {
    Channel.SMS_MARKETING: "Send me marketing texts from {business} (offers and news); I can reply STOP at any time",
    Channel.EMAIL_MARKETING: (
        "Send me marketing emails from {business} (offers and news); I can unsubscribe at any time"
    ),
}


def marketing_wording(business: str) -> dict[str, str]:
    """The exact words of each marketing box for `business`, by the form field (the consent's channel)."""
    return {channel.value: words.format(business=business) for channel, words in MARKETING_WORDING.items()}


#: How long a manage link works (bookings are made at most the policy's horizon ahead).
MANAGE_LINK_AGE = timedelta(days=366)


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
    """An ISO 8601 instant from a form or link, as UTC (inside the dates Coach OS accepts)."""
    try:
        parsed = datetime.fromisoformat((text or "").strip())
    except ValueError:
        raise ValidationError("That time is not valid; please pick a slot again.", field="start") from None
    return require_utc(parsed, field="start")


def _week(text: str | None, org: Organization, now: datetime) -> date:
    """The week asked for in `?week=`: today for none or an unreadable one, refused outside the date window."""
    today = now.astimezone(org.tz).date()
    try:
        asked = date.fromisoformat(text or "")
    except ValueError:
        return today
    # A week's slots reach seven days past its first day, which must stay inside the window too.
    check_date(asked, field="week")
    check_date(asked + timedelta(days=7), field="week")
    return max(asked, today)


# --- the manage link ---------------------------------------------------------------------------


def _serializer() -> URLSafeTimedSerializer:
    return manage_serializer(current_app.config["COACHOS_SECRET"], core().clock)


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
    """A booking with what its public pages may show: never the stored client's name or contact details.

    Whoever holds the link may be a visitor who typed somebody else's email; they see the name
    they typed themselves, and nothing of the client the booking is held for.
    """

    org: Organization
    booking: Booking
    service: Service
    #: The visitor's zone: the one their browser gave when booking, else the client's on file.
    timezone: str | None

    @property
    def name(self) -> str | None:
        """The name typed on the public form, if the booking was made there."""
        return None if self.booking.guest is None else self.booking.guest.name


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
    guest = booking.guest
    return Held(
        org=uow.orgs.get(org_id),
        booking=booking,
        service=uow.services.get(org_id, booking.service_id),
        timezone=guest.timezone if guest is not None else uow.clients.get(org_id, booking.client_id).timezone,
    )


async def _slots(org: Organization, service: Service, coach_id: Any, week: date) -> list[Slot]:
    start, end = day_start(week, org.tz), day_start(week + timedelta(days=7), org.tz)
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
