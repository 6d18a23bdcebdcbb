"""Domain events: facts recorded in the same transaction as the change (the outbox).

Events carry ids and times, never names, phones, emails or message text, so that whatever
consumes them (reminders, webhooks, the ledger, logs) cannot leak personal data by accident.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

import attrs

from coachos.domain.ids import BookingId, ClientId, CoachId, OrgId, PackageId, ServiceId


@attrs.frozen(kw_only=True)
class Event:
    """Something that happened in an organisation."""

    #: The stable name events of this type are stored and routed under. Each concrete event
    #: names its own, so renaming a class orphans neither stored rows nor subscriptions.
    type_name: ClassVar[str]

    org_id: OrgId
    occurred_at: datetime
    actor: str


@attrs.frozen(kw_only=True)
class OrganizationCreated(Event):
    """A new organisation signed up."""

    type_name = "org.created"


@attrs.frozen(kw_only=True)
class CoachAdded(Event):
    """A coach joined the organisation."""

    type_name = "coach.added"

    coach_id: CoachId


@attrs.frozen(kw_only=True)
class ClientCreated(Event):
    """A client or lead was added."""

    type_name = "client.created"

    client_id: ClientId


@attrs.frozen(kw_only=True)
class ClientUpdated(Event):
    """A client's details changed; `changed` names the fields (never their values)."""

    type_name = "client.updated"

    client_id: ClientId
    changed: tuple[str, ...]


@attrs.frozen(kw_only=True)
class ConsentRecorded(Event):
    """A client agreed to be contacted on `channel` (a `Channel` value: sms, email, email_marketing, sms_marketing)."""

    type_name = "consent.recorded"

    client_id: ClientId
    channel: str


@attrs.frozen(kw_only=True)
class ConsentWithdrawn(Event):
    """A client withdrew consent to be contacted on `channel`."""

    type_name = "consent.withdrawn"

    client_id: ClientId
    channel: str


@attrs.frozen(kw_only=True)
class ServiceCreated(Event):
    """A bookable service was added."""

    type_name = "service.created"

    service_id: ServiceId


@attrs.frozen(kw_only=True)
class ServiceUpdated(Event):
    """A service's name, length, price, capacity or activity changed (for new bookings)."""

    type_name = "service.updated"

    service_id: ServiceId
    changed: tuple[str, ...]


@attrs.frozen(kw_only=True)
class AvailabilityChanged(Event):
    """A coach's weekly hours or date overrides changed."""

    type_name = "availability.changed"

    coach_id: CoachId


@attrs.frozen(kw_only=True)
class PackageSold(Event):
    """A client got a session package."""

    type_name = "package.sold"

    package_id: PackageId
    client_id: ClientId
    total: int
    price_minor: int
    currency: str


@attrs.frozen(kw_only=True)
class PackagePaid(Event):
    """A pending package was paid (by card through Stripe, or recorded as paid in cash or by bank transfer)."""

    type_name = "package.paid"

    package_id: PackageId
    client_id: ClientId
    #: How it was paid: card, cash or bank (a PaymentMethod value).
    method: str
    #: Stripe's PaymentIntent id for a card payment, else None.
    payment_ref: str | None = None


@attrs.frozen(kw_only=True)
class CardPaymentReceived(Event):
    """A client's card payment arrived on the coach's connected account and its sale is in the ledger.

    The worker then asks Stripe for its fee (`stripe_fees` consumer) and writes it next to the sale.
    """

    type_name = "payment.card_received"

    #: The ledger key of the sale the payment paid (e.g. ``sale:package:<id>``).
    sale_key: str
    #: Stripe's PaymentIntent (``pi_…``) or, for a membership period, its invoice (``in_…``).
    payment_ref: str
    #: The connected account the payment was made on (a direct charge).
    account_id: str


@attrs.frozen(kw_only=True)
class MembershipSubscriptionChanged(Event):
    """Stripe said a membership's subscription changed; the worker fetches it as it is now and applies that."""

    type_name = "membership.subscription_changed"

    membership_id: UUID
    subscription_id: str
    account_id: str


@attrs.frozen(kw_only=True)
class PlatformSubscriptionChanged(Event):
    """Stripe said a business's own Coach OS plan subscription changed; the worker fetches it as it is now."""

    type_name = "platform.subscription_changed"

    subscription_id: str
    plan_key: str


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

    type_name = "booking.requested"


@attrs.frozen(kw_only=True)
class BookingConfirmed(BookingEvent):
    """A booking was confirmed."""

    type_name = "booking.confirmed"


@attrs.frozen(kw_only=True)
class BookingCancelled(BookingEvent):
    """A booking was cancelled; `late` when outside the cancellation window."""

    type_name = "booking.cancelled"

    late: bool
    reason: str


@attrs.frozen(kw_only=True)
class BookingRescheduled(BookingEvent):
    """A booking was moved: `booking_id` and `start` are the new booking's, the previous ones it replaced.

    Emitted beside the previous booking's BookingCancelled (reason "rescheduled") and the new
    booking's BookingConfirmed or BookingRequested, so consumers can tell a move from a new booking.
    """

    type_name = "booking.rescheduled"

    previous_booking_id: BookingId
    previous_start: datetime


@attrs.frozen(kw_only=True)
class BookingCompleted(BookingEvent):
    """The session took place."""

    type_name = "booking.completed"


@attrs.frozen(kw_only=True)
class BookingNoShow(BookingEvent):
    """The client did not come."""

    type_name = "booking.no_show"


@attrs.frozen(kw_only=True)
class CreditUsed(Event):
    """A package credit was used for a booking."""

    type_name = "credit.used"

    package_id: PackageId
    booking_id: BookingId
    used: int
    total: int


@attrs.frozen(kw_only=True)
class CreditReturned(Event):
    """A package credit came back from a cancelled booking."""

    type_name = "credit.returned"

    package_id: PackageId
    booking_id: BookingId
    used: int
    total: int


@attrs.frozen(kw_only=True)
class MessageReceived(Event):
    """A message from a client (or an unknown sender) joined the business's conversations.

    Not emitted for keywords the inbound handler answers itself (STOP, START, HELP, …).
    """

    type_name = "message.received"

    message_id: UUID
    #: The client (or new lead) it came from; None if it could not be tied to one.
    client_id: ClientId | None = None


@attrs.frozen(kw_only=True)
class FormSubmitted(Event):
    """A client submitted a form; ids only, never answers (they may be health data)."""

    type_name = "form.submitted"

    client_id: ClientId
    form_id: UUID
    submission_id: UUID


@attrs.frozen(kw_only=True)
class ClearanceRecorded(Event):
    """A coach recorded a client's clearance after a screening; ids only."""

    type_name = "form.clearance_recorded"

    client_id: ClientId
    clearance_id: UUID


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
    PackagePaid,
    CardPaymentReceived,
    MembershipSubscriptionChanged,
    PlatformSubscriptionChanged,
    BookingRequested,
    BookingConfirmed,
    BookingCancelled,
    BookingRescheduled,
    BookingCompleted,
    BookingNoShow,
    CreditUsed,
    CreditReturned,
    MessageReceived,
    FormSubmitted,
    ClearanceRecorded,
)


def _by_type_name(events: tuple[type[Event], ...]) -> dict[str, type[Event]]:
    found: dict[str, type[Event]] = {}
    for t in events:
        name = t.__dict__.get("type_name")
        if not isinstance(name, str) or name in found:
            raise TypeError(f"{t.__name__} needs its own, unique type_name.")
        found[name] = t
    return found


#: Every event class by its stored type name (built at import: a missing or repeated name fails loudly).
EVENT_TYPES: dict[str, type[Event]] = _by_type_name(ALL_EVENTS)

#: Failures a delivery may have before it is dead-lettered.
MAX_ATTEMPTS = 8


@attrs.frozen(kw_only=True)
class Delivery:
    """One stored event claimed for one consumer."""

    event_id: UUID
    consumer: str
    attempts: int
    event: Event


@attrs.frozen(kw_only=True)
class DeadLetter:
    """A delivery that failed MAX_ATTEMPTS times and is no longer tried (until requeued)."""

    event_id: UUID
    event_type: str
    consumer: str
    attempts: int
    last_error: str
