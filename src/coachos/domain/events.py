"""Domain events: facts recorded in the same transaction as the change (the outbox).

Events carry ids and times, never names, phones, emails or message text, so that whatever
consumes them (reminders, webhooks, the ledger, logs) cannot leak personal data by accident.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from coachos.domain.ids import BookingId, ClientId, CoachId, OrgId, PackageId, ServiceId


@attrs.frozen(kw_only=True)
class Event:
    """Something that happened in an organisation."""

    org_id: OrgId
    occurred_at: datetime
    actor: str

    @classmethod
    def type_name(cls) -> str:
        """The stable name events of this type are stored under."""
        return cls.__name__


@attrs.frozen(kw_only=True)
class OrganizationCreated(Event):
    """A new organisation signed up."""


@attrs.frozen(kw_only=True)
class CoachAdded(Event):
    """A coach joined the organisation."""

    coach_id: CoachId


@attrs.frozen(kw_only=True)
class ClientCreated(Event):
    """A client or lead was added."""

    client_id: ClientId


@attrs.frozen(kw_only=True)
class ClientUpdated(Event):
    """A client's details changed; `changed` names the fields (never their values)."""

    client_id: ClientId
    changed: tuple[str, ...]


@attrs.frozen(kw_only=True)
class ConsentRecorded(Event):
    """A client agreed to be contacted on `channel` (sms, email or marketing)."""

    client_id: ClientId
    channel: str


@attrs.frozen(kw_only=True)
class ConsentWithdrawn(Event):
    """A client withdrew consent to be contacted on `channel`."""

    client_id: ClientId
    channel: str


@attrs.frozen(kw_only=True)
class ServiceCreated(Event):
    """A bookable service was added."""

    service_id: ServiceId


@attrs.frozen(kw_only=True)
class ServiceUpdated(Event):
    """A service's name, length, price, capacity or activity changed (for new bookings)."""

    service_id: ServiceId
    changed: tuple[str, ...]


@attrs.frozen(kw_only=True)
class AvailabilityChanged(Event):
    """A coach's weekly hours or date overrides changed."""

    coach_id: CoachId


@attrs.frozen(kw_only=True)
class PackageSold(Event):
    """A client got a session package."""

    package_id: PackageId
    client_id: ClientId
    total: int
    price_minor: int
    currency: str


@attrs.frozen(kw_only=True)
class BookingEvent(Event):
    """Something happened to a booking."""

    booking_id: BookingId
    client_id: ClientId
    coach_id: CoachId
    service_id: ServiceId
    start: datetime


@attrs.frozen(kw_only=True)
class BookingRequested(BookingEvent):
    """A booking was made and awaits confirmation."""


@attrs.frozen(kw_only=True)
class BookingConfirmed(BookingEvent):
    """A booking was confirmed."""


@attrs.frozen(kw_only=True)
class BookingCancelled(BookingEvent):
    """A booking was cancelled; `late` when outside the cancellation window."""

    late: bool
    reason: str


@attrs.frozen(kw_only=True)
class BookingCompleted(BookingEvent):
    """The session took place."""


@attrs.frozen(kw_only=True)
class BookingNoShow(BookingEvent):
    """The client did not come."""


@attrs.frozen(kw_only=True)
class CreditUsed(Event):
    """A package credit was used for a booking."""

    package_id: PackageId
    booking_id: BookingId
    used: int
    total: int


@attrs.frozen(kw_only=True)
class CreditReturned(Event):
    """A package credit came back from a cancelled booking."""

    package_id: PackageId
    booking_id: BookingId
    used: int
    total: int


ALL_EVENTS: tuple[type[Event], ...] = (
    OrganizationCreated,
    CoachAdded,
    ClientCreated,
    ClientUpdated,
    ConsentRecorded,
    ConsentWithdrawn,
    ServiceCreated,
    ServiceUpdated,
    AvailabilityChanged,
    PackageSold,
    BookingRequested,
    BookingConfirmed,
    BookingCancelled,
    BookingCompleted,
    BookingNoShow,
    CreditUsed,
    CreditReturned,
)
